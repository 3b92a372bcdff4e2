import { describe, expect, it } from 'vitest';
import { FatalWait, until, untilValue, waitFor, waiter } from './wait';

describe('waitFor', () => {
  it('returns the first truthy value the probe gives', async () => {
    let n = 0;
    await expect(
      waitFor('the third probe', () => (++n >= 3 ? `probe ${n}` : false), { everyMs: 1 }),
    ).resolves.toBe('probe 3');
  });

  it('counts a probe error as "not yet" and names the last one in the timeout message', async () => {
    let n = 0;
    await expect(
      waitFor(
        'the port to listen',
        () => {
          throw new Error(`ECONNREFUSED #${++n}`);
        },
        { timeoutMs: 30, everyMs: 1 },
      ),
    ).rejects.toThrow(/^timed out after 30 ms waiting for the port to listen: ECONNREFUSED #\d+$/);
    expect(n).toBeGreaterThan(1);
  });

  it('fails at once on FatalWait, with its message', async () => {
    let n = 0;
    await expect(
      waitFor(
        'the process',
        () => {
          n++;
          throw new FatalWait('the process exited with 1');
        },
        { timeoutMs: 60_000 },
      ),
    ).rejects.toThrow('the process exited with 1');
    expect(n).toBe(1);
  });

  it("appends the waiter's diagnostics to the timeout message", async () => {
    const w = waiter({ timeoutMs: 20, everyMs: 1, diagnostics: () => '--- haproxy ---\nalert: no backend' });
    await expect(w.waitFor('a backend UP', () => null)).rejects.toThrow(
      'timed out after 20 ms waiting for a backend UP\n--- haproxy ---\nalert: no backend',
    );
  });

  it('takes a timeout in ms, options, or the positional pace of the demo fleet', async () => {
    await expect(waitFor('never', () => false, 15)).rejects.toThrow(
      'timed out after 15 ms waiting for never',
    );
    await expect(waitFor('never', () => undefined, { timeoutMs: 16 })).rejects.toThrow('after 16 ms');
    let n = 0;
    await expect(waitFor('the second probe', () => ++n === 2, 5_000, 1)).resolves.toBe(true);
  });
});

describe('until', () => {
  it('resolves once the condition holds, sync or async', async () => {
    let n = 0;
    await until('three ticks', () => ++n >= 3, { everyMs: 1 });
    expect(n).toBe(3);
    await until('an async yes', async () => true);
  });

  it('names what it waited for when it times out', async () => {
    await expect(until('the gate to open', () => false, { timeoutMs: 10, everyMs: 1 })).rejects.toThrow(
      'timed out after 10 ms waiting for the gate to open',
    );
  });
});

describe('untilValue', () => {
  it('returns the value that holds, even a falsy one', async () => {
    let n = 3;
    await expect(
      untilValue(
        'zero',
        () => --n,
        (v) => v === 0,
        { everyMs: 1 },
      ),
    ).resolves.toBe(0);
  });

  it('names the last value read when it times out', async () => {
    await expect(
      untilValue(
        'the run to succeed',
        async () => ({ status: 'running' }),
        (r) => r.status === 'succeeded',
        {
          timeoutMs: 10,
          everyMs: 1,
        },
      ),
    ).rejects.toThrow(
      'timed out after 10 ms waiting for the run to succeed\nlast value: {"status":"running"}',
    );
  });
});
