// The real agent while its heavy-work child unpacks a 1 GiB edition (issue 13 item 1): the agent's
// own RSS and CPU (its child apart), the child's peak, and how fast the gate answers meanwhile.
// A minimal coordinator (a grpc-js server in this process speaking the wire contract) sends the
// install: the figures are the agent's, not a coordinator's.
import { createHash } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import {
  loadAgentProtocol,
  type ActionUpdate__Output,
  type AgentMessage__Output,
  type ArtifactChunk,
  type CoordinatorMessage,
  type FetchArtifactRequest__Output,
} from '@rollgate/protocol';
import { atMost, MB, percentile, round, type Figure } from '../lib/figures';
import {
  cpuSeconds,
  descendants,
  freePort,
  rssBytes,
  sleep,
  spawnTracked,
  tempDir,
  waitFor,
} from '../lib/proc';

const MiB = 1024 * 1024;

/** A ustar header (sizes below 8 GiB). */
function header(path: string, size: number, type: '0' | '5'): Buffer {
  const b = Buffer.alloc(512);
  const field = (off: number, len: number, v: string) => b.write(v, off, len, 'ascii');
  const octal = (off: number, len: number, n: number) =>
    field(off, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
  field(0, 100, path);
  octal(100, 8, type === '5' ? 0o755 : 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 0);
  field(148, 8, '        ');
  field(156, 1, type);
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of b) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return b;
}

/**
 * A gzip tar of big files made of one 1 MiB block (16 KiB random, then zeros: ~60x compressible),
 * written as repeated gzip members: ~20 MB on disk for 1 GiB expanded, in well under a second.
 */
async function writeEdition(file: string, files: { path: string; mib: number }[]): Promise<void> {
  const block = Buffer.alloc(MiB);
  Buffer.from(Array.from({ length: 16 * 1024 }, () => Math.floor(Math.random() * 256))).copy(block);
  const blockGz = gzipSync(block, { level: 1 });
  const fh = await open(file, 'w');
  try {
    await fh.write(gzipSync(header('lib/', 0, '5')));
    for (const f of files) {
      await fh.write(gzipSync(header(f.path, f.mib * MiB, '0')));
      for (let i = 0; i < f.mib; i++) await fh.write(blockGz);
    }
    await fh.write(gzipSync(Buffer.alloc(1024)));
  } finally {
    await fh.close();
  }
}

