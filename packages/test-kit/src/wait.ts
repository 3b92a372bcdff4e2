// Waiting for a state instead of sleeping and reading it: the machine that runs the suite is busy,
// so a test polls until its condition holds, with a generous deadline and a message that names what
// it waited for (and, when given, the tails of the processes involved).

/** Thrown inside a probe to stop waiting at once (e.g. the process being waited on died). */
export class FatalWait extends Error {}

export interface WaitOptions {
  /** How long to wait before failing. Default 30_000 ms. */
  timeoutMs?: number;
  /** The pause between two probes. Default 50 ms. */
  everyMs?: number;
  /**
   * Appended to the timeout message, e.g. the tail of a process's output. Read only when the wait
   * fails. Default: nothing.
   */
  diagnostics?: () => string;
}

type Falsy = undefined | null | false;
/** A timeout in ms, or the options. */
export type WaitArg = number | WaitOptions;

const DEFAULTS = { timeoutMs: 30_000, everyMs: 50 } as const;

function resolve(defaults: WaitOptions, arg: WaitArg | undefined, everyMs?: number) {
  const given = typeof arg === 'number' ? { timeoutMs: arg } : (arg ?? {});
  return { ...DEFAULTS, ...defaults, ...given, ...(everyMs === undefined ? {} : { everyMs }) };
}

function timedOut(what: string, o: WaitOptions & { timeoutMs: number }, last: unknown): Error {
  const cause = last === undefined ? '' : `: ${last instanceof Error ? last.message : String(last)}`;
  const more = o.diagnostics ? `\n${o.diagnostics()}` : '';
  return new Error(`timed out after ${o.timeoutMs} ms waiting for ${what}${cause}${more}`);
}

async function poll<T>(
  what: string,
  probe: () => T | Falsy | Promise<T | Falsy>,
  o: ReturnType<typeof resolve>,
): Promise<T> {
  const end = Date.now() + o.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      // A probe's error is "not yet" (a port not listening yet, a row not written yet); it is named
      // in the timeout message. FatalWait is the way to fail at once.
      if (err instanceof FatalWait) throw err;
      last = err;
    }
    if (Date.now() > end) throw timedOut(what, o, last);
    await new Promise((r) => setTimeout(r, o.everyMs));
  }
}

/** The waits, with defaults for a whole test file (e.g. its process's output as diagnostics). */
export function waiter(defaults: WaitOptions = {}) {
  /**
   * Polls `probe` until it returns a truthy value and returns that value. `everyMs`, when given,
   * is the pause between probes (the demo fleet's and the bench's positional form).
   */
  function waitFor<T>(
    what: string,
    probe: () => T | Falsy | Promise<T | Falsy>,
    opts?: WaitArg,
    everyMs?: number,
  ): Promise<T> {
    return poll(what, probe, resolve(defaults, opts, everyMs));
  }
  /** Polls `cond` until it holds. */
  async function until(what: string, cond: () => boolean | Promise<boolean>, opts?: WaitArg): Promise<void> {
    await poll(what, async () => (await cond()) || undefined, resolve(defaults, opts));
  }
  /** Reads until `ok` holds for the value read and returns it; the timeout message names the last value. */
  async function untilValue<T>(
    what: string,
    read: () => T | Promise<T>,
    ok: (v: T) => boolean,
    opts?: WaitArg,
  ): Promise<T> {
    const o = resolve(defaults, opts);
    let last: { v: T } | undefined;
    const diagnostics = () =>
      [last ? `last value: ${JSON.stringify(last.v)}` : 'no value read', o.diagnostics?.()]
        .filter(Boolean)
        .join('\n');
    const got = await poll(
      what,
      async () => {
        last = { v: await read() };
        return ok(last.v) ? last : undefined;
      },
      { ...o, diagnostics },
    );
    return got.v;
  }
  return { waitFor, until, untilValue };
}

export const { waitFor, until, untilValue } = waiter();
