// What a test reads of a process on Linux: its resident memory (VmRSS of /proc/<pid>/status).
import { readFile } from 'node:fs/promises';

/** VmRSS of a live process, bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS line in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export const MiB = 1024 * 1024;
