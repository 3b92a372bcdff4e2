// Follows a managed service's log file. The service's output reaches the file without passing
// through the agent (straight, or through its log relay, log-relay.ts) so it keeps logging — and
// never dies of EPIPE — while the agent restarts; the agent reads new lines from here and ships them.
//
// The file may be rotated under us (renamed to <path>.1, a new <path> opened): the tail keeps its
// handle on the file it was reading, finishes it, reads any whole file rotated past it since
// (<path>.k … <path>.1), and only then moves to the new <path>, so no line is skipped or read twice.
import { open, stat, type FileHandle } from 'node:fs/promises';

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
  /** Rotated files (<path>.1 …) to look through after a rotation; default 20. */
  maxRotated?: number;
}

export interface Tail {
  /** Reads what is new right now (also runs on the timer). */
  poll(): Promise<void>;
  stop(): void;
}

const CHUNK = 1024 * 1024;

async function inode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch {
    return undefined;
  }
}

export async function tailFile(opts: TailOptions): Promise<Tail> {
  const maxLine = opts.maxLine ?? 16 * 1024;
  const maxRotated = opts.maxRotated ?? 20;
  let fh: FileHandle | undefined;
  let ino: number | undefined;
  let offset = 0;
  let partial = '';
  let busy = false;
  let stopped = false;

  function emit(text: string) {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    if (partial.length > maxLine) {
      lines.push(partial.slice(0, maxLine));
      partial = '';
    }
    for (const line of lines)
      if (line.trim() !== '') opts.onLine(line.length > maxLine ? line.slice(0, maxLine) : line);
  }

  /** Reads the handle from offset to its end (in chunks); returns the new offset. */
  async function drain(h: FileHandle, from: number): Promise<number> {
    let at = from;
    let size = (await h.stat()).size;
    if (size < at) at = 0; // truncated in place: start over
    while (at < size) {
      const len = Math.min(size - at, CHUNK);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await h.read(buf, 0, len, at);
      if (bytesRead === 0) break;
      at += bytesRead;
      emit(buf.subarray(0, bytesRead).toString('utf8'));
      if (at >= size) size = (await h.stat()).size;
    }
    return at;
  }

  async function openCurrent(from: number | 'end'): Promise<void> {
    try {
      fh = await open(opts.path, 'r');
    } catch {
      fh = undefined;
      ino = undefined;
      return;
    }
    const st = await fh.stat();
    ino = st.ino;
    offset = from === 'end' ? st.size : Math.min(from, st.size);
  }

  /** Whole files rotated past the one we held (newest last), read in the order they were written. */
  async function readRotatedSince(oldIno: number): Promise<void> {
    const between: string[] = [];
    for (let k = 1; k <= maxRotated; k++) {
      const i = await inode(`${opts.path}.${k}`);
      if (i === undefined || i === oldIno) break;
      between.push(`${opts.path}.${k}`);
    }
    for (const p of between.reverse()) {
      const h = await open(p, 'r').catch(() => undefined);
      if (!h) continue;
      try {
        await drain(h, 0);
      } finally {
        await h.close();
      }
    }
  }

  async function poll(): Promise<void> {
    if (busy || stopped) return;
    busy = true;
    try {
      if (!fh) {
        await openCurrent(0);
        if (!fh) return;
      }
      const now = await inode(opts.path);
      if (now !== undefined && now !== ino) {
        // Rotated: the writer has closed the old file for good; finish it, then what came after.
        offset = await drain(fh, offset);
        await fh.close();
        fh = undefined;
        if (ino !== undefined) await readRotatedSince(ino);
        await openCurrent(0);
        if (!fh) return;
      }
      offset = await drain(fh, offset);
    } finally {
      busy = false;
    }
  }

  await openCurrent(opts.startAt ?? 'end');
  const timer = setInterval(() => void poll().catch(() => {}), opts.intervalMs ?? 200);
  timer.unref();
  return {
    poll,
    stop() {
      stopped = true;
      clearInterval(timer);
      void fh?.close().catch(() => {});
      fh = undefined;
    },
  };
}
