// The `process` manager with real processes (issue 14.3, issue 18.3): a service run as its own
// user, its log rotated by size, crashes restarted with back-off until a crash loop is given up,
// a purposeful stop left stopped, and the port check as a connect probe.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rollgate/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LOG_ROTATION } from './log-relay';
import { isPortListening } from '../rotation/port-probe';
import {
  createSupervisor,
  isAlive,
  type ProcessOptions,
  type Supervisor,
  type SupervisorEvent,
} from './supervisor';
import { createConnectionCounter, createListenCheck } from '../rotation/tcp-connections';
import { waiter } from '@rollgate/test-kit';

const log = createLogger({ name: 'test', level: 'silent' });
const SERVICE_USER = 'rollgate-svc';
let dataDir: string;
const sups: Supervisor[] = [];
const pids: number[] = [];

const { until } = waiter({ timeoutMs: 20_000, everyMs: 20 });

function supervisor(
  options: Record<string, ProcessOptions>,
  events: SupervisorEvent[] = [],
  lines?: string[],
) {
  const sup = createSupervisor({
    dataDir,
    baseEnv: {},
    log,
    onOutput: (_s, l) => lines?.push(l),
    onExit: () => {},
    processOptions: (s) => options[s],
    onEvent: (e) => events.push(e),
  });
  sups.push(sup);
  return sup;
}

const sh = (script: string) => ({
  command: '/bin/sh',
  args: ['-c', script],
  cwd: dataDir,
  env: { PATH: '/usr/bin:/bin' },
  edition: '1.0',
});

