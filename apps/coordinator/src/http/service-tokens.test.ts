// Issue 16 item 5: service tokens, unit level. The service with a fake clock and the in-memory
// store, and the real API router (createCaller) for roles, the cluster scope and the audit rows.
import { describe, expect, it } from 'vitest';
import { appRouter, createQueries, type ApiContext, type ApiServices } from '@rollgate/api';
import { createMemoryStore, type RunRecord, type ServerRecord } from '@rollgate/engine';
import type { UserView } from '@rollgate/domain';
import { auditedTokens, createMemoryServiceTokenStore, createServiceTokens } from './service-tokens';

function setup() {
  let now = 1_800_000_000_000;
  const clock = { now: () => now };
  const tokenStore = createMemoryServiceTokenStore();
  const tokens = createServiceTokens({ store: tokenStore, clock, maxLive: 3 });
  const store = createMemoryStore();
  const services = {
    version: 'test',
    queries: createQueries({ store }),
    tokens: auditedTokens(tokens, (event) => store.appendAudit({ at: clock.now(), ...event })),
    auth: { authenticate: (t: string) => tokens.authenticate(t) },
    clusters: { getSettings: async (cluster: string) => ({ cluster }) },
    lb: { show: async (cluster: string) => ({ cluster }) },
  } as unknown as ApiServices;
  const admin: UserView = {
    id: 'u1',
    username: 'alice',
    role: 'admin',
    createdAt: now,
    createdBy: 'bootstrap',
    disabledAt: null,
  };
  const asAdmin = appRouter.createCaller({
    actor: 'alice',
    principal: { kind: 'user', user: admin },
    from: '10.0.0.9',
    token: 'session',
    services,
  });
  /** A caller as the HTTP server builds it for a bearer token. */
  async function asToken(token: string) {
    const principal = (await services.auth.authenticate(token)) ?? { kind: 'anonymous' as const };
    const ctx: ApiContext = {
      actor: principal.kind === 'user' ? principal.user.username : 'anonymous',
      principal,
      from: '10.0.0.7',
      token,
      services,
    };
    return appRouter.createCaller(ctx);
  }
  return { services, store, tokens, tokenStore, asAdmin, asToken, advance: (ms: number) => (now += ms) };
}

const server = (id: string, cluster: string) =>
  ({
    id,
    cluster,
    role: 'web',
    hostname: id,
    agentVersion: '1',
    capabilities: [],
    gateUrl: 'http://127.0.0.1:1/gate',
    status: 'connected',
    gateOpen: true,
    services: [],
    lastHeartbeatAt: null,
    connectedAt: null,
  }) as unknown as ServerRecord;

