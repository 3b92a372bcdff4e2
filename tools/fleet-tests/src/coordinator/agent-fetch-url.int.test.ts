// Issue 16 item 6, its second half (docs/adr/0039): editions the AGENTS fetch from the operator's
// URL. A real coordinator (real PostgreSQL), two real agent processes running a stdlib Node
// service (not the demo-app), the real `rollgate` CLI, and a plain node:http server as the
// artifact repository, whose URLs carry a "signature" query string that must never reach a log.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startFleet, type Fleet } from '@rollgate/demo-fleet';
import { until, untilValue } from '@rollgate/test-kit';

const SERVICE = 'pages';
const CLUSTER = 'web';
const SIGNATURE = 'X-Sig=f3tch-by-agents-s1gnature-0039';
const MiB = 1024 * 1024;
/** Payload added to the big edition (ROLLGATE_BIG_EDITION_MIB overrides; 0 skips that measurement). */
const BIG_MIB = Number(process.env.ROLLGATE_BIG_EDITION_MIB ?? 64);

interface Archive {
  path: string;
  sha256: string;
  size: number;
}

/** An edition of a stdlib Node HTTP server answering its edition name; `padMiB` of random bytes beside it. */
async function buildEdition(dir: string, name: string, padMiB = 0): Promise<Archive> {
  const src = join(dir, `src-${name}`);
  await mkdir(src, { recursive: true });
  await writeFile(
    join(src, 'server.mjs'),
    [
      "import { createServer } from 'node:http';",
      `const edition = ${JSON.stringify(name)};`,
      'createServer((req, res) => {',
      "  res.writeHead(200, { 'content-type': 'application/json' });",
      '  res.end(JSON.stringify({ edition, server: process.env.SERVER_NAME }));',
      "}).listen(Number(process.env.PORT), '127.0.0.1');",
      '',
    ].join('\n'),
  );
  if (padMiB > 0) {
    // Incompressible, so the archive is about as large as the pad; written without holding it all.
    execFileSync('sh', [
      '-c',
      'head -c "$1" /dev/urandom > "$2"',
      'sh',
      String(padMiB * MiB),
      join(src, 'pad.bin'),
    ]);
  }
  const path = join(dir, `${SERVICE}-${name}.tgz`);
  execFileSync('tar', ['-czf', path, '-C', src, '.']);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { path, sha256: hash.digest('hex'), size: (await stat(path)).size };
}

/** Every file under `dir` (recursively) smaller than 64 MiB, as text; for the log scan. */
async function textUnder(dir: string): Promise<{ file: string; text: string }[]> {
  const out: { file: string; text: string }[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await textUnder(p)));
    else if (e.isFile() && (await stat(p)).size < 64 * MiB)
      out.push({ file: p, text: await readFile(p, 'utf8') });
  }
  return out;
}