/** Uid and gid lines of /proc/<pid>/status: [real, effective, saved, filesystem]. */
async function ids(pid: number): Promise<{ uid: number[]; gid: number[] }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    (/^(\w+):\s+(.*)$/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? '')
      .split(/\s+/)
      .map(Number);
  return { uid: field('Uid'), gid: field('Gid') };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'process-manager-'));
  // The service's user must reach its working directory (mkdtemp makes it 0700).
  await chmod(dataDir, 0o755);
});
afterAll(async () => {
  for (const s of sups) s.close();
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('process manager: run as its own user (issue 14.3)', () => {
  it('runs the service as another user and group; its log file is theirs, the pid file the agent’s', async () => {
    // CI runs as root here; this test must fail, not skip, when it cannot do what it says.
    expect(process.getuid?.(), 'this test needs root: the agent switches users only as root').toBe(0);
    try {
      execFileSync('id', ['-u', SERVICE_USER], { stdio: 'ignore' });
    } catch {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER]);
    }
    const uid = Number(execFileSync('id', ['-u', SERVICE_USER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', SERVICE_USER], { encoding: 'utf8' }).trim());
    expect(uid).toBeGreaterThan(0);

    const lines: string[] = [];
    const sup = supervisor({ 'as-user': { user: SERVICE_USER } }, [], lines);
    const rec = await sup.start('as-user', sh('echo "uid $(id -u) user $USER"; exec sleep 1000'));
    pids.push(rec.pid);
    await until('the service’s first line', () => lines.some((l) => l.startsWith('uid ')));
    expect(lines).toContain(`uid ${uid} user ${SERVICE_USER}`);
    const st = await ids(rec.pid);
    expect(st.uid).toEqual([uid, uid, uid, uid]);
    expect(st.gid).toEqual([gid, gid, gid, gid]);
    const logStat = await stat(join(dataDir, 'logs', 'as-user.log'));
    expect([logStat.uid, logStat.gid]).toEqual([uid, gid]);
    const pidStat = await stat(join(dataDir, 'run', 'as-user.json'));
    expect(pidStat.uid).toBe(0);
    expect(await sup.stop('as-user', 5000)).toMatchObject({ alreadyStopped: false, killed: false });
  });

  it('refuses a user that does not exist, saying so', async () => {
    const sup = supervisor({ ghost: { user: 'no-such-user-rg' } });
    await expect(sup.start('ghost', sh('exec sleep 1000'))).rejects.toThrow(
      /user "no-such-user-rg" does not exist on this server.*useradd/,
    );
    expect(sup.running('ghost')).toBeUndefined();
  });
});

describe('process manager: the log relay starts after the service (issue 18, docs/adr/0057)', () => {
  it("writes the service's stdout and stderr, each line whole, and ends with the service", async () => {
    const lines: string[] = [];
    const sup = supervisor({ both: {} }, [], lines);
    const script =
      'i=1; while [ $i -le 200 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; exec sleep 1000';
    const rec = await sup.start('both', sh(script));
    pids.push(rec.pid);
    // The relay is its own process, started after the service: a later pid (pids are handed out in
    // order; unless they wrapped at pid_max in between) and start tick.
    const pidMax = Number(await readFile('/proc/sys/kernel/pid_max', 'utf8'));
    const wrapped = rec.logPid! < rec.pid && rec.pid > pidMax - 1000;
    if (!wrapped) expect(rec.logPid).toBeGreaterThan(rec.pid);
    expect(Number(rec.logStartTime)).toBeGreaterThanOrEqual(Number(rec.startTime));
    const file = join(dataDir, 'logs', 'both.log');
    await until(
      '400 lines in the log file',
      async () => (await readFile(file, 'utf8').catch(() => '')).split('\n').length > 400,
    );
    const written = (await readFile(file, 'utf8')).trimEnd().split('\n');
    const expected = Array.from({ length: 200 }, (_, i) => [`out ${i + 1}`, `err ${i + 1}`]).flat();
    expect([...written].sort()).toEqual([...expected].sort());
    // Each stream's lines keep their order.
    expect(written.filter((l) => l.startsWith('out '))).toEqual(expected.filter((l) => l.startsWith('out ')));
    expect(written.filter((l) => l.startsWith('err '))).toEqual(expected.filter((l) => l.startsWith('err ')));
    await until('the lines shipped too', () => lines.length >= 400);
    // Stopped: the relay reaches the end of both pipes and leaves.
    expect(await sup.stop('both', 5000)).toMatchObject({ alreadyStopped: false });
    expect(await isAlive(rec.logPid!, rec.logStartTime ?? null)).toBe(false);
  });
});

describe('process manager: log rotation (issue 14.3)', () => {
  it('rotates the log past maxBytes, keeps `keep` files, every line once and in order', async () => {
    const rotation = { maxBytes: 4096, keep: 3 };
    const lines: string[] = [];
    const sup = supervisor({ chatty: { log: rotation } }, [], lines);
    const go = join(dataDir, 'go');
    // 1300 lines of 11 bytes (~14 KB: three rotations, nothing dropped), then on a signal from the
    // test 700 more: the oldest file goes, `keep` files remain.
    const rec = await sup.start(
      'chatty',
      sh(
        `i=1; while [ $i -le 1300 ]; do printf 'line %05d\\n' $i; i=$((i+1)); done; ` +
          `while [ ! -f ${go} ]; do sleep 0.05; done; ` +
          `while [ $i -le 2000 ]; do printf 'line %05d\\n' $i; i=$((i+1)); done; exec sleep 1000`,
      ),
    );
    pids.push(rec.pid);
    const want = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, k) => `line ${String(from + k).padStart(5, '0')}`);
    const logFile = join(dataDir, 'logs', 'chatty.log');
    const onDisk = async () => {
      const names = (await readdir(join(dataDir, 'logs'))).filter((n) => n.startsWith('chatty.log'));
      const files = [...names].sort((a, b) => Number(b.split('.').pop()) - Number(a.split('.').pop()));
      // Oldest first: chatty.log.3, .2, .1, then chatty.log (whose suffix "log" sorts as NaN: last).
      const ordered = [...files.filter((f) => f !== 'chatty.log'), 'chatty.log'];
      const texts = await Promise.all(ordered.map((f) => readFile(join(dataDir, 'logs', f), 'utf8')));
      const sizes = await Promise.all(ordered.map(async (f) => (await stat(join(dataDir, 'logs', f))).size));
      return { names: ordered, sizes, lines: texts.join('').split('\n').filter(Boolean) };
    };

    await until('1300 lines shipped', () => lines.length >= 1300);
    let disk = await onDisk();
    expect(disk.names).toEqual(['chatty.log.3', 'chatty.log.2', 'chatty.log.1', 'chatty.log']);
    expect(disk.lines).toEqual(want(1, 1300));
    for (const size of disk.sizes) expect(size).toBeLessThanOrEqual(rotation.maxBytes);

    await writeFile(go, '');
    await until('2000 lines shipped', () => lines.length >= 2000);
    disk = await onDisk();
    expect(disk.names).toEqual(['chatty.log.3', 'chatty.log.2', 'chatty.log.1', 'chatty.log']);
    for (const size of disk.sizes) expect(size).toBeLessThanOrEqual(rotation.maxBytes);
    // The oldest lines left with the dropped file; what is kept is contiguous and ends at the last.
    const first = Number(disk.lines[0]!.slice(5));
    expect(first).toBeGreaterThan(1);
    expect(disk.lines).toEqual(want(first, 2000));
    // The agent shipped every line once, in order, across the rotations.
    expect(lines).toEqual(want(1, 2000));
    expect((await stat(logFile)).size).toBeLessThanOrEqual(rotation.maxBytes);
    await sup.stop('chatty', 5000);
  });

  it('writes a line longer than maxBytes whole, in a file of its own', async () => {
    const lines: string[] = [];
    const sup = supervisor({ wide: { log: { maxBytes: 4096, keep: 2 } } }, [], lines);
    const rec = await sup.start(
      'wide',
      sh(`echo before; head -c 10000 /dev/zero | tr '\\0' x; echo; echo after; exec sleep 1000`),
    );
    pids.push(rec.pid);
    await until('the line after the long one', () => lines.includes('after'));
    const read = (f: string) => readFile(join(dataDir, 'logs', f), 'utf8');
    expect(await read('wide.log.2')).toBe('before\n');
    expect(await read('wide.log.1')).toBe(`${'x'.repeat(10_000)}\n`);
    expect(await read('wide.log')).toBe('after\n');
    expect(lines).toEqual(['before', 'x'.repeat(10_000), 'after']);
    await sup.stop('wide', 5000);
  });

  it('defaults to 10 MiB × 5 files', () => {
    expect(DEFAULT_LOG_ROTATION).toEqual({ maxBytes: 10 * 1024 * 1024, keep: 5 });
  });
});

describe('process manager: restart policy (issue 14.3)', () => {
  const policy = {
    policy: 'on-failure' as const,
    backoffMs: 50,
    // Also the run after which the delay starts over: long, so a busy machine keeps the doubling.
    maxBackoffMs: 60_000,
    maxRestarts: 3,
    windowMs: 600_000,
  };

  it('restarts a killed service with growing back-off, then gives up on a crash loop and reports it', async () => {
    const events: SupervisorEvent[] = [];
    const sup = supervisor({ crashy: { restart: policy } }, events);
    let rec = await sup.start('crashy', sh('echo up; exec sleep 1000'));
    pids.push(rec.pid);
    for (let n = 1; n <= 3; n++) {
      const old = rec.pid;
      process.kill(old, 'SIGKILL');
      await until(`restart ${n}`, () => events.filter((e) => e.kind === 'restarted').length === n);
      rec = sup.running('crashy')!;
      pids.push(rec.pid);
      expect(rec.pid).not.toBe(old);
      expect(await isAlive(rec.pid, rec.startTime)).toBe(true);
    }
    const crashes = events.filter((e) => e.kind === 'crashed');
    // The policy's delays double: 50, 100, 200 ms (the figures it chose, not measured durations).
    expect(crashes.map((e) => e.delayMs)).toEqual([50, 100, 200]);
    expect(crashes[0]!.detail).toMatch(/exited on its own with signal SIGKILL/);
    expect(sup.restartState('crashy')).toMatchObject({ restarts: 3, total: 3, crashLoop: false });

    process.kill(rec.pid, 'SIGKILL');
    await until('the crash loop report', () => events.some((e) => e.kind === 'crash-loop'));
    const loop = events.find((e) => e.kind === 'crash-loop')!;
    expect(loop.detail).toMatch(/crash loop: it was restarted 3 times within 600\.0 s, giving up/);
    expect(sup.running('crashy')).toBeUndefined();
    expect(sup.restartState('crashy')).toMatchObject({ crashLoop: true, pending: false, total: 3 });

    // A start asked for clears the crash loop.
    rec = await sup.start('crashy', sh('exec sleep 1000'));
    pids.push(rec.pid);
    expect(sup.restartState('crashy')).toMatchObject({ crashLoop: false, restarts: 0 });
    await sup.stop('crashy', 5000);
  });

  it('restarts a re-adopted service (after an agent restart) that dies, from its kept start spec', async () => {
    const first = supervisor({ adopted: { restart: policy } });
    const rec = await first.start('adopted', sh('echo up; exec sleep 1000'));
    pids.push(rec.pid);
    first.close(); // the agent goes away; the service stays

    const events: SupervisorEvent[] = [];
    const second = supervisor({ adopted: { restart: policy } }, events);
    expect(await second.adopt('adopted')).toMatchObject({ pid: rec.pid });
    process.kill(rec.pid, 'SIGKILL');
    // Not our child: the death is seen by the health poll (refresh), with no exit status.
    await until('the restart of the adopted service', async () => {
      await second.refresh('adopted');
      return events.some((e) => e.kind === 'restarted');
    });
    expect(events.find((e) => e.kind === 'crashed')!.detail).toMatch(/an unknown status/);
    const now = second.running('adopted')!;
    pids.push(now.pid);
    expect(now.pid).not.toBe(rec.pid);
    expect(await isAlive(now.pid, now.startTime)).toBe(true);
    await second.stop('adopted', 5000);
  });

  it('does not restart a service whose edition directory went away while the restart waited', async () => {
    const events: SupervisorEvent[] = [];
    const sup = supervisor({ gone: { restart: { ...policy, backoffMs: 300 } } }, events);
    const dir = await mkdtemp(join(dataDir, 'edition-'));
    const rec = await sup.start('gone', { ...sh('exec sleep 1000'), cwd: dir });
    pids.push(rec.pid);
    process.kill(rec.pid, 'SIGKILL');
    await rm(dir, { recursive: true });
    await until('the not-restarted report', () => events.some((e) => e.kind === 'not-restarted'));
    expect(events.map((e) => e.kind)).toEqual(['crashed', 'not-restarted']);
    expect(events[1]!.detail).toMatch(/its directory .* is gone/);
    expect(sup.running('gone')).toBeUndefined();
  });

  it('does not restart a service the agent stopped on purpose, even with policy "always"', async () => {
    const events: SupervisorEvent[] = [];
    const sup = supervisor({ steady: { restart: { ...policy, policy: 'always', backoffMs: 10 } } }, events);
    const rec = await sup.start('steady', sh('exec sleep 1000'));
    pids.push(rec.pid);
    expect(await sup.stop('steady', 5000)).toMatchObject({ alreadyStopped: false });
    // Let the child's exit event be delivered (a command runs to its end in between).
    await sup.runCommand('steady', { command: '/bin/true', args: [], cwd: dataDir, env: {} }, 5000);
    expect(await isAlive(rec.pid)).toBe(false);
    expect(sup.running('steady')).toBeUndefined();
    expect(sup.restartState('steady')).toMatchObject({ pending: false, total: 0 });
    expect(events).toEqual([]);
  });

  it('with "on-failure", a clean exit is reported and not restarted', async () => {
    const events: SupervisorEvent[] = [];
    const sup = supervisor({ once: { restart: { ...policy, backoffMs: 10 } } }, events);
    await sup.start('once', sh('echo bye; exit 0'));
    await until('the exit report', () => events.length > 0);
    expect(events[0]).toMatchObject({ kind: 'not-restarted', service: 'once' });
    expect(events[0]!.detail).toMatch(/exit code 0.*not restarted \(restart policy "on-failure"\)/);
    expect(sup.restartState('once').pending).toBe(false);
  });
});

describe('port check without /proc/net/tcp (issue 18.3)', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((s) => s.on('error', () => {}));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('a connect probe tells a listening port from a free one', async () => {
    expect(await isPortListening(port)).toBe(true);
    expect(await createListenCheck()(port)).toBe(true);
    const other = createServer();
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const free = (other.address() as { port: number }).port;
    await new Promise<void>((r) => other.close(() => r()));
    expect(await isPortListening(free)).toBe(false);
    expect(await createListenCheck({ hostsFor: () => ['127.0.0.1'] })(free)).toBe(false);
  });

  it('ss counts the port’s ESTABLISHED connections as the /proc scan does', async () => {
    const ss = createConnectionCounter({ method: 'ss' });
    const scan = createConnectionCounter({ method: 'proc' });
    const clients: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const c = connect({ port, host: '127.0.0.1' });
      await new Promise<void>((r) => c.once('connect', () => r()));
      clients.push(c);
    }
    await until('3 connections seen by ss', async () => (await ss(port)) === 3);
    expect(await scan(port)).toBe(3);
    for (const c of clients) c.destroy();
    await until('0 connections seen by ss', async () => (await ss(port)) === 0);
    expect(await scan(port)).toBe(0);
  });
});
