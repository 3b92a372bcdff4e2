// Bad input at the coordinator's two doors, against a real coordinator (embedded PostgreSQL) with
// its demo fleet: thousands of malformed tRPC calls and gRPC messages. Each must get a clear error
// (never a 500 or a crash), the process must stay up, and the database must be unchanged.
// The generator is seeded (ROLLGATE_FUZZ_SEED replays a failure); the seed is printed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { appRouter } from '@rollgate/api';
import { MAX_RESULT_JSON_CHARS, parseActionResultJson } from '@rollgate/domain';
import { loadAgentProtocol } from '@rollgate/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';
import { faultRandom } from '@rollgate/demo-fleet/faults';

// Seeded like the fault tests: the seed is printed, ROLLGATE_FUZZ_SEED=<seed> replays a failure.
const R = faultRandom(process.env.ROLLGATE_FUZZ_SEED, Math.random, 'ROLLGATE_FUZZ_SEED');
const SEED = R.seed;

const NASTY_STRINGS = [
  '',
  ' ',
  '../../etc/passwd',
  '/etc/shadow',
  '..',
  'a/b',
  'C:\\Windows',
  '\u0000',
  '\u202e\u0000evil',
  '💥'.repeat(50),
  '<script>alert(1)</script>',
  "'; DROP TABLE runs; --",
  '%2e%2e%2f',
  'x'.repeat(70),
  'x'.repeat(5000),
  'RG9999Z',
  'null',
  '{"__proto__":{"polluted":1}}',
];

/** A value of a random wrong kind, sometimes a huge or nested one. */
function junk(depth = 0): unknown {
  switch (R.below(depth > 2 ? 8 : 11)) {
    case 0:
      return R.pick(NASTY_STRINGS);
    case 1:
      return -R.below(1e9) - 1;
    case 2:
      return R.next() * 1e300;
    case 3:
      return R.pick([true, false, null]);
    case 4:
      return Number.MAX_SAFE_INTEGER + R.below(1000);
    case 5:
      return 'y'.repeat(R.pick([100_000, 1_000_000]));
    case 6:
      return [];
    case 7:
      return R.pick([0.5, -0, 1e-9]);
    case 8:
      return Array.from({ length: R.below(5) }, () => junk(depth + 1));
    case 9:
      return Object.fromEntries(Array.from({ length: R.below(4) }, (_, i) => [`k${i}`, junk(depth + 1)]));
    default:
      return { __proto__: { polluted: true }, constructor: { prototype: { x: 1 } } };
  }
}

/** A plausible input for a procedure, with at least one field broken (so no mutation is valid). */
function malformed(): unknown {
  const base: Record<string, unknown> = {
    cluster: 'demo',
    app: 'demo-app',
    edition: '2.0',
    runId: 'r-nope',
    serverId: 'admin-1',
    name: '9.9',
    gate: 'snapshots',
    reason: 'fuzz',
    decision: 'approve',
    contentBase64: 'H4sI',
    config: { mode: 'gate-only', backend: 'demo' },
    settings: {},
  };
  const keys = Object.keys(base);
  const broken = new Set(Array.from({ length: 1 + R.below(3) }, () => R.pick(keys)));
  for (const k of broken) {
    if (R.below(4) === 0) delete base[k];
    else base[k] = junk();
  }
  // Mutations must never be valid by chance: the names every one of them needs are broken above,
  // or an unknown key / wrong top-level shape is used below.
  if (R.below(5) === 0) return junk();
  return base;
}

