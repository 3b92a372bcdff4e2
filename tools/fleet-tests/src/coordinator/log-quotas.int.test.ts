// Issue 17 items 2 and 4 with real parts: a coordinator (mTLS) on a PostgreSQL this test owns, a real
// agent rolling out an edition, and test clients enrolled with join tokens that hold valid
// certificates and play the attacker: poison log lines, a flood, oversize lines and batches.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { enrolmentProofPayload, MSG, parseJoinToken } from '@rollgate/domain';
import { createDb, type RollgateDb } from '@rollgate/db';
import { runSucceeded, startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';
import {
  CAPABILITIES,
  loadAgentProtocol,
  type AgentMessage,
  type CoordinatorMessage__Output,
} from '@rollgate/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LINES_PER_S = 400;
const MAX_BATCH = 200;
const MAX_LINE = 1000;

/** An enrolled test client's TLS material: a real join token, a real certificate. */
async function enrol(fleet: Fleet, fleetDir: string, serverId: string, cluster: string) {
  const { token } = await fleet.api.agents.createJoinToken.mutate({ ttlSeconds: 600, cluster, serverId });
  const t = parseJoinToken(token)!;
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const nonce = randomBytes(16).toString('base64url');
  const signature = sign(
    'sha256',
    Buffer.from(enrolmentProofPayload({ serverId, publicKeyPem, nonce })),
    k.privateKey,
  ).toString('base64');
  const [host, port] = fleet.enrolAddress.split(':');
  const caPem = await readFile(join(fleetDir, 'coordinator', 'agent-ca', 'ca.crt'), 'utf8');
  const body = JSON.stringify({
    serverId,
    tokenId: t.id,
    secret: t.secret,
    publicKeyPem,
    nonce,
    signature,
  });
  const res = await new Promise<{ certPem: string }>((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        path: '/v1/enrol',
        method: 'POST',
        ca: caPem,
        headers: { 'content-type': 'application/json' },
        agent: false,
      },
      (r) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () =>
          r.statusCode === 200 ? resolve(JSON.parse(text) as { certPem: string }) : reject(new Error(text)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  const keyPem = k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return grpc.credentials.createSsl(Buffer.from(caPem), Buffer.from(keyPem), Buffer.from(res.certPem));
}

interface Client {
  call: grpc.ClientDuplexStream<AgentMessage, CoordinatorMessage__Output>;
  welcomed: Promise<boolean>;
  /** The stream's end, if it ended. */
  ended: () => grpc.StatusObject | null;
  acked: () => number;
  close: () => void;
}

function connect(
  fleet: Fleet,
  creds: grpc.ChannelCredentials,
  agentId: string,
  cluster: string,
  journaled: NonNullable<AgentMessage['hello']>['journaled'] = [],
): Client {
  const proto = loadAgentProtocol();
  const client = new proto.rollgate.agent.v1.AgentService(fleet.grpcAddress, creds);
  const call = client.Connect() as Client['call'];
  let acked = 0;
  let ended: grpc.StatusObject | null = null;
  const welcomed = new Promise<boolean>((resolve) => {
    call.on('data', (m: CoordinatorMessage__Output) => {
      if (m.body === 'welcome') resolve(true);
      if (m.body === 'logAck' && m.logAck) acked = Math.max(acked, Number(m.logAck.upToSeq));
    });
    call.on('status', (s: grpc.StatusObject) => {
      ended = s;
      resolve(false);
    });
  });
  call.on('error', () => undefined);
  call.write({
    hello: {
      agentId,
      cluster,
      role: 'web',
      hostname: agentId,
      agentVersion: 'test',
      capabilities: [CAPABILITIES.logAck],
      gateUrl: '',
      gate: 'GATE_STATE_OPEN',
      journaled,
    },
  });
  return {
    call,
    welcomed,
    ended: () => ended,
    acked: () => acked,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

type Line = NonNullable<NonNullable<AgentMessage['logs']>['lines']>[number];
const line = (seq: number, message: string, over: Partial<Line> = {}): Line => ({
  actionId: '',
  atMs: Date.now(),
  level: 'LOG_LEVEL_INFO',
  code: 'RG0190I',
  message,
  seq,
  ...over,
});

describe('issue 17 items 2 and 4: one agent can never stall or starve the others', () => {
  let dir: string;
  let db: RollgateDb;
  let fleet: Fleet;
  const clients: Client[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-logquota-'));
    db = createDb({ dataDir: join(dir, 'shared-db') });
    await db.start();
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      agents: [
        { id: 'web-1', role: 'web' },
        { id: 'web-2', role: 'web' },
      ],
      coordinatorEnv: {
        DATABASE_URL: db.url,
        ROLLGATE_AGENT_LOG_LINES_PER_S: String(LINES_PER_S),
        ROLLGATE_LOG_MAX_BATCH_LINES: String(MAX_BATCH),
        ROLLGATE_LOG_MAX_LINE_CHARS: String(MAX_LINE),
        ROLLGATE_LOG_RETENTION_DAYS: '1',
        ROLLGATE_PRUNE_INTERVAL_MS: '1000',
      },
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await fleet?.stop();
    await db?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const query = async <T extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
    (await db.pool.query<T>(text, params)).rows;
  const lines = (serverId: string, where = 'true', params: unknown[] = []) =>
    query<{ seq: number | null; code: string; message: string; source: string }>(
      `SELECT seq::float8 AS seq, code, message, source FROM log_lines WHERE server_id = $1 AND ${where} ORDER BY id`,
      [serverId, ...params],
    );
  const agentSeqs = async (serverId: string) => (await lines(serverId, `source = 'agent'`)).map((l) => l.seq);
  const open = async (agentId: string) => {
    const c = connect(fleet, await enrol(fleet, dir, agentId, 'evil'), agentId, 'evil');
    clients.push(c);
    expect(await c.welcomed).toBe(true);
    return c;
  };

  it('issue 17 item 2: poison lines (seq and at_ms ≥ 2^63, a step past int32) are dropped and counted; another agent’s run still finishes with its logs; a journaled Hello is welcomed; a batch failing for good is set aside with an alert', async () => {
    const evil = await open('evil-1');
    evil.call.write({
      logs: {
        streamId: 'evil-st',
        lines: [
          line(1, 'fine before'),
          line(2 ** 63, 'seq past 2^63'),
          line(2, 'at past 2^63', { atMs: 2 ** 63 }),
          line(3, 'a step past int32', { actionId: 'r-x.s2147483648.evil-1.a1' }),
          line(4, 'fine after'),
        ],
      },
    });
    await waitFor('the poison counted', async () =>
      (await lines('evil-1', 'code = $2', [MSG.logLinesRefused.code])).some((l) =>
        l.message.includes('2 out of range'),
      ),
    );
    expect((await lines('evil-1', `source = 'agent'`)).map((l) => l.message)).toEqual([
      'fine before',
      'a step past int32',
      'fine after',
    ]);

    // Another cluster's run: its agent's results and logs are stored, the run finishes.
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
    });
    await runSucceeded(fleet, view.run.id, 90_000);
    const runLines = await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM log_lines WHERE run_id = $1 AND server_id = 'web-1' AND source = 'agent'`,
      [view.run.id],
    );
    expect(runLines[0]!.n).toBeGreaterThan(0);

    // The attacker reconnects with journaled results (none of them its own): it is welcomed.
    evil.close();
    const back = connect(fleet, await enrol(fleet, dir, 'evil-1b', 'evil'), 'evil-1b', 'evil', [
      {
        actionId: `${view.run.id}.s1.web-1.a1`,
        status: 'ACTION_STATUS_SUCCEEDED',
        reason: '',
        atMs: Date.now(),
      },
    ]);
    clients.push(back);
    expect(await back.welcomed).toBe(true);

    // A line PostgreSQL refuses for good (a check constraint stands in for a data exception):
    // set aside in log_dead_letters with an error line, and the lines behind it are stored.
    await db.pool.query(
      `ALTER TABLE log_chunks ADD CONSTRAINT test_poison CHECK (NOT ('poison for good' = ANY (messages)))`,
    );
    try {
      back.call.write({
        logs: {
          streamId: 'back-st',
          lines: [line(1, 'before'), line(2, 'poison for good'), line(3, 'after')],
        },
      });
      await waitFor(
        'the batch set aside',
        async () =>
          (await query(`SELECT 1 FROM log_dead_letters WHERE 'evil-1b' = ANY (server_ids)`)).length > 0,
      );
    } finally {
      await db.pool.query(`ALTER TABLE log_chunks DROP CONSTRAINT test_poison`);
    }
    const [letter] = await query<{ reason: string; line_count: number; lines: { message: string }[] }>(
      `SELECT reason, line_count, lines FROM log_dead_letters WHERE 'evil-1b' = ANY (server_ids)`,
    );
    expect(letter).toMatchObject({
      line_count: 1,
      lines: [expect.objectContaining({ message: 'poison for good' })],
    });
    expect(letter!.reason).toContain('test_poison');
    await waitFor('the alert and the lines behind it stored', async () => {
      const stored = await lines('evil-1b');
      return (
        stored.some((l) => l.code === MSG.logLinesSetAside.code) &&
        stored
          .filter((l) => l.source === 'agent')
          .map((l) => l.message)
          .join() === 'before,after'
      );
    });
    const coordinatorLog = await readFile(join(dir, 'logs', 'coordinator.log'), 'utf8');
    expect(coordinatorLog).toContain(MSG.logLinesSetAside.code);
    // The pipeline moved on: a new line is stored and acknowledged.
    back.call.write({ logs: { streamId: 'back-st', lines: [line(4, 'later')] } });
    await waitFor('the next line acknowledged', async () => back.acked() >= 4);
    expect((await agentSeqs('evil-1b')).at(-1)).toBe(4);
  }, 150_000);

  it('issue 17 item 4: a flooding agent is slowed (back-pressure), not disconnected, while another agent’s heartbeats and logs keep flowing; oversize lines and batches are refused with a clear message', async () => {
    const flood = await open('flood-1');
    const calm = await open('calm-1');
    const heartbeatAt = async (id: string) =>
      (
        await query<{ at: number }>(
          `SELECT (extract(epoch FROM last_heartbeat_at) * 1000)::float8 AS at FROM servers WHERE id = $1`,
          [id],
        )
      )[0]?.at ?? 0;

    let flooding = true;
    let sent = 0;
    let refusedWrites = 0;
    const text = 'x'.repeat(100);
    const flooder = (async () => {
      while (flooding) {
        const batch = Array.from({ length: 50 }, () => line(++sent, text));
        if (!flood.call.write({ logs: { streamId: 'flood-st', lines: batch } })) {
          refusedWrites++;
          await new Promise<void>((r) => {
            const t = setTimeout(r, 500);
            flood.call.once('drain', () => {
              clearTimeout(t);
              r();
            });
          });
        }
      }
    })();
    const floodStart = Date.now();
    try {
      // The calm agent talks while the flood goes on: each of its lines is stored, and its heartbeat
      // written, before it sends the next (the flood never stops meanwhile).
      for (let i = 1; i <= 8; i++) {
        const before = Date.now();
        calm.call.write({ heartbeat: { seq: i, sentAtMs: Date.now() } });
        calm.call.write({ logs: { streamId: 'calm-st', lines: [line(i, `calm ${i}`)] } });
        await waitFor(
          `calm line ${i} stored during the flood`,
          async () => (await agentSeqs('calm-1')).includes(i),
          20_000,
          50,
        );
        await waitFor(
          `calm heartbeat ${i} written`,
          async () => (await heartbeatAt('calm-1')) >= before - 1000,
          20_000,
          100,
        );
        expect(flooding).toBe(true);
      }
    } finally {
      flooding = false;
      await flooder;
    }
    const elapsedS = (Date.now() - floodStart) / 1000;
    const stored = (await agentSeqs('flood-1')).length;
    console.log(
      `[flood] sent ${sent} lines in ${elapsedS.toFixed(1)} s, stored ${stored}, acked ${flood.acked()}, write() refused ${refusedWrites} times`,
    );
    // Slowed: what was taken is bounded by the quota (plus its burst), far below what was sent;
    // HTTP/2 flow control held the sender back.
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThanOrEqual(LINES_PER_S * (elapsedS + 2) + MAX_BATCH);
    expect(sent).toBeGreaterThan(stored);
    expect(refusedWrites).toBeGreaterThan(0);
    // Not disconnected, not lost.
    expect(flood.ended()).toBeNull();
    expect(
      (await query<{ status: string }>(`SELECT status FROM servers WHERE id = 'flood-1'`))[0]?.status,
    ).toBe('connected');
    expect((await lines('flood-1', 'code = $2', [MSG.logQuotaReached.code])).length).toBeGreaterThan(0);
    // The flood keeps draining at the quota's pace: later lines are still stored.
    await waitFor(
      'the flood keeps being taken',
      async () => (await agentSeqs('flood-1')).length > stored,
      20_000,
    );

    // Oversize: a line past the line limit and a batch past the batch limit are refused, and said so.
    calm.call.write({
      logs: { streamId: 'calm-st', lines: [line(20, 'y'.repeat(MAX_LINE + 1)), line(21, 'short')] },
    });
    calm.call.write({
      logs: {
        streamId: 'calm-st',
        lines: Array.from({ length: MAX_BATCH + 1 }, (_, k) => line(22 + k, 'in a big batch')),
      },
    });
    calm.call.write({ logs: { streamId: 'calm-st', lines: [line(500, 'after the refusals')] } });
    await waitFor(
      'the line after the refusals',
      async () => (await agentSeqs('calm-1')).includes(500),
      20_000,
    );
    expect(
      (await lines('calm-1', `source = 'agent'`))
        .map((l) => l.message)
        .filter((m) => m !== 'short' && !m.startsWith('calm ')),
    ).toEqual(['after the refusals']);
    await waitFor('the refusals told', async () => {
      const told = (await lines('calm-1', 'code = $2', [MSG.logLinesRefused.code]))
        .map((l) => l.message)
        .join('\n');
      return told.includes('longer than the line limit') ? told : null;
    });
    const told = (await lines('calm-1', 'code = $2', [MSG.logLinesRefused.code]))
      .map((l) => l.message)
      .join('\n');
    expect(told).toContain(`a line at most ${MAX_LINE} characters, a LogBatch at most ${MAX_BATCH} lines`);
    // Refused lines are acknowledged (they will never be stored): the agent is not stuck resending.
    await waitFor('everything acknowledged', async () => calm.acked() >= 500);
    expect(calm.ended()).toBeNull();
  }, 150_000);

  it('issue 17 item 4: the pruning job deletes log chunks past the retention, expired sessions and portal links, and keeps the rest', async () => {
    await db.pool.query(
      `UPDATE log_chunks SET stored_at = now() - interval '2 days' WHERE server_id = 'evil-1'`,
    );
    const [admin] = await query<{ user_id: string }>(`SELECT user_id FROM sessions LIMIT 1`);
    await db.pool.query(
      `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, from_address)
       VALUES ('expired-session', $1, now() - interval '2 days', now() - interval '1 day', 'test')`,
      [admin!.user_id],
    );
    await db.pool.query(
      `INSERT INTO portal_tokens (token_hash, run_id, recipient, created_by, created_at, expires_at) VALUES
         ('expired-link', 'r-old', 'c@example.com', 'test', now() - interval '9 days', now() - interval '2 days'),
         ('live-link', 'r-old', 'c@example.com', 'test', now(), now() + interval '7 days')`,
    );
    await waitFor(
      'the pruning round',
      async () => {
        const left = await query(
          `SELECT 1 FROM log_chunks WHERE server_id = 'evil-1'
         UNION ALL SELECT 1 FROM sessions WHERE token_hash = 'expired-session'
         UNION ALL SELECT 1 FROM portal_tokens WHERE token_hash = 'expired-link'`,
        );
        return left.length === 0;
      },
      20_000,
    );
    expect((await agentSeqs('calm-1')).length).toBeGreaterThan(0);
    expect(await query(`SELECT token_hash FROM portal_tokens WHERE token_hash = 'live-link'`)).toHaveLength(
      1,
    );
    // The administrator's live session still works.
    expect((await fleet.api.servers.list.query({})).length).toBeGreaterThan(0);
  }, 60_000);
});
