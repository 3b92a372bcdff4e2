// The agent on a disk that fails under it: full (ENOSPC) and read-only (EROFS). A real tmpfs,
// mounted small or remounted read-only, is the failing disk (root only, as CI runs).
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rollgate/logger';
import { waiter } from '@rollgate/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { openJournal } from './actions/journal';
import { createSupervisor, isAlive, type Supervisor, type SupervisorEvent } from './processes/supervisor';

const log = createLogger({ name: 'test', level: 'silent' });
const { until } = waiter({ timeoutMs: 20_000, everyMs: 20 });
const mounts: string[] = [];
const cleanups: (() => void)[] = [];

/** A fresh tmpfs of `size` (e.g. '4k'), mounted on a new directory. */
async function smallDisk(size: string): Promise<string> {
  expect(process.getuid?.(), 'this test needs root: it mounts a tmpfs as the failing disk').toBe(0);
  const dir = await mkdtemp(join(tmpdir(), 'disk-faults-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  mounts.push(dir);
  return dir;
}

afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  // Every mount is let go even when one of them fails to (its error is thrown after).
  const failed: unknown[] = [];
  for (const dir of mounts.splice(0)) {
    try {
      execFileSync('umount', ['-l', dir]);
      await rm(dir, { recursive: true, force: true });
    } catch (err) {
      failed.push(err);
    }
  }
  if (failed.length > 0) throw failed[0];
});

describe('the agent on a failing disk', () => {
  it('a journal whose torn last line cannot be mended (disk full) fails to open, saying why, and throws nothing later', async () => {
    const disk = await smallDisk('4k');
    const path = join(disk, 'journal.jsonl');
    // A crash mid-write left a line without its newline, and the disk is now full to the byte.
    const torn = '{"t":"started","id":"a1","at":1,"ops":[]';
    await writeFile(path, torn + 'x'.repeat(4096 - torn.length));
    expect((await stat(path)).size).toBe(4096);
    await expect(openJournal({ path })).rejects.toMatchObject({ code: 'ENOSPC' });
    // Nothing of the failed open is left to reject on its own (vitest fails a test on one).
    await new Promise((r) => setTimeout(r, 100));
  });

  it('a service that exits while the disk is read-only is still reported, though its pid file stays', async () => {
    const dataDir = await smallDisk('1m');
    await chmod(dataDir, 0o755);
    await mkdir(join(dataDir, 'work'));
    const events: SupervisorEvent[] = [];
    const sup: Supervisor = createSupervisor({
      dataDir,
      baseEnv: {},
      log,
      onOutput: () => {},
      onExit: () => {},
      processOptions: () => ({
        restart: { policy: 'never', backoffMs: 10, maxBackoffMs: 10, maxRestarts: 1, windowMs: 60_000 },
      }),
      onEvent: (e) => events.push(e),
    });
    cleanups.push(() => sup.close());
    const rec = await sup.start('ro', {
      command: '/bin/sh',
      args: ['-c', 'exec sleep 1000'],
      cwd: join(dataDir, 'work'),
      env: { PATH: '/usr/bin:/bin' },
      edition: '1.0',
    });
    cleanups.push(() => {
      try {
        process.kill(-rec.pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    execFileSync('mount', ['-o', 'remount,ro', dataDir]);
    process.kill(-rec.pid, 'SIGKILL');
    await until('the exit reported', () => events.some((e) => e.service === 'ro'));
    expect(events[0]).toMatchObject({ kind: 'not-restarted', service: 'ro' });
    expect(events[0]!.detail).toMatch(/signal SIGKILL/);
    expect(await isAlive(rec.pid)).toBe(false);
    expect(sup.running('ro')).toBeUndefined();
    // The pid file could not be removed: the next agent reads it as "not running" (pid and start
    // time must both match), so leaving it is safe; failing on it hid the exit.
    expect((await stat(join(dataDir, 'run', 'ro.json'))).isFile()).toBe(true);
  });
});
