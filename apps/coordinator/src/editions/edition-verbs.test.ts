import { describe, expect, it } from 'vitest';
import { PlanValidationError, type LbConfig, type Plan } from '@rollgate/domain';
import { ApiError, editionRolloutInput } from '@rollgate/api';
import { createMemoryStore, type Engine, type RunRecord, type ServerRecord } from '@rollgate/engine';
import { createEditionVerbs } from './edition-verbs';

function server(
  id: string,
  role: string,
  over: Partial<ServerRecord['services'][number]> = {},
): ServerRecord {
  return {
    id,
    cluster: 'demo',
    role,
    hostname: `${id}.example`,
    agentVersion: '0.1.0',
    capabilities: [],
    gateUrl: '',
    status: 'connected',
    gateOpen: true,
    services: [
      { name: 'demo-app', installedEditions: ['1.0'], activeEdition: '1.0', health: 'healthy', ...over },
    ],
    lastHeartbeatAt: 0,
    connectedAt: 0,
  };
}

const FOUR = [
  server('admin-1', 'admin'),
  server('admin-2', 'admin'),
  server('stream-1', 'stream'),
  server('stream-2', 'stream'),
];

const RUNTIME_LB: LbConfig = {
  mode: 'haproxy-runtime',
  balancers: [{ name: 'lb', runtime: { socketPath: '/run/haproxy/admin.sock' } }],
  pools: [{ name: 'demo', backend: 'demo', servers: {} }],
  checkIntervalMs: 1000,
  fall: 2,
  rise: 2,
  readmitTimeoutMs: 30_000,
  readmitWait: 'up',
  drainageIntervalSec: 7,
};

/** The verbs on a memory store; the engine only records what it is asked to start. */
async function setup(servers: ServerRecord[] = FOUR, lb: LbConfig | null = null) {
  const store = createMemoryStore();
  for (const s of servers) await store.upsertServer(s);
  for (const [i, name] of ['1.0', '2.0'].entries())
    await store.insertEdition({
      app: 'demo-app',
      name,
      sha256: 'a'.repeat(64),
      size: 10,
      createdAt: i,
      createdBy: 'op',
    });
  if (lb) await store.setClusterLb('demo', lb);
  const started: Plan[] = [];
  const engine = {
    async createRun(plan: Plan) {
      started.push(plan);
      return { id: `run-${started.length}`, plan } as unknown as RunRecord;
    },
  } as unknown as Engine;
  return { verbs: createEditionVerbs({ store, engine }), started };
}

const input = (over: object = {}) =>
  editionRolloutInput.parse({ app: 'demo-app', cluster: 'demo', edition: '2.0', ...over });

