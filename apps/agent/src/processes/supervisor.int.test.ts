// Real child processes: SIGTERM → SIGKILL escalation, output capture, pid-file re-adoption.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rollgate/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSupervisor, isAlive, type PidRecord } from './supervisor';
import { waiter } from '@rollgate/test-kit';

const log = createLogger({ name: 'test', level: 'silent' });
let dataDir: string;
const started: number[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'supervisor-'));
});
afterAll(async () => {
  for (const pid of started) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

const { until } = waiter({ timeoutMs: 5000, everyMs: 20 });

/** A process's niceness, from /proc/<pid>/stat (field 19). */
async function nicenessOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('supervisor', () => {
  it('issue 18: from an agent that runs 5 below niceness 0, a service (and its command) starts 5 above the agent (docs/adr/0047)', async () => {
    const own = getPriority();
    const sup = createSupervisor({
      dataDir,
      baseEnv: {},
      log,
      onOutput: () => {},
      onExit: () => {},
      agentNiceness: own - 5,
    });
    const rec = await sup.start('niced', {
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      cwd: dataDir,
      env: {},
      edition: '1.0',
    });
    started.push(rec.pid);
    expect(await nicenessOf(rec.pid)).toBe(own + 5);
    const cmd = await sup.runCommand(
      'niced',
      {
        command: '/bin/sh',
        args: ['-c', 'cut -d" " -f19 /proc/$$/stat'],
        cwd: dataDir,
        env: {},
      },
      10_000,
    );
    expect(cmd.lastLine).toBe(String(own + 5));
    await sup.stop('niced', 2000);
    sup.close();
  });

  it('ships output, SIGKILLs a process that ignores SIGTERM after the timeout', async () => {
    const lines: string[] = [];
    const sup = createSupervisor({
      dataDir,
      baseEnv: {},
      log,
      onOutput: (_s, l) => lines.push(l),
      onExit: () => {},
    });
    const rec = await sup.start('stubborn', {
      command: process.execPath,
      args: [
        '-e',
        "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000)",
      ],
      cwd: dataDir,
      env: {},
      edition: '1.0',
    });
    started.push(rec.pid);
    await until("the process's 'up' line", () => lines.includes('up'));
    const r = await sup.stop('stubborn', 300);
    expect(r).toMatchObject({ alreadyStopped: false, killed: true });
    expect(r.ms).toBeGreaterThanOrEqual(300);
    expect(await isAlive(rec.pid)).toBe(false);
    expect(lines).toContain('ignoring SIGTERM');
    expect(await readFile(join(dataDir, 'logs', 'stubborn.log'), 'utf8')).toContain('up\n');
    expect(await sup.stop('stubborn', 300)).toMatchObject({ alreadyStopped: true });
    sup.close();
  });

  it('re-adopts a running process from its pid file, but not a recycled pid', async () => {
    const sup1 = createSupervisor({ dataDir, baseEnv: {}, log, onOutput: () => {}, onExit: () => {} });
    const rec = await sup1.start('svc', {
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      cwd: dataDir,
      env: {},
      edition: '2.0',
    });
    started.push(rec.pid);
    sup1.close(); // the agent goes away; the service stays

    const sup2 = createSupervisor({ dataDir, baseEnv: {}, log, onOutput: () => {}, onExit: () => {} });
    expect(await sup2.adopt('svc')).toMatchObject({ pid: rec.pid, edition: '2.0' });
    expect(await sup2.stop('svc', 2000)).toMatchObject({ alreadyStopped: false, killed: false });
    await until('the process to be gone', async () => !(await isAlive(rec.pid)));

    // A pid file naming a live process with another start time is someone else's process.
    const fake: PidRecord = { pid: process.pid, startTime: '1', edition: '1.0', startedAt: 0 };
    await writeFile(join(dataDir, 'run', 'other.json'), JSON.stringify(fake));
    expect(await sup2.adopt('other')).toBeUndefined();
    sup2.close();
  });

  it('runs a command with a timeout, killing its process group', async () => {
    const sup = createSupervisor({ dataDir, baseEnv: {}, log, onOutput: () => {}, onExit: () => {} });
    const r = await sup.runCommand(
      'svc',
      {
        // sh, not node: it prints before the timeout even on a loaded machine (node takes longer to start).
        command: '/bin/sh',
        args: ['-c', 'echo working; exec sleep 1000'],
        cwd: dataDir,
        env: {},
      },
      1000,
    );
    expect(r).toMatchObject({ timedOut: true, lastLine: 'working' });
    const ok = await sup.runCommand(
      'svc',
      {
        command: 'sh',
        args: ['-c', 'echo one; echo two >&2; exit 0'],
        cwd: dataDir,
        env: { PATH: '/usr/bin:/bin' },
      },
      5000,
    );
    expect(ok).toMatchObject({ code: 0, timedOut: false });
    sup.close();
  });
});