function gateMs(port: number): Promise<number | undefined> {
  const t0 = performance.now();
  return new Promise((res) => {
    const req = request({ host: '127.0.0.1', port, path: '/gate', agent: false, timeout: 5000 }, (r) => {
      r.resume();
      r.on('end', () => res(performance.now() - t0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(undefined));
    req.end();
  });
}

/** `command`: how to start the agent (node flags and script), as the variant runs it. */
export async function measureUnpack(
  name: string,
  command: string[],
  cwd: string | undefined,
  servicePort: number,
  settleSeconds: number,
): Promise<Figure[]> {
  const dir = tempDir('agent-unpack');
  const proto = loadAgentProtocol();
  const server = new grpc.Server();
  const updates: ActionUpdate__Output[] = [];
  let stream: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage> | undefined;
  const archive = join(dir.path, 'edition.tgz');
  await writeEdition(archive, [
    { path: 'lib/app.war', mib: 768 },
    { path: 'lib/jdk.tar', mib: 256 },
  ]);
  const hash = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(archive)) {
    hash.update(c as Buffer);
    size += (c as Buffer).length;
  }
  const sha256 = hash.digest('hex');
  server.addService(proto.rollgate.agent.v1.AgentService.service, {
    Connect(call: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>) {
      call.on('data', (m: AgentMessage__Output) => {
        if (m.body === 'hello') {
          stream = call;
          call.write({ welcome: { coordinatorVersion: 'bench', heartbeatIntervalMs: 5000 } });
        } else if (m.body === 'actionUpdate' && m.actionUpdate) updates.push(m.actionUpdate);
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
    FetchArtifact(call: grpc.ServerWritableStream<FetchArtifactRequest__Output, ArtifactChunk>) {
      void (async () => {
        let offset = 0;
        for await (const c of createReadStream(archive, { highWaterMark: 64 * 1024 })) {
          const data = c as Buffer;
          if (!call.write({ data, offset, sha256 })) await new Promise((r) => call.once('drain', r));
          offset += data.length;
        }
        call.end();
      })();
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  const gatePort = await freePort();
  const configPath = join(dir.path, 'agent.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      agentId: 'bench-unpack',
      cluster: 'bench',
      role: 'probe',
      coordinator: { address: `127.0.0.1:${port}`, insecure: true },
      dataDir: join(dir.path, 'data'),
      gate: { host: '127.0.0.1', port: gatePort },
      services: [
        {
          name: 'app',
          port: servicePort,
          start: { command: 'node', args: ['server.mjs'] },
          healthUrl: `http://127.0.0.1:${servicePort}/health`,
        },
      ],
    }),
  );
  const { child, stop } = spawnTracked(
    `agent ${name} (unpack)`,
    process.execPath,
    [...command, '--config', configPath],
    {
      cwd: cwd ?? dir.path,
      env: { ...process.env, ROLLGATE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  createInterface({ input: child.stdout! }).on('line', () => {});
  child.stderr!.resume();
  try {
    await waitFor('the agent to connect', async () => stream, 30_000);
    await sleep(settleSeconds * 1000);
    const pid = child.pid!;
    // The same probes at rest first: what this machine's own load costs the gate.
    const rest: number[] = [];
    for (let i = 0; i < 150; i++) {
      const g = await gateMs(gatePort);
      if (g !== undefined) rest.push(g);
      await sleep(20);
    }
    const restRss = rssBytes(pid);
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    stream!.write({
      runAction: {
        actionId: 'bench.s0.unpack.a1',
        runId: 'bench',
        stepIndex: 0,
        attempt: 1,
        ops: [{ install: { service: 'app', edition: '1.0', sha256, size } }],
      },
    });
    const rss: number[] = [];
    const gate: number[] = [];
    let workerPeak = 0;
    let missed = 0;
    let done: ActionUpdate__Output | undefined;
    let lastSample = 0;
    while (!(done = updates.find((u) => /SUCCEEDED|FAILED|CANCELLED/.test(u.status)))) {
      const g = await gateMs(gatePort);
      if (g === undefined) missed++;
      else gate.push(g);
      if (performance.now() - lastSample >= 250) {
        lastSample = performance.now();
        rss.push(rssBytes(pid));
        for (const d of descendants(pid)) workerPeak = Math.max(workerPeak, rssBytes(d) || 0);
      }
      if (performance.now() - t0 > 600_000) throw new Error('the install did not finish within 10 min');
      await sleep(20);
    }
    const secs = (performance.now() - t0) / 1000;
    const cpu = ((cpuSeconds(pid) - c0) / secs) * 100;
    await sleep(2000);
    const afterRss = rssBytes(pid);
    if (done.status !== 'ACTION_STATUS_SUCCEEDED') throw new Error(`install failed: ${done.reason}`);
    const tag = `${name}, 1 GiB edition (${round(size / MB, 1)} MB gzip) unpacking`;
    return [
      atMost(
        {
          bench: 'agent',
          case: `${tag}: agent RSS`,
          value: round(Math.max(...rss) / MB, 1),
          unit: 'MB',
          note: `max VmRSS of the agent process (its child apart) every 250 ms during the ${round(secs, 1)} s install (download + checksum + unpack); ${round(restRss / MB, 1)} MB just before, ${round(afterRss / MB, 1)} MB 2 s after`,
        },
        45,
        '≤ 45 MB (issue 13)',
      ),
      {
        bench: 'agent',
        case: `${tag}: agent CPU`,
        value: round(cpu, 1),
        unit: '% of a core',
        note: 'utime+stime of the agent process alone over the install: receiving the stream and piping it to the child',
      },
      {
        bench: 'agent',
        case: `${tag}: work process peak RSS`,
        value: round(workerPeak / MB, 1),
        unit: 'MB',
        note: 'max VmRSS of the heavy-work child (limits.workerMemoryMb, default 512, stops it)',
      },
      atMost(
        {
          bench: 'agent',
          case: `${tag}: gate p99`,
          value: round(percentile(gate, 99), 1),
          unit: 'ms',
          note: `GET /gate every ~20 ms during the install: ${gate.length} answered, ${missed} unanswered, p50 ${round(percentile(gate, 50), 1)} ms, max ${round(Math.max(...gate), 1)} ms; the same agent at rest just before: p50 ${round(percentile(rest, 50), 1)} ms, p99 ${round(percentile(rest, 99), 1)} ms (${rest.length} probes)`,
        },
        50,
        '≤ 50 ms (issue 13)',
      ),
    ];
  } finally {
    await stop();
    server.forceShutdown();
    await dir.remove();
  }
}
