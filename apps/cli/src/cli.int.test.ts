/**
 * The real `rollgate` binary, as a child process, against a real tRPC HTTP server running the
 * coordinator's router over fake services. Checks what scripts depend on: stdout, stderr and exit codes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApi, type FakeApi } from './testing/fake-api';

const BIN = fileURLToPath(new URL('../bin/rollgate.mjs', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function rollgate(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  // A clean environment: an operator's ROLLGATE_URL must not leak into the test.
  const { ROLLGATE_URL: _drop, ...base } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...base, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A loopback port nobody listens on: bind one, note it, release it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

// ANSI escape: output to a pipe must never carry colour.
const ESC = '\x1b[';

describe('rollgate CLI against a real tRPC server', () => {
  let api: FakeApi;
  let tmp: string;
  const cli = (...args: string[]) => rollgate(['--url', api.url, ...args]);

  beforeAll(async () => {
    api = await startFakeApi();
    tmp = await mkdtemp(path.join(tmpdir(), 'rollgate-cli-'));
  });
  afterAll(async () => {
    await api?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('servers --json prints JSON only', async () => {
    const r = await cli('servers', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const servers = JSON.parse(r.stdout) as { id: string; gateOpen: boolean }[];
    expect(servers.map((s) => s.id)).toEqual(['admin-1', 'admin-2', 'stream-1', 'stream-2']);
    expect(servers.find((s) => s.id === 'admin-2')?.gateOpen).toBe(false);
  });

  it('servers prints a table without colour when not a TTY', async () => {
    const r = await cli('servers', '--cluster', 'prod');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+CLUSTER\s+ROLE\s+STATUS\s+GATE\s+ACTIVE EDITION\s+HEARTBEAT$/);
    expect(lines).toHaveLength(5);
    expect(lines.find((l) => l.startsWith('stream-2'))).toMatch(
      /stream-2\s+prod\s+stream\s+lost\s+closed\s+demo-app 1\.0\s+\d+s ago$/,
    );
    expect(r.stdout).not.toContain(ESC);
  });

  it('upgrade status of a run paused on a failure: progress, failure, out of rotation, exit 3', async () => {
    const r = await cli('upgrade', 'status', 'r-paused');
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('Run r-paused');
    expect(r.stdout).toMatch(/\[█+░+\] 5\/15 steps {2}paused at: Stop services on server group 2/);
    expect(r.stdout).toContain('Failure: stop demo-app on stream-2 timed out after 60 s');
    expect(r.stdout).toMatch(/Out of rotation: admin-2 \(since \d+/);
    expect(r.stdout).toContain('stream-2 (since');
    expect(r.stdout).toContain('rollgate upgrade resume r-paused');
  });

  it('upgrade status exit codes follow the run: 0 succeeded, 4 aborted', async () => {
    expect((await cli('upgrade', 'status', 'r-done')).code).toBe(0);
    const aborted = await cli('upgrade', 'status', 'r-aborted', '--json');
    expect(aborted.code).toBe(4);
    expect(JSON.parse(aborted.stdout).run.status).toBe('aborted');
  });

  it('upgrade status --watch follows a run to its end (appending on a pipe) and exits 0', async () => {
    const r = await cli('upgrade', 'status', 'r-watch', '--watch');
    expect(r.code).toBe(0);
    const blocks = r.stdout.trim().split('\n\n');
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(blocks[0]).toContain('Status: running');
    expect(blocks.at(-1)).toContain('Status: succeeded');
    expect(blocks.at(-1)).toMatch(/\[█{20}\] 15\/15 steps {2}all steps done/);
  });

  it('upgrade status --watch stops at a failure with exit 3', async () => {
    const r = await cli('upgrade', 'status', 'r-paused', '--watch', '--json');
    expect(r.code).toBe(3);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).run.failure).toContain('timed out');
  });

  it('upgrade status of an unknown run says what to do, exit 1', async () => {
    const r = await cli('upgrade', 'status', 'nope');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('No run "nope". List runs with `rollgate upgrade list`.');
  });

  it('upgrade logs --code filters on the coordinator and prints one line per log', async () => {
    const r = await cli('upgrade', 'logs', 'r-paused', '--code', 'RG0111I');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines)
      expect(line).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} RG0111I \S+ s\d+ draining \(2 s\)$/);
    expect(lines[0]).toMatch(/\.345 RG0111I admin-1 s1 draining \(2 s\)$/);
    expect(lines[2]).toMatch(/ RG0111I admin-2 s6 /);
  });

  it('upgrade logs --step and --server narrow the lines (steps are 1-based)', async () => {
    const r = await cli('upgrade', 'logs', 'r-paused', '--step', '6', '--server', 'stream-2', '--json');
    expect(r.code).toBe(0);
    const logs = JSON.parse(r.stdout) as { code: string; stepIndex: number }[];
    expect(logs.map((l) => [l.code, l.stepIndex])).toEqual([['RG0102E', 5]]);
  });

  it('a BAD_REQUEST from input validation names the flag and the rule, exit 1', async () => {
    const r = await cli('upgrade', 'logs', 'r-paused', '--code', 'bogus');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('the coordinator rejected the request:');
    expect(r.stderr).toContain('--code: a message code looks like RG0010I');
  });

  it('a BAD_REQUEST from plan validation prints each issue with its hint, exit 1', async () => {
    const r = await cli('upgrade', 'plan', '--cluster', 'nowhere', '--app', 'demo-app', '--edition', '2.0');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('  - No servers were given for cluster "nowhere".');
    expect(r.stderr).toContain("    Register the cluster's servers");
  });

  it('upgrade plan prints the plan with its phase banners', async () => {
    const r = await cli(
      'upgrade',
      'plan',
      '--cluster',
      'prod',
      '--app',
      'demo-app',
      '--edition',
      '2.0',
      '--drainage-interval',
      '5',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Minor upgrade of demo-app on cluster "prod" to edition 2.0');
    expect(r.stdout).toContain('── SERVICE AT RISK / LIMITED CAPABILITY WINDOW BEGINS ──');
  });

  it('upgrade start turns a CONFLICT into its message, exit 1', async () => {
    const r = await cli('upgrade', 'start', '--cluster', 'prod', '--app', 'demo-app', '--edition', '2.0');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('already has a run in progress');
  });

  it('bad flags are a usage error, exit 1, before any request', async () => {
    const r = await cli('upgrade', 'logs', 'r-paused', '--limit', 'lots');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("option '--limit <n>' argument 'lots' is invalid");
    const missing = await cli('upgrade', 'signoff', 'r-paused');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--approve or --reject');
  });

  it('sends the actor header with mutations', async () => {
    const r = await rollgate([
      '--url',
      api.url,
      '--actor',
      'ops:tester',
      'upgrade',
      'pause',
      'r-live',
      '--reason',
      'lunch',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Paused run r-live.');
    expect(api.actors.at(-1)).toBe('ops:tester');
    expect(api.calls.at(-1)).toEqual(['pause', 'r-live', 'lunch']);
    // Put it back for the --follow test.
    expect((await cli('upgrade', 'resume', 'r-live')).code).toBe(0);
    expect(api.actors.at(-1)).toMatch(/^cli:.+@.+/);
  });

  it('upgrade logs --follow prints new lines until the run ends, then exits 0', async () => {
    const r = await cli('upgrade', 'logs', 'r-live', '--follow');
    expect(r.code).toBe(0);
    const codes = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split(' ')[1]);
    expect(codes[0]).toBe('RG0010I');
    expect(codes.at(-1)).toBe('RG0011I');
    expect(codes.filter((c) => c === 'RG0114I').length).toBeGreaterThanOrEqual(3);
    // Every line once: following with afterId never repeats one.
    expect(new Set(r.stdout.split('\n')).size).toBe(r.stdout.split('\n').length);
  });

  it('edition upload sends the file and prints its sha256 and size', async () => {
    const file = path.join(tmp, 'demo-app-3.0.tar.gz');
    const content = Buffer.from('not really a tarball, but bytes all the same\n');
    await writeFile(file, content);
    const r = await cli('edition', 'upload', '--app', 'demo-app', '--name', '3.0', '--file', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`sha256 ${createHash('sha256').update(content).digest('hex')}`);
    expect(r.stdout).toContain(`size   ${content.length} bytes`);
    const list = await cli('edition', 'list', '--app', 'demo-app');
    expect(list.stdout).toMatch(/demo-app\s+3\.0\s+/);
  });

  it('upgrade list and audit print tables', async () => {
    const list = await cli('upgrade', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^RUN\s+STATUS\s+CLUSTER/);
    expect(list.stdout).toMatch(/r-paused\s+paused\s+prod\s+demo-app\s+2\.0/);
    const audit = await cli('audit', '--json');
    expect(JSON.parse(audit.stdout)[0].actor).toMatch(/^cli:/);
  });

  it('an unreachable coordinator: exit 2 and what to do', async () => {
    const port = await closedPort();
    const r = await rollgate(['servers'], { ROLLGATE_URL: `http://127.0.0.1:${port}` });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      `cannot reach the coordinator at http://127.0.0.1:${port}: connect ECONNREFUSED`,
    );
    expect(r.stderr).toContain('Start it with `npm start` or pass --url.');
  });
});
