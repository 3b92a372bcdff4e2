// Follows a log file that a managed service writes to directly. The service gets the file as its
// stdout/stderr (not a pipe to the agent) so it keeps logging — and never dies of EPIPE — while the
// agent restarts; the agent reads new lines from here and ships them.
import { open, stat } from 'node:fs/promises';

export interface TailOptions {
  path: string;
  /** Called once per complete line (without the newline). */
  onLine: (line: string) => void;
  /** Poll interval, ms; default 200. */
  intervalMs?: number;
  /** Byte offset to start reading at; default: the current end of the file (only new lines). */
  startAt?: number;
  /** Longest line kept; longer ones are cut (a runaway line must not grow memory); default 16 KiB. */
  maxLine?: number;
}

export interface Tail {
  /** Reads what is new right now (also runs on the timer). */
  poll(): Promise<void>;
  stop(): void;
}

export async function tailFile(opts: TailOptions): Promise<Tail> {
  const maxLine = opts.maxLine ?? 16 * 1024;
  let offset = opts.startAt ?? 0;
  if (opts.startAt === undefined) {
    try {
      offset = (await stat(opts.path)).size;
    } catch {
      offset = 0;
    }
  }
  let partial = '';
  let busy = false;
  let stopped = false;

  async function poll(): Promise<void> {
    if (busy || stopped) return;
    busy = true;
    try {
      let size: number;
      try {
        size = (await stat(opts.path)).size;
      } catch {
        return;
      }
      if (size < offset) offset = 0; // truncated or replaced: start over
      if (size === offset) return;
      const fh = await open(opts.path, 'r');
      try {
        const len = Math.min(size - offset, 1024 * 1024);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        offset += bytesRead;
        const text = partial + buf.subarray(0, bytesRead).toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        if (partial.length > maxLine) {
          lines.push(partial.slice(0, maxLine));
          partial = '';
        }
        for (const line of lines)
          if (line.trim() !== '') opts.onLine(line.length > maxLine ? line.slice(0, maxLine) : line);
      } finally {
        await fh.close();
      }
    } finally {
      busy = false;
    }
  }

  const timer = setInterval(() => void poll().catch(() => {}), opts.intervalMs ?? 200);
  timer.unref();
  return {
    poll,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