/** Resident memory of a process, bytes (/proc/<pid>/status VmRSS; 0 once it has exited). */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** Resident memory of a process and its descendants (the agent's heavy-work child), bytes. */
async function treeRss(pid: number): Promise<number> {
  const own = await rss(pid);
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const kids = children.split(/\s+/).filter(Boolean).map(Number);
  return own + (await Promise.all(kids.map(treeRss))).reduce((a, b) => a + b, 0);
}

describe('issue 16 item 6: agents fetch an edition from its URL themselves (--fetch-by agents)', () => {
  let dir: string;
  let home: string;
  let fleet: Fleet;
  let files: Server;
  let filesUrl = '';
  /** GET requests the artifact server saw, by path. */
  const gets = new Map<string, number>();
  /** What the artifact server serves, by path. */
  const served = new Map<string, Archive>();
  let e2: Archive;
  let e3: Archive;

  function rollgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, ...args],
        {
          cwd: ROOT,
          timeout: 120_000,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: home,
            XDG_CONFIG_HOME: join(home, '.config'),
            ROLLGATE_TOKEN: fleet.admin.token,
          },
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  const servers = async () =>
    Object.fromEntries(
      (await fleet.api.servers.list.query({ cluster: CLUSTER })).map((s) => [
        s.id,
        { edition: s.services.find((x) => x.name === SERVICE)?.activeEdition, gateOpen: s.gateOpen },
      ]),
    );

  /** The run once it ended or stopped to ask (a failed staging pauses or fails it). */
  const settled = (runId: string) =>
    untilValue(
      `run ${runId} to end`,
      () => fleet.api.upgrade.status.query({ runId }),
      (view) => ['succeeded', 'paused', 'failed', 'aborted'].includes(view.run.status),
      { timeoutMs: 180_000, everyMs: 250 },
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-agent-fetch-'));
    home = await mkdtemp(join(tmpdir(), 'rollgate-agent-fetch-home-'));
    const editionsDir = join(dir, 'editions');
    await mkdir(editionsDir, { recursive: true });
    const e1 = await buildEdition(editionsDir, '1.0');
    e2 = await buildEdition(editionsDir, '2.0', BIG_MIB);
    e3 = await buildEdition(editionsDir, '3.0');
    served.set('/pages/2.0.tgz', e2);
    // Tampered: 3.0 is declared with its own sha256, but the repository serves 1.0's bytes.
    served.set('/pages/3.0.tgz', e1);
    files = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      gets.set(path, (gets.get(path) ?? 0) + 1);
      const a = served.get(path);
      if (!a) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': a.size });
      createReadStream(a.path).pipe(res);
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    fleet = await startFleet({
      dir: join(dir, 'fleet'),
      heartbeatMs: 500,
      insecure: true,
      agents: [1, 2].map((n) => ({ id: `pages-${n}`, role: 'pages', cluster: CLUSTER })),
      service: {
        name: SERVICE,
        editions: [{ name: '1.0', path: e1.path }],
        start: { command: process.execPath, args: ['server.mjs'] },
        env: (a) => ({ SERVER_NAME: a.id }),
      },
    });
  }, 180_000);

  afterAll(async () => {
    files?.close();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  });

  it('issue 16 item 6: a --fetch-by agents edition rolls out to 2 real agents; each GETs the URL once, the coordinator never has the archive', async () => {
    const added = await rollgate([
      'edition',
      'add',
      '--app',
      SERVICE,
      '--name',
      '2.0',
      '--from-url',
      `${filesUrl}/pages/2.0.tgz?${SIGNATURE}`,
      '--sha256',
      e2.sha256,
      '--size',
      String(e2.size),
      '--fetch-by',
      'agents',
    ]);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('each agent fetches it from the URL');
    expect(added.stdout).toContain(`from   ${filesUrl}/pages/2.0.tgz\n`);
    // The coordinator did not download it.
    expect(gets.get('/pages/2.0.tgz') ?? 0).toBe(0);
    const listed = await rollgate(['edition', 'list', '--app', SERVICE]);
    expect(listed.stdout).toMatch(/2\.0 .* agents/);
    const row = (await fleet.api.editions.list.query({ app: SERVICE })).find((e) => e.name === '2.0');
    expect(row).toMatchObject({ fetchBy: 'agents', source: `${filesUrl}/pages/2.0.tgz`, size: e2.size });

    // The agent processes themselves (not their heavy-work children, bounded by their own limit,
    // nor the services they start): holding the archive would add its whole size to each.
    const pids = fleet.agents.map((a) => a.proc!.pid!);
    const before = await Promise.all(pids.map(rss));
    const peak = [...before];
    let peakTree = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await Promise.all(pids.map(rss));
        now.forEach((v, i) => (peak[i] = Math.max(peak[i]!, v)));
        peakTree = Math.max(
          peakTree,
          (await Promise.all(pids.map(treeRss))).reduce((a, b) => a + b, 0),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const view = await fleet.api.editions.rollout.mutate({ app: SERVICE, cluster: CLUSTER, edition: '2.0' });
    const done = await settled(view.run.id).finally(() => (sampling = false));
    await sampler;
    const mb = (n: number) => Math.round(n / MiB);
    const growth = peak.map((p, i) => p - before[i]!);
    console.log(
      `[fetch-by agents] ${mb(e2.size)} MiB archive: agent VmRSS before ${before.map(mb).join('/')} MiB, peak ${peak.map(mb).join('/')} MiB (+${growth.map(mb).join('/')} MiB); with workers and services, peak ${mb(peakTree)} MiB`,
    );
    expect(done.run.failure ?? '').toBe('');
    expect(done.run.status).toBe('succeeded');
    expect(await servers()).toEqual({
      'pages-1': { edition: '2.0', gateOpen: true },
      'pages-2': { edition: '2.0', gateOpen: true },
    });
    // One GET per agent, and none from the coordinator, which holds no copy of the archive.
    expect(gets.get('/pages/2.0.tgz')).toBe(2);
    const artifacts = await readdir(join(dir, 'fleet', 'coordinator', 'artifacts')).catch(() => []);
    expect(artifacts).not.toContain(e2.sha256);
    // The agents serve the new edition.
    for (const a of fleet.agents) {
      const res = await fetch(`http://127.0.0.1:${a.servicePort}/`);
      expect(((await res.json()) as { edition: string }).edition).toBe('2.0');
    }
    if (BIG_MIB >= 64) for (const g of growth) expect(g).toBeLessThan(e2.size * 0.75);
  }, 240_000);

  it('issue 16 item 6: a URL serving other bytes than the sha256 fails the staging with a clear message; no server left rotation or changed edition', async () => {
    const added = await rollgate([
      'edition',
      'add',
      '--app',
      SERVICE,
      '--name',
      '3.0',
      '--from-url',
      `${filesUrl}/pages/3.0.tgz?${SIGNATURE}`,
      '--sha256',
      e3.sha256,
      '--fetch-by',
      'agents',
    ]);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('unknown (agents bound it by their own limit)');
    const view = await fleet.api.editions.rollout.mutate({ app: SERVICE, cluster: CLUSTER, edition: '3.0' });
    const ended = await settled(view.run.id);
    expect(ended.run.status).not.toBe('succeeded');
    const failure = ended.run.failure ?? '';
    expect(failure).toContain('checksum mismatch');
    expect(failure).toContain(`${filesUrl}/pages/3.0.tgz served sha256`);
    expect(failure).toContain(`expected ${e3.sha256}`);
    expect(failure).not.toContain('X-Sig');
    // Staging is the preparation step: it failed there, before any server left rotation.
    const failedStep = ended.steps.find((s) => s.status === 'failed');
    expect(failedStep?.key).toBe('prep.stage');
    expect(ended.steps.filter((s) => s.kind !== 'prepare' && s.status !== 'pending')).toEqual([]);
    expect(await servers()).toEqual({
      'pages-1': { edition: '2.0', gateOpen: true },
      'pages-2': { edition: '2.0', gateOpen: true },
    });
    // Nothing half-written is left on the agents, once each has finished its download (the step
    // fails at the first failure; the other agent may still be fetching then).
    for (const a of fleet.agents) {
      await until(
        `${a.id} to have no .part file left`,
        async () =>
          (await readdir(join(a.dataDir, 'downloads')).catch(() => [])).every((f) => !f.endsWith('.part')),
        30_000,
      );
      expect(await readdir(join(a.dataDir, 'editions', SERVICE))).not.toContain('3.0');
    }
    await fleet.api.upgrade.abort.mutate({ runId: view.run.id }).catch(() => undefined);
  }, 240_000);

  it("issue 16 item 6: the URL's query string (a signature) is in no coordinator or agent log", async () => {
    const texts = [
      ...(await textUnder(join(dir, 'fleet', 'logs'))),
      ...(await Promise.all(fleet.agents.map((a) => textUnder(join(a.dataDir, 'logs'))))).flat(),
      // The agents' journals keep the ops they ran: origin and path of the URL only.
      ...(await Promise.all(
        fleet.agents.map(async (a) => ({
          file: join(a.dataDir, 'journal.jsonl'),
          text: await readFile(join(a.dataDir, 'journal.jsonl'), 'utf8'),
        })),
      )),
    ];
    expect(texts.length).toBeGreaterThan(2);
    // The scan can fail: the logs do name the URLs, by origin and path.
    expect(texts.some((t) => t.text.includes(`${filesUrl}/pages/3.0.tgz`))).toBe(true);
    expect(texts.filter((t) => t.text.includes('f3tch-by-agents')).map((t) => t.file)).toEqual([]);
    const audit = await fleet.api.audit.list.query();
    expect(JSON.stringify(audit)).not.toContain('f3tch-by-agents');
    expect(JSON.stringify(await fleet.api.editions.list.query({ app: SERVICE }))).not.toContain('X-Sig');
  });
});
