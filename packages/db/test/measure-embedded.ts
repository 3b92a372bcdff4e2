// Prints figures of the embedded database on this machine (not a test: nothing is asserted).
//   npx tsx packages/db/test/measure-embedded.ts
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LogRecord } from '@rollgate/engine';
import { createDb } from '../src/create-db';
import { createLogWriter } from '../src/log-writer';
import { createPgStore } from '../src/pg-store';

/** RSS and PSS (shared pages split between sharers) of a postmaster and its children, in MB. */
function memoryOf(postmaster: number): { processes: number; rssMb: number; pssMb: number } {
  let rss = 0;
  let pss = 0;
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      const ppid = Number(fields[1]);
      if (pid !== postmaster && ppid !== postmaster) continue;
      const rollup = readFileSync(`/proc/${entry}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      n++;
    } catch {
      /* exited meanwhile */
    }
  }
  return { processes: n, rssMb: Math.round(rss / 1024), pssMb: Math.round(pss / 1024) };
}

function lines(n: number, offset: number): LogRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    runId: 'bench',
    actionId: `bench.s1.srv${i % 8}.a1`,
    serverId: `srv${i % 8}`,
    stepIndex: 1,
    at: Date.now(),
    level: 'info' as const,
    code: 'RG0100I',
    message: `stopping service app on srv${i % 8}: waiting for 3 sessions to end (${offset + i})`,
    source: 'agent' as const,
  }));
}

const figures: Record<string, number | string | boolean | null> = {};
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-measure-'));
try {
  let t = performance.now();
  const first = createDb({ dataDir });
  await first.start();
  figures['first start total ms (init + start + migrate)'] = Math.round(performance.now() - t);
  figures['initdb ms'] = Math.round(first.stats!.initMs!);
  await first.stop();

  t = performance.now();
  const db = createDb({ dataDir });
  await db.start();
  figures['restart total ms (start + connect + migrate check)'] = Math.round(performance.now() - t);
  figures['postgres start ms (spawn to accepting connections)'] = Math.round(db.stats!.startMs);
  const store = createPgStore(db.db);
  figures['postgres processes'] = memoryOf(db.stats!.pid).processes;
  figures['idle RSS MB (sum over postgres processes)'] = memoryOf(db.stats!.pid).rssMb;
  figures['idle PSS MB (shared pages counted once)'] = memoryOf(db.stats!.pid).pssMb;

  // appendLogs, batches of 500, one after another.
  const batches = 200;
  await store.appendLogs(lines(500, 0)); // warm-up
  t = performance.now();
  for (let b = 0; b < batches; b++) await store.appendLogs(lines(500, b * 500));
  let s = (performance.now() - t) / 1000;
  figures['appendLogs batch=500 lines/s'] = Math.round((batches * 500) / s);
  figures['appendLogs batch=500 ms per call'] = Number(((s * 1000) / batches).toFixed(1));

  // Through the log writer, as the coordinator uses it.
  const writer = createLogWriter({ store });
  const n = 100_000;
  const src = lines(n, 0);
  t = performance.now();
  for (const l of src) while (!writer.write(l)) await writer.flush();
  await writer.flush();
  s = (performance.now() - t) / 1000;
  figures['log writer 100k lines lines/s'] = Math.round(n / s);
  await writer.stop();

  // Single-row for comparison: what batching saves.
  t = performance.now();
  for (let i = 0; i < 500; i++) await store.appendLogs(lines(1, i));
  figures['appendLogs batch=1 lines/s'] = Math.round(500 / ((performance.now() - t) / 1000));

  // Heartbeats: 1000 servers in one touchServers call.
  for (let i = 0; i < 1000; i++) {
    await store.upsertServer({
      id: `srv${i}`,
      cluster: 'c',
      role: i % 2 ? 'admin' : 'stream',
      hostname: `h${i}`,
      agentVersion: '1',
      capabilities: [],
      gateUrl: 'http://x',
      status: 'connected',
      gateOpen: true,
      services: [],
      lastHeartbeatAt: null,
      connectedAt: null,
    });
  }
  t = performance.now();
  const rounds = 20;
  for (let r = 0; r < rounds; r++) {
    await store.touchServers(
      Array.from({ length: 1000 }, (_, i) => ({
        id: `srv${i}`,
        lastHeartbeatAt: Date.now(),
        gateOpen: r % 2 === 0,
      })),
    );
  }
  figures['touchServers 1000 servers ms per call'] = Number(((performance.now() - t) / rounds).toFixed(1));

  const mem = memoryOf(db.stats!.pid);
  figures['after load RSS MB (sum)'] = mem.rssMb;
  figures['after load PSS MB'] = mem.pssMb;

  t = performance.now();
  await db.stop();
  figures['stop ms'] = Math.round(performance.now() - t);
  figures['running as root'] = process.getuid?.() === 0;
  figures['postgres'] = (await readFile(path.join(dataDir, 'pg', 'PG_VERSION'), 'utf8')).trim();
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(figures));
console.table(figures);
