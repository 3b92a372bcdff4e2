import { readFileSync, readlinkSync, realpathSync } from 'node:fs';

/**
 * True while `pid` is a live process. A zombie counts as dead: after a coordinator is SIGKILLed its
 * postgres is re-parented, and if the new parent never reaps it, kill(pid, 0) would go on
 * succeeding for a process that has long exited.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 (state) follows the parenthesised command name, which may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `pid` is gone; returns false if it is still alive after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

/** The parsed `postmaster.pid` of a PostgreSQL data directory. */
export interface PostmasterPid {
  pid: number;
  dataDir: string;
  port: number;
  /** `starting`, `ready`, `stopping` or `standby` (PostgreSQL 10+), or '' if not written yet. */
  status: string;
}

export function readPostmasterPid(file: string): PostmasterPid | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return {
    pid,
    dataDir: lines[1] ?? '',
    port: Number.parseInt(lines[3] ?? '', 10),
    status: (lines[7] ?? '').trim(),
  };
}

/**
 * Whether `pid` is a live postmaster serving `dataDir`. PostgreSQL chdirs into its data directory,
 * so on Linux /proc/<pid>/cwd identifies it even after the pid was reused by an unrelated process.
 * Where /proc cannot tell (not Linux, or no permission), a live pid counts as ours: wrongly
 * deleting the lock file of a running server is the worse mistake.
 */
export function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm !== 'postgres') return false;
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(dataDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return !existsProc() && isAlive(pid);
    return true;
  }
}

function existsProc(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}
