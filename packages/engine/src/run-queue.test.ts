import { describe, expect, it } from 'vitest';
import { createRunQueue } from './run-queue';

describe('run queue: settled (a live view reads once the engine is done moving a run)', () => {
  it('settles at once for a run with nothing queued', async () => {
    await createRunQueue().settled('r1');
  });

  it('settles only after what is queued, and what is queued meanwhile, has run; other runs do not hold it', async () => {
    const q = createRunQueue();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    void q.serial('r1', async () => {
      await gate;
      order.push('first');
      // Queued while the first runs (an evaluation an agent report asks for): settled waits for it too.
      void q.serial('r1', async () => {
        await new Promise((r) => setTimeout(r, 10));
        order.push('second');
      });
    });
    void q.serial('r2', () => new Promise<void>(() => {})); // never ends
    const settled = q.settled('r1').then(() => order.push('settled'));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    release();
    await settled;
    expect(order).toEqual(['first', 'second', 'settled']);
    expect(q.busy('r1')).toBe(false);
  });

  it('a failed change settles the run too', async () => {
    const q = createRunQueue();
    await q.serial('r1', () => Promise.reject(new Error('boom'))).catch(() => undefined);
    await q.settled('r1');
    expect(q.busy('r1')).toBe(false);
  });
});