describe('issue 16 item 5: service tokens', () => {
  it('issue 16 item 5: a token is rgt_ and 256 random bits, shown once, stored as its sha256 only', async () => {
    const { asAdmin, tokenStore } = setup();
    const { token, view } = await asAdmin.tokens.create({ name: 'ci', role: 'operator' });
    expect(token).toMatch(/^rgt_[A-Za-z0-9_-]{43}$/);
    const [row] = await tokenStore.list();
    expect(row!.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(token.slice(4));
    // The default expiry is 30 days; the list never carries the token.
    expect(view.expiresAt - view.createdAt).toBe(30 * 86_400_000);
    const listed = await asAdmin.tokens.list();
    expect(JSON.stringify(listed)).not.toContain(token.slice(4));
    expect(listed).toEqual([expect.objectContaining({ name: 'ci', role: 'operator', state: 'active' })]);
  });

  it('issue 16 item 5: expiry is bounded (10 s to 365 days) and names are unique among live tokens', async () => {
    const { asAdmin } = setup();
    await expect(
      asAdmin.tokens.create({ name: 'ci', role: 'viewer', expiresInSeconds: 400 * 86_400 }),
    ).rejects.toThrow(/at most 365 days/);
    await expect(asAdmin.tokens.create({ name: 'ci', role: 'viewer', expiresInSeconds: 1 })).rejects.toThrow(
      /at least 10 s/,
    );
    await asAdmin.tokens.create({ name: 'ci', role: 'viewer' });
    await expect(asAdmin.tokens.create({ name: 'ci', role: 'viewer' })).rejects.toThrow(
      /named "ci" exists .*rollgate token revoke ci/,
    );
    await asAdmin.tokens.revoke({ name: 'ci' });
    // A revoked name may be given to a new token; live tokens are bounded (3 in this setup).
    await asAdmin.tokens.create({ name: 'ci', role: 'viewer' });
    await asAdmin.tokens.create({ name: 'b', role: 'viewer' });
    await asAdmin.tokens.create({ name: 'c', role: 'viewer' });
    await expect(asAdmin.tokens.create({ name: 'd', role: 'viewer' })).rejects.toThrow(
      /3 live service tokens/,
    );
  });

  it('issue 16 item 5: a token acts with its role, stamps its last use and audits every call', async () => {
    const { asAdmin, asToken, store } = setup();
    const { token } = await asAdmin.tokens.create({ name: 'ci', role: 'viewer' });
    const api = await asToken(token);
    expect(await api.auth.whoami()).toEqual(
      expect.objectContaining({ username: 'token:ci', role: 'viewer' }),
    );
    await expect(api.lb.clear({ cluster: 'demo' })).rejects.toThrow(
      /token:ci is a viewer; "lb.clear" needs the administrator role/,
    );
    const [listed] = await asAdmin.tokens.list();
    expect(listed!.lastUsedAt).not.toBeNull();
    expect(listed!.lastUsedFrom).toBe('10.0.0.7');
    const audit = await store.listAudit({ limit: 50 });
    expect(audit.filter((a) => a.action === 'token.use').map((a) => a.details.procedure)).toEqual([
      'auth.whoami',
    ]);
    expect(audit.some((a) => a.action === 'token.create' && a.target === 'ci' && a.actor === 'alice')).toBe(
      true,
    );
    expect(JSON.stringify(audit)).not.toContain(token.slice(4));
  });

  it('issue 16 item 5: a cluster-scoped token cannot act on another cluster, by name, run or server', async () => {
    const { asAdmin, asToken, store } = setup();
    const { token } = await asAdmin.tokens.create({ name: 'ci', role: 'operator', cluster: 'demo' });
    const api = await asToken(token);
    await store.upsertServer(server('web-1', 'demo'));
    await store.upsertServer(server('web-9', 'prod'));
    await store.createRun(
      { id: 'r-prod', status: 'running', plan: { cluster: 'prod', steps: [] } } as unknown as RunRecord,
      [],
    );
    expect(await api.cluster.settings({ cluster: 'demo' })).toEqual({ cluster: 'demo' });
    await expect(api.cluster.settings({ cluster: 'prod' })).rejects.toThrow(
      /Service token "ci" may act on cluster "demo" only; "cluster.settings" acts on cluster "prod"/,
    );
    await expect(api.upgrade.pause({ runId: 'r-prod' })).rejects.toThrow(/acts on cluster "prod"/);
    await expect(api.agents.revoke({ serverId: 'web-9' })).rejects.toThrow(/acts on cluster "prod"/);
    // Naming its own cluster beside another cluster's run or server vouches for nothing.
    await expect(
      api.upgrade.pause({ runId: 'r-prod', cluster: 'demo' } as { runId: string }),
    ).rejects.toThrow(/acts on cluster "prod"/);
    // An id no cluster can be checked for (a subscription's) is refused whatever else is named.
    await expect(
      api.notify.remove({ id: 'ns-0123456789ab', cluster: 'demo' } as { id: string }),
    ).rejects.toThrow(/names id, which cannot be held to a cluster/);
    // Reads across clusters are refused too; naming the cluster works.
    await expect(api.servers.list({})).rejects.toThrow(/names no cluster/);
    expect(await api.servers.list({ cluster: 'demo' })).toEqual([expect.objectContaining({ id: 'web-1' })]);
    const refused = (await store.listAudit({ limit: 50 })).filter((a) => a.action === 'token.refused');
    expect(refused.map((a) => a.details.procedure).sort()).toEqual(
      [
        'agents.revoke',
        'cluster.settings',
        'notify.remove',
        'servers.list',
        'upgrade.pause',
        'upgrade.pause',
      ].sort(),
    );
  });

  it('issue 16 item 5: only a signed-in administrator manages tokens; a token never mints one', async () => {
    const { asAdmin, asToken } = setup();
    const { token } = await asAdmin.tokens.create({ name: 'root-ci', role: 'admin' });
    const api = await asToken(token);
    await expect(api.tokens.create({ name: 'more', role: 'admin' })).rejects.toThrow(
      /A service token cannot create, list or revoke service tokens/,
    );
    await expect(api.tokens.list()).rejects.toThrow(/cannot create, list or revoke/);
    const { token: op } = await asAdmin.tokens.create({ name: 'ops', role: 'operator' });
    await expect((await asToken(op)).tokens.list()).rejects.toThrow(/needs the administrator role/);
  });

  it('issue 16 item 5: revoked, expired and unknown tokens are refused with what to do', async () => {
    const { asAdmin, asToken, advance } = setup();
    const { token } = await asAdmin.tokens.create({ name: 'ci', role: 'viewer', expiresInSeconds: 60 });
    expect((await (await asToken(token)).auth.whoami()).username).toBe('token:ci');
    advance(60_000);
    await expect((await asToken(token)).auth.whoami()).rejects.toThrow(
      /Service token "ci" expired at .*rollgate token revoke ci/,
    );
    expect((await asAdmin.tokens.list())[0]!.state).toBe('expired');
    const { token: other } = await asAdmin.tokens.create({ name: 'ci2', role: 'viewer' });
    await asAdmin.tokens.revoke({ name: 'ci2' });
    await expect((await asToken(other)).auth.whoami()).rejects.toThrow(/Service token "ci2" was revoked at/);
    await expect((await asToken(`rgt_${'x'.repeat(43)}`)).auth.whoami()).rejects.toThrow(
      /not known to this coordinator/,
    );
    await expect(asAdmin.tokens.revoke({ name: 'nope' })).rejects.toThrow(/No service token named "nope"/);
  });
});