async function refusal(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

describe('editions.plan', () => {
  it('compiles the grouped rollout `rollout` would start, without starting it', async () => {
    const { verbs, started } = await setup(FOUR, { ...RUNTIME_LB, mode: 'gate-only' });
    const plan = await verbs.plan(input({ groupSize: 2 }));
    expect(started).toEqual([]);
    expect(plan.procedure).toBe('rollout');
    expect(plan.fromEdition?.name).toBe('1.0');
    expect(plan.toEdition.name).toBe('2.0');
    expect(plan.groups.map((g) => g.servers.map((s) => s.role).sort())).toEqual([
      ['admin', 'stream'],
      ['admin', 'stream'],
    ]);
    // The cluster's drainage interval when the input gives none, as the rollout uses.
    expect(plan.rollout).toMatchObject({ strategy: 'grouped', groupSize: 2, drainageIntervalSec: 7 });
    expect(plan.steps[0]!.key).toBe('prep.stage');
    expect(plan.readiness).toEqual([]);
    expect(plan.schedule).toBeNull();

    await verbs.rollout(input({ groupSize: 2 }), 'op');
    const { readiness: _r, schedule: _s, ...compiled } = plan;
    expect(started).toEqual([compiled]);
  });

  it('takes the fast path when the edition is installed everywhere, as the rollout would', async () => {
    const installed = FOUR.map((s) => ({
      ...s,
      services: [{ ...s.services[0]!, installedEditions: ['1.0', '2.0'] }],
    }));
    const { verbs } = await setup(installed);
    const plan = await verbs.plan(input({ drainageIntervalSec: 1 }));
    expect(plan.rollout).toMatchObject({ fastPath: true, drainageIntervalSec: 1 });
    expect(plan.steps.some((s) => s.key === 'prep.stage')).toBe(false);
  });

  it("refuses what the rollout refuses: too large a group, an edition never uploaded, a target that isn't there or not connected", async () => {
    const { verbs } = await setup();
    const big = await refusal(verbs.plan(input({ groupSize: 5 })));
    expect(big).toBeInstanceOf(PlanValidationError);
    expect((big as PlanValidationError).issues.map((i) => i.code)).toContain('GROUP_SIZE_TOO_LARGE');
    expect((await refusal(verbs.plan(input({ edition: '9.9' })))).message).toMatch(
      /"9\.9" of demo-app has not been uploaded \(uploaded: 1\.0, 2\.0\)/,
    );
    expect((await refusal(verbs.plan(input({ cluster: 'nowhere' })))).message).toMatch(
      /No server has registered in cluster "nowhere"/,
    );
    const lost = await setup([...FOUR.slice(1), { ...FOUR[0]!, status: 'lost' }]);
    const down = await refusal(lost.verbs.plan(input()));
    expect(down).toBeInstanceOf(ApiError);
    expect(down.message).toContain('admin-1 (lost)');
  });

  it('refuses the atomic strategy without a runtime API, saying why, and compiles its switch with one', async () => {
    for (const lb of [null, { ...RUNTIME_LB, mode: 'gate-only' as const }]) {
      const { verbs, started } = await setup(FOUR, lb);
      const err = await refusal(verbs.plan(input({ strategy: 'atomic' })));
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('PRECONDITION_FAILED');
      expect(err.message).toContain("HAProxy's runtime API");
      expect(err.message).toContain(lb ? 'gate-only' : 'no load balancer is configured');
      expect(started).toEqual([]);
    }
    const { verbs, started } = await setup(FOUR, RUNTIME_LB);
    const plan = await verbs.plan(input({ strategy: 'atomic' }));
    expect(started).toEqual([]);
    expect(plan.rollout?.strategy).toBe('atomic');
    expect(plan.steps.filter((s) => s.kind === 'switch').map((s) => s.key)).toEqual(['switch']);
    expect(plan.groups.map((g) => g.servers.map((s) => s.role).sort())).toEqual([
      ['admin', 'stream'],
      ['admin', 'stream'],
    ]);
  });

  it('plans a lone server side by side when its agent has a beside port and HAProxy a runtime API', async () => {
    const solo = server('solo-1', 'web', { besidePort: 9091 });
    const beside = await setup([solo], RUNTIME_LB);
    const plan = await beside.verbs.plan(input());
    expect(plan.rollout?.beside).toBe(true);
    expect(plan.steps.map((s) => [s.key, s.kind])).toEqual([
      ['prep.stage', 'prepare'],
      ['beside.start', 'upgrade'],
      ['beside.in', 'switch'],
      ['beside.upgrade', 'upgrade'],
      ['beside.out', 'switch'],
      ['beside.stop', 'upgrade'],
    ]);
    // Without the runtime API the lone server cannot be switched: refused, with the way out.
    const gateOnly = await setup([solo], { ...RUNTIME_LB, mode: 'gate-only' });
    const err = await refusal(gateOnly.verbs.plan(input()));
    expect((err as PlanValidationError).issues[0]).toMatchObject({ code: 'GROUP_EMPTIES_ROLE' });
  });

  it("honours the cluster's load-balancer pools: no group or half takes a pool whole (issue 14 item 1)", async () => {
    // admin-1 and stream-1 also run a runtime service, in a pool of its own that crosses the roles.
    const withRuntime = (s: ServerRecord): ServerRecord => ({
      ...s,
      services: [...s.services, { ...s.services[0]!, name: 'runtime' }],
    });
    const fleet = FOUR.map((s) => (s.id.endsWith('-1') ? withRuntime(s) : s));
    const pooled: LbConfig = {
      ...RUNTIME_LB,
      pools: [
        { name: 'app', backend: 'be_app', service: 'demo-app', servers: {} },
        { name: 'rt', backend: 'be_rt', service: 'runtime', servers: {} },
      ],
    };
    const ids = (plan: Plan) => plan.groups.map((g) => g.servers.map((s) => s.id));
    const { verbs } = await setup(fleet, pooled);
    expect(ids(await verbs.plan(input({ groupSize: 2 })))).toEqual([
      ['admin-1', 'stream-2'],
      ['admin-2', 'stream-1'],
    ]);
    expect(ids(await verbs.plan(input({ strategy: 'atomic' })))).toEqual([
      ['admin-1', 'stream-2'],
      ['admin-2', 'stream-1'],
    ]);
    // Without the pools, the first group would be admin-1 and stream-1: the whole runtime pool.
    const legacy = await setup(fleet, RUNTIME_LB);
    expect(ids(await legacy.verbs.plan(input({ groupSize: 2 })))[0]).toEqual(['admin-1', 'stream-1']);
    // A pool of one server cannot keep a server while it is rolled out: refused, naming it.
    const lone = await setup(
      FOUR.map((s) => (s.id === 'admin-1' ? withRuntime(s) : s)),
      pooled,
    );
    const err = await refusal(lone.verbs.plan(input()));
    expect((err as PlanValidationError).issues[0]).toMatchObject({ code: 'CAPACITY_POOL_EMPTY' });
    expect(err.message).toContain('pool of admin-1 has a single server');
  });
});
