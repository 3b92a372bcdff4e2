// Issue 16 item 4: the notifier's bounds, on a real PostgreSQL (embedded) with real HTTP receivers
// on loopback: a delivery is given up after its attempts (at once on a 4xx that retrying cannot
// fix), the queue per subscription is bounded, and email is refused without an SMTP relay.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from '@rollgate/db';
import { MSG } from '@rollgate/domain';
import type { LogRecord, RunRecord } from '@rollgate/engine';
import { createLogger } from '@rollgate/logger';
import { freePort, waitFor } from '@rollgate/demo-fleet';
import { createNotifier, type Notifier } from './notifier';
import { seedFromTemplate } from '@rollgate/test-kit';

const SECRET = randomBytes(20).toString('hex');

const run = (id: string, cluster: string) =>
  ({
    id,
    status: 'running',
    failure: null,
    readiness: [],
    parentRunId: null,
    plan: { cluster, service: 'shop', procedure: 'minor', toEdition: { name: '7.1' } },
  }) as unknown as RunRecord;

const line = (runId: string, code: string): LogRecord => ({
  runId,
  actionId: null,
  serverId: null,
  stepIndex: null,
  at: Date.now(),
  level: 'info',
  code,
  message: code,
  source: 'engine',
});

/** Answers every request with `status`; counts them. */
async function answering(status: number): Promise<{ url: string; hits: () => number; server: Server }> {
  let hits = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      res.writeHead(status).end(`status ${status}`);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/hook?token=in-query`, hits: () => hits, server };
}

describe('notifier bounds on a real PostgreSQL (issue 16 item 4)', () => {
  let dataDir: string;
  let db: RollgateDb;
  let notifier: Notifier;
  let logText = '';
  const servers: Server[] = [];
  const runs = new Map<string, RunRecord>();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rollgate-notifier-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    db = createDb({ dataDir });
    await db.start();
    const out = new PassThrough();
    out.on('data', (d: Buffer) => (logText += d.toString('utf8')));
    notifier = createNotifier({
      pool: db.pool,
      store: { getRun: async (id) => runs.get(id) ?? null, appendAudit: async () => undefined },
      log: createLogger({ name: 'coordinator', destination: out }),
      notice: async () => 'To the users of shop,',
      maxAttempts: 3,
      retryBaseMs: 20,
      maxPending: 2,
      pollMs: 50,
      webhookTimeoutMs: 2000,
    });
    notifier.start();
  }, 120_000);

  afterAll(async () => {
    await notifier?.stop();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('gives a delivery up after maxAttempts (503) and at once on a 410; the log keeps the last error', async () => {
    const busy = await answering(503);
    const gone = await answering(410);
    servers.push(busy.server, gone.server);
    const a = await notifier.api.subscribe(
      { cluster: 'c1', webhook: { url: busy.url, secret: SECRET }, email: false, events: ['started'] },
      'test',
    );
    const b = await notifier.api.subscribe(
      { cluster: 'c1', webhook: { url: gone.url, secret: SECRET }, email: false, events: ['started'] },
      'test',
    );
    runs.set('r-1', run('r-1', 'c1'));
    notifier.onRecord(line('r-1', MSG.runStarted.code));
    const [da] = await waitFor(
      'the 503 delivery to be given up',
      async () => {
        const rows = await notifier.api.deliveries({ subscriptionId: a.id, limit: 10 });
        return rows[0]?.status === 'failed' ? rows : null;
      },
      30_000,
    );
    expect(da).toMatchObject({ attempts: 3, lastStatus: 503, lastError: 'HTTP 503: status 503' });
    expect(busy.hits()).toBe(3);
    const [db2] = await waitFor(
      'the 410 delivery to be given up',
      async () => {
        const rows = await notifier.api.deliveries({ subscriptionId: b.id, limit: 10 });
        return rows[0]?.status === 'failed' ? rows : null;
      },
      30_000,
    );
    expect(db2).toMatchObject({ attempts: 1, lastStatus: 410 });
    expect(gone.hits()).toBe(1);
  });

  it('holds at most maxPending undelivered events per subscription and logs the ones it drops', async () => {
    // A receiver that never answers: each attempt waits out its 2 s timeout, so events pile up as
    // pending (a refused connection would fail all 3 attempts in milliseconds and free the queue).
    const hang = createServer(() => undefined);
    const port = await freePort();
    await new Promise<void>((resolve) => hang.listen(port, '127.0.0.1', resolve));
    servers.push(hang);
    const down = await notifier.api.subscribe(
      {
        cluster: 'c2',
        webhook: { url: `http://127.0.0.1:${port}/down`, secret: SECRET },
        email: false,
        events: ['started', 'phase', 'paused', 'succeeded'],
      },
      'test',
    );
    runs.set('r-2', run('r-2', 'c2'));
    for (const code of [
      MSG.runStarted.code,
      MSG.phaseBegins.code,
      MSG.runPaused.code,
      MSG.runCompleted.code,
    ]) {
      notifier.onRecord(line('r-2', code));
    }
    await notifier.flushed();
    const rows = await notifier.api.deliveries({ subscriptionId: down.id, limit: 10 });
    expect(rows.map((r) => r.event).sort()).toEqual(['phase', 'started']);
    expect(logText.match(/notification dropped: the subscription already holds too many/g)).toHaveLength(2);
  });

  it('refuses an email subscription on a coordinator without an SMTP relay, writing nothing', async () => {
    await expect(notifier.api.subscribe({ cluster: 'c3', email: true }, 'test')).rejects.toThrow(
      /no SMTP relay: set ROLLGATE_SMTP_HOST/,
    );
    expect(await notifier.api.list('c3')).toEqual([]);
  });

  it('logs no secret and no webhook query string', () => {
    expect(logText).toContain('notification given up');
    expect(logText).not.toContain(SECRET);
    expect(logText).not.toContain('token=in-query');
  });
});