describe('bad input at the coordinator: tRPC and gRPC', () => {
  let dir: string;
  let fleet: Fleet;

  async function snapshotDb() {
    const [runs, editions, audit, servers, settings, lb] = await Promise.all([
      fleet.api.upgrade.list.query(),
      fleet.api.editions.list.query({}),
      fleet.api.audit.list.query(),
      fleet.api.servers.list.query({}),
      fleet.api.cluster.settings.query({ cluster: 'demo' }),
      fleet.api.lb.show.query({ cluster: 'demo' }),
    ]);
    return JSON.stringify({
      runs: runs.map((r) => [r.id, r.status]),
      editions: editions.map((e) => [e.name, e.sha256]),
      audit: audit.length,
      servers: servers.map((s) => [s.id, s.cluster, s.role, s.hostname, s.gateUrl]),
      settings,
      lb: lb.config,
    });
  }

  async function healthy() {
    const res = await fetch(`${fleet.url}/healthz`);
    return res.status === 200;
  }

  beforeAll(async () => {
    console.log(`[fuzz] seed ${SEED} (replay with ROLLGATE_FUZZ_SEED=${SEED})`);
    dir = await mkdtemp(join(tmpdir(), 'rollgate-fuzz-'));
    // Plaintext agents (docs/adr/0013): the gRPC fuzzing below speaks to the gateway without a certificate.
    fleet = await startFleet({ dir, heartbeatMs: 1000, insecure: true });
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 4,000 malformed tRPC calls with a clear 4xx error and changes nothing', async () => {
    type Schema = { safeParse(v: unknown): { success: boolean } };
    const procedures = Object.entries(
      (
        appRouter as unknown as {
          _def: { procedures: Record<string, { _def: { type: string; inputs: Schema[] } }> };
        }
      )._def.procedures,
    )
      // Signing out would end the session the rest of the run uses (it takes no input to break).
      .filter(([path, p]) => p._def.type !== 'subscription' && path !== 'auth.logout')
      .map(([path, p]) => ({ path, type: p._def.type, inputs: p._def.inputs }));
    /** Malformed for this procedure by its own schema: a mutation never runs by chance. */
    const invalidFor = (inputs: Schema[]) => {
      for (;;) {
        const candidate = malformed();
        if (inputs.length === 0 || inputs.some((schema) => !schema.safeParse(candidate).success))
          return candidate;
      }
    };
    expect(procedures.length).toBeGreaterThan(30);
    // A session of its own: nothing the fuzz does to it can sign the fleet's own client out.
    const { token: fuzzToken } = await fleet.api.auth.login.mutate({
      username: fleet.admin.username,
      password: fleet.admin.password,
    });
    const before = await snapshotDb();
    const statuses = new Map<number, number>();
    const N = 4000;
    for (let i = 0; i < N; i++) {
      const { path, type, inputs } = R.pick(procedures);
      const input = invalidFor(inputs);
      // Signed in as the administrator (so the inputs themselves are checked), now and then with a
      // wrong or no token (refused before anything else).
      const auth = R.pick([fuzzToken, fuzzToken, fuzzToken, 'x'.repeat(43), '']);
      const headers: Record<string, string> = auth ? { authorization: `Bearer ${auth}` } : {};
      let url = `${fleet.url}/trpc/${path}`;
      let init: RequestInit;
      if (R.below(10) === 0) {
        // Not even JSON, or JSON of the wrong envelope.
        init = {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: R.pick(['{', 'null', '[1,2', '\u0000\u0001', '"x"'.repeat(1000)]),
        };
      } else if (type === 'query') {
        url = `${url}?input=${encodeURIComponent(JSON.stringify(input) ?? '')}`;
        init = { headers };
      } else {
        init = {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(input) ?? '',
        };
      }
      let res: Response;
      try {
        res = await fetch(url, init);
      } catch (err) {
        // A request too large for HTTP itself (a megabyte URL or body) may be refused and the
        // connection closed while the client is still sending: the reset is the answer there.
        const size = url.length + (typeof init.body === 'string' ? init.body.length : 0);
        // EPIPE (the client was still writing when the socket closed) is the same refusal as
        // ECONNRESET: which one the client sees depends only on timing.
        const code = (err as { cause?: { code?: string } }).cause?.code;
        const reset = code === 'ECONNRESET' || code === 'EPIPE';
        if (!(reset && size > 64 * 1024)) {
          throw new Error(
            `${path} (${size} bytes): ${(err as Error).message} ${String((err as { cause?: unknown }).cause)}`,
          );
        }
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
        continue;
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const text = await res.text();
      if (res.status >= 500) {
        throw new Error(
          `${path} answered ${res.status} to ${JSON.stringify(input)?.slice(0, 300)}: ${text.slice(0, 500)}`,
        );
      }
      // A URL or body too large for HTTP itself is refused by Node before tRPC sees it: the status
      // (431 headers too large, 413 payload too large) is the clear answer there.
      if (res.status >= 400 && ![413, 414, 431].includes(res.status)) {
        let body: { error?: { message?: string } };
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          throw new Error(
            `${path} answered ${res.status} with a body that is not JSON: ${JSON.stringify(text.slice(0, 200))} (input ${JSON.stringify(input)?.slice(0, 200)})`,
          );
        }
        expect(body.error?.message, `${path}: an error without a message`).toBeTruthy();
        // The message says what is wrong, not a stack trace.
        expect(body.error!.message).not.toMatch(/\n\s+at /);
      }
      if (i % 500 === 499) expect(await healthy()).toBe(true);
    }
    console.log(
      `[fuzz] tRPC: ${N} calls over ${procedures.length} procedures; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(await snapshotDb()).toBe(before);
  });

  it('refuses 1,500 malformed gRPC messages and hellos, stays up, and registers no server', async () => {
    const before = await snapshotDb();
    const proto = loadAgentProtocol();
    const Client = proto.rollgate.agent.v1.AgentService;
    const client = new Client(fleet.grpcAddress, grpc.credentials.createInsecure());
    // A client that sends raw bytes as AgentMessage: the coordinator must decode defensively.
    const raw = new grpc.Client(fleet.grpcAddress, grpc.credentials.createInsecure());
    const codes = new Map<string, number>();
    const count = (k: string) => codes.set(k, (codes.get(k) ?? 0) + 1);

    const badHello = () => ({
      hello: {
        agentId: R.pick([...NASTY_STRINGS, 'admin-1']),
        agentVersion: R.pick(['', 'x'.repeat(300), '0.1.0']),
        cluster: R.pick([...NASTY_STRINGS.slice(0, 8), 'demo']),
        role: R.pick(['', '../r', 'x'.repeat(200)]),
        hostname: R.pick(['', 'h'.repeat(5000), 'ok']),
        gateUrl: R.pick(['javascript:alert(1)', 'not a url', '', 'http://[::1']),
        services: Array.from({ length: R.pick([0, 1, 3]) }, () => ({
          name: R.pick(NASTY_STRINGS),
          installedEditions: [R.pick(NASTY_STRINGS)],
          activeEdition: R.pick(NASTY_STRINGS),
          port: R.below(70000),
        })),
      },
    });

    const N = 1500;
    for (let i = 0; i < N; i++) {
      const kind = R.below(4);
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => {
          call.cancel();
          resolve('timeout');
        }, 5000);
        let call: grpc.ClientDuplexStream<unknown, unknown>;
        if (kind === 0) {
          // Random bytes: not a protobuf AgentMessage at all (or a truncated one).
          call = raw.makeBidiStreamRequest(
            '/rollgate.agent.v1.AgentService/Connect',
            (b: Buffer) => b,
            (b: Buffer) => b,
          ) as unknown as grpc.ClientDuplexStream<unknown, unknown>;
          const len = R.pick([1, 7, 64, 4096]);
          call.write(Buffer.from(Array.from({ length: len }, () => R.below(256))));
        } else {
          call = client.Connect() as unknown as grpc.ClientDuplexStream<unknown, unknown>;
          if (kind === 1) call.write(badHello());
          else if (kind === 2)
            call.write({ heartbeat: { seq: R.below(10), sentAtMs: -1 } }); // before any Hello
          else
            call.write({
              logs: {
                streamId: R.pick(NASTY_STRINGS),
                lines: [
                  { actionId: R.pick(NASTY_STRINGS), code: 'x', message: 'y'.repeat(R.pick([10, 100_000])) },
                ],
              },
            });
        }
        call.on('data', (m: { body?: string }) => {
          // A Welcome to a malformed Hello would be a failure; say so and end.
          if (m?.body === 'welcome') {
            clearTimeout(timer);
            call.cancel();
            resolve('welcomed');
          }
        });
        call.on('error', (err: grpc.ServiceError) => {
          clearTimeout(timer);
          resolve(grpc.status[err.code] ?? String(err.code));
        });
        call.on('end', () => {
          clearTimeout(timer);
          resolve('ended');
        });
      });
      count(outcome);
      expect(outcome, `message kind ${kind} was accepted`).not.toBe('welcomed');
      if (i % 300 === 299) expect(await healthy()).toBe(true);
    }
    // FetchArtifact with checksums that are not checksums, or of nothing stored.
    for (let i = 0; i < 50; i++) {
      const code = await new Promise<string>((resolve) => {
        const s = client.FetchArtifact({
          sha256: R.pick([...NASTY_STRINGS, 'a'.repeat(64)]),
          agentId: 'admin-1',
        });
        s.on('data', () => {});
        s.on('error', (err: grpc.ServiceError) => resolve(grpc.status[err.code] ?? String(err.code)));
        s.on('end', () => resolve('ended'));
      });
      count(`fetch:${code}`);
      expect(code).not.toBe('ended');
    }
    client.close();
    raw.close();
    console.log(
      `[fuzz] gRPC: ${N} streams + 50 fetches; outcomes ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    expect(await healthy()).toBe(true);
    expect(await snapshotDb()).toBe(before);
    // The real agents were never disturbed.
    expect((await fleet.api.servers.list.query({})).every((s) => s.status === 'connected')).toBe(true);
  });
  it('issue 17: refuses 1,500 hellos with one field out of bounds, 2,000 broken results, 1,000 forged updates and 1,000 log batches out of range on a live stream', async () => {
    const proto = loadAgentProtocol();
    const client = new proto.rollgate.agent.v1.AgentService(
      fleet.grpcAddress,
      grpc.credentials.createInsecure(),
    );
    const codes = new Map<string, number>();
    const count = (k: string) => codes.set(k, (codes.get(k) ?? 0) + 1);
    const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
    const service = { name: 'svc', installedEditions: ['1.0'], activeEdition: '1.0', port: 8080 };
    /** Each breaks exactly one bound; the rest of the Hello is valid. */
    const breakers: [string, (h: Record<string, unknown>) => void][] = [
      ['agentId', (h) => (h.agentId = 'a'.repeat(129))],
      ['cluster', (h) => (h.cluster = 'c'.repeat(129))],
      ['role', (h) => (h.role = 'r'.repeat(129))],
      ['capabilities', (h) => (h.capabilities = many(65, (i) => `cap${i}`))],
      ['capability', (h) => (h.capabilities = ['x'.repeat(65)])],
      ['services', (h) => (h.services = many(65, (i) => ({ ...service, name: `s${i}` })))],
      ['service name', (h) => (h.services = [{ ...service, name: 'n'.repeat(65) }])],
      ['editions', (h) => (h.services = [{ ...service, installedEditions: many(65, (i) => `e${i}`) }])],
      ['edition name', (h) => (h.services = [{ ...service, activeEdition: 'v'.repeat(65) }])],
      ['service port', (h) => (h.services = [{ ...service, port: 65536 + R.below(1e6) }])],
      ['agentCheckPort', (h) => (h.agentCheckPort = 65536 + R.below(1e6))],
      ['journaled', (h) => (h.journaled = many(1025, () => ({ actionId: 'r.s1.x.a1', status: 2 })))],
      ['journaled id', (h) => (h.journaled = [{ actionId: 'i'.repeat(513), status: 4 }])],
      [
        'journaled reason',
        (h) => (h.journaled = [{ actionId: 'r.s1.x.a1', status: 5, reason: 'w'.repeat(16_385) }]),
      ],
      [
        'journaled result',
        (h) =>
          (h.journaled = [
            { actionId: 'r.s1.x.a1', status: 4, resultJson: ' '.repeat(MAX_RESULT_JSON_CHARS + 1) },
          ]),
      ],
      ['hostname', (h) => (h.hostname = 'h'.repeat(256))],
      ['agentVersion', (h) => (h.agentVersion = 'v'.repeat(65))],
    ];
    const before = await snapshotDb();
    const H = 1500;
    for (let i = 0; i < H; i++) {
      const [what, breakIt] = R.pick(breakers);
      const hello: Record<string, unknown> = {
        agentId: `fz-${i}`,
        cluster: 'demo',
        role: 'admin',
        hostname: 'fuzz',
        agentVersion: '0.1.0',
        gateUrl: 'http://127.0.0.1:1/gate',
        capabilities: [],
        services: [service],
      };
      breakIt(hello);
      const outcome = await new Promise<{ code: string; details: string }>((resolve) => {
        const call = client.Connect();
        const timer = setTimeout(() => {
          call.cancel();
          resolve({ code: 'timeout', details: '' });
        }, 10_000);
        call.on('data', (m: { body?: string }) => {
          if (m?.body === 'welcome') {
            clearTimeout(timer);
            call.cancel();
            resolve({ code: 'welcomed', details: '' });
          }
        });
        call.on('error', (err: grpc.ServiceError) => {
          clearTimeout(timer);
          resolve({ code: grpc.status[err.code] ?? String(err.code), details: err.details });
        });
        call.write({ hello });
      });
      count(`hello:${outcome.code}`);
      expect(outcome.code, `a Hello with a bad ${what} was not refused`).toBe('INVALID_ARGUMENT');
      expect(outcome.details).toMatch(/^hello rejected: .+Fix the agent's config file/);
    }

    // Results: a valid one of each kind with one field broken (or junk) is never taken, never throws.
    const valid: Record<string, unknown>[] = [
      { kind: 'command', command: 'snap', exitCode: 0, outputTail: '', ms: 1 },
      { kind: 'dbRestore', file: '/x', tables: { t: 1 } },
      {
        kind: 'dbBackup',
        file: '/x',
        bytes: 1,
        sha256: 'a'.repeat(64),
        tables: {},
        verified: true,
        verifyMs: 1,
      },
      { kind: 'backupFiles', archive: '/a', bytes: 1, sha256: 'b'.repeat(64), entries: 1, directories: [] },
      { kind: 'functionalTest', baseUrl: 'http://x', probes: [], passed: 0, failed: 0 },
    ];
    const R_N = 2000;
    let broken = 0;
    for (let i = 0; i < R_N; i++) {
      const base = { ...R.pick(valid) };
      const keys = Object.keys(base);
      const k = R.pick([...keys, 'extra']);
      base[k] = junk();
      // junk() may by chance produce a value the field accepts (e.g. a boolean for `verified`).
      const json = JSON.stringify(R.below(10) === 0 ? [base] : base) ?? 'null';
      const parsed = parseActionResultJson(json);
      if (!parsed.ok) {
        broken++;
        expect(parsed.why.length).toBeLessThan(2000);
      } else {
        expect(json.length).toBeLessThanOrEqual(MAX_RESULT_JSON_CHARS);
      }
      if (k === 'kind' || k === 'extra') expect(parsed.ok).toBe(false);
    }
    expect(broken).toBeGreaterThan(R_N / 2);

    // A welcomed stream of a new server sends forged and malformed updates: every one refused, at
    // most 20 audited (the audit log is bounded per stream), no run touched, the stream kept.
    const call = client.Connect();
    const welcomed = new Promise<boolean>((resolve) => {
      call.on('data', (m: { body?: string }) => m?.body === 'welcome' && resolve(true));
      call.on('error', () => resolve(false));
    });
    call.write({
      hello: {
        agentId: 'fz-results',
        cluster: 'fuzz-results',
        role: 'fuzz',
        hostname: 'fuzz',
        agentVersion: '0.1.0',
        gateUrl: 'http://127.0.0.1:1/gate',
      },
    });
    expect(await welcomed).toBe(true);
    const auditBefore = (await fleet.api.audit.list.query()).filter(
      (e) => e.action === 'agents.update-refused',
    ).length;
    const runsBefore = JSON.stringify((await fleet.api.upgrade.list.query()).map((r) => [r.id, r.status]));
    const U = 1000;
    for (let i = 0; i < U; i++) {
      const body = R.pick(valid);
      call.write({
        actionUpdate: {
          actionId: R.pick([`r-${i}.s1.admin-1.a1`, `r-${i}.s999999999.admin-2.a1`, R.pick(NASTY_STRINGS)]),
          status: R.pick([1, 2, 3, 4, 5, 0, 99]) as 1,
          reason: R.pick(['', 'forged', 'z'.repeat(50_000)]),
          atMs: R.below(2 ** 31),
          resultJson: R.pick(['', JSON.stringify(body), JSON.stringify({ ...body, extra: junk() }), '{']),
        },
      });
    }
    call.write({ heartbeat: { seq: 1, sentAtMs: Date.now() } });
    const audited = await waitFor(
      'the refusals to be audited',
      async () => {
        const n = (await fleet.api.audit.list.query()).filter(
          (e) => e.action === 'agents.update-refused',
        ).length;
        return n - auditBefore >= 20 ? n - auditBefore : null;
      },
      60_000,
      100,
    );
    // Every update is handled in order before the heartbeat: wait until the stream has read them all.
    await waitFor(
      'the stream to still be connected after the updates',
      async () => {
        const s = (await fleet.api.servers.list.query({})).find((x) => x.id === 'fz-results');
        return s?.status === 'connected' ? s : null;
      },
      30_000,
      100,
    );
    expect(audited).toBe(20);

    // Log lines with every field at or past its range (2^63 and 2^64 - 1, negative times, overlong
    // messages, ids and batches): each is dropped and counted or refused, never stalls the pipeline.
    const L = 1000;
    const big = ['9223372036854775807', '9223372036854775808', '18446744073709551615', '4294967296'];
    const logValue = () => R.pick([...big, String(Date.now()), String(R.below(2 ** 31)), '1']);
    let sentLines = 0;
    for (let i = 0; i < L; i++) {
      // A batch over the line limit carries short lines: one gRPC message stays under its 4 MiB cap
      // (past it gRPC itself ends the stream, a refusal of another kind).
      const n = R.pick([1, 2, 5, 1001]);
      const lines = many(n, (j) => ({
        actionId: R.pick(
          n > 5 ? ['', `r-${i}.s1.fz-results.a1`] : ['', R.pick(NASTY_STRINGS), 'a'.repeat(600)],
        ),
        atMs: R.pick([logValue(), '-1', '-9223372036854775808']),
        level: R.pick([0, 1, 2, 3, 4, 99]) as 1,
        code: R.pick(n > 5 ? ['RG0120I', ''] : ['RG0120I', '', 'x'.repeat(300)]),
        message: n > 5 ? 'fuzz' : R.pick(['fuzz', 'm'.repeat(R.below(20_000)), R.pick(NASTY_STRINGS)]),
        seq: R.pick([logValue(), String(i * 2000 + j + 1)]),
      }));
      sentLines += lines.length;
      call.write({ logs: { streamId: R.pick(['fz-stream', 's'.repeat(129)]), lines } });
    }
    const sentAt = Date.now();
    call.write({ heartbeat: { seq: 2, sentAtMs: sentAt } });
    // The heartbeat is read after every batch before it, and is stored in the same batched writes
    // as the fleet's own agents' heartbeats: all of them fresh means nothing stalled.
    await waitFor(
      'a fresh heartbeat from the fuzzing stream and from every agent of the fleet',
      async () => {
        const all = await fleet.api.servers.list.query({});
        const fresh = all.filter((x) => x.status === 'connected' && (x.lastHeartbeatAt ?? 0) > sentAt);
        return fresh.length === all.length && all.some((x) => x.id === 'fz-results') ? fresh : null;
      },
      60_000,
      100,
    );
    expect(sentLines).toBeGreaterThan(L);
    call.end();
    client.close();
    console.log(
      `[fuzz] issue 17: ${H} bounded hellos, ${R_N} results (${broken} refused), ${U} forged updates, ${L} log batches; outcomes ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    expect(JSON.stringify((await fleet.api.upgrade.list.query()).map((r) => [r.id, r.status]))).toBe(
      runsBefore,
    );
    const after = JSON.parse(await snapshotDb()) as { servers: unknown[][]; audit: number };
    const was = JSON.parse(before) as { servers: unknown[][]; audit: number };
    // The only new server is the one stream that said a valid Hello; the only new audit entries its refusals.
    expect(after.servers.filter((x) => x[0] !== 'fz-results')).toEqual(was.servers);
    expect(after.audit).toBe(was.audit + 20);
    expect(await healthy()).toBe(true);
  });
});
