import { isTerminalRun, TERMINAL_ACTION, type ClusterSettings, type LbConfig } from '@rollgate/domain';
import {
  StaleLeaseError,
  StoreConflictError,
  type ActionRecord,
  type Fence,
  type Lease,
  type RunLeases,
  type AuditEvent,
  type EditionRecord,
  type EngineStore,
  type LedgerEntry,
  type RunRecord,
  type ServerRecord,
  type StepRecord,
  type StoredLog,
} from './ports';

const clone = <T>(v: T): T => structuredClone(v);

export interface MemoryStoreOptions {
  /** The store's clock for lease expiry (PostgreSQL's now() in the real store); default Date.now. */
  now?: () => number;
}

/**
 * An in-memory EngineStore (and RunLeases) for unit tests of the engine and the API. It follows
 * the same contract as the PostgreSQL store (see testing/store-contract.ts) but keeps nothing
 * across restarts. Several engines sharing one instance behave as coordinators sharing a database.
 */
export function createMemoryStore(opts: MemoryStoreOptions = {}): EngineStore & RunLeases {
  const now = opts.now ?? Date.now;
  const leases = new Map<string, Lease & { expiresAt: number }>();
  /** The same check as the PostgreSQL store's: the fence's token must still be the run's. */
  const check = (fence: Fence | undefined) => {
    if (fence && leases.get(fence.runId)?.token !== fence.token)
      throw new StaleLeaseError(fence.runId, fence.token);
  };
  const runs = new Map<string, RunRecord>();
  const steps = new Map<string, StepRecord[]>();
  const actions = new Map<string, ActionRecord>();
  const ledger: LedgerEntry[] = [];
  const logs: StoredLog[] = [];
  const seen = new Set<string>();
  const servers = new Map<string, ServerRecord>();
  const editions = new Map<string, EditionRecord>();
  /** Kept apart from the records: a URL may carry a signature (docs/adr/0039). */
  const fetchUrls = new Map<string, string>();
  const audit: AuditEvent[] = [];
  const clusterLb = new Map<string, LbConfig>();
  const clusterSettings = new Map<string, ClusterSettings>();

  return {
    async createRun(run, s) {
      if (runs.has(run.id)) throw new StoreConflictError(`run ${run.id} exists`);
      runs.set(run.id, clone(run));
      steps.set(run.id, clone(s));
    },
    async getRun(id) {
      const r = runs.get(id);
      return r ? clone(r) : null;
    },
    async listRuns(opts = {}) {
      let all = [...runs.values()];
      if (opts.statuses) all = all.filter((r) => opts.statuses!.includes(r.status));
      all.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
      return clone(all.slice(0, opts.limit ?? all.length));
    },
    async updateRun(id, expectedVersion, patch, fence) {
      check(fence);
      const r = runs.get(id);
      if (!r || r.version !== expectedVersion) return null;
      const next = { ...r, ...clone(patch), version: r.version + 1 };
      runs.set(id, next);
      return clone(next);
    },
    async getSteps(runId) {
      return clone([...(steps.get(runId) ?? [])].sort((a, b) => a.index - b.index));
    },
    async updateStep(runId, index, patch, fence) {
      check(fence);
      const s = steps.get(runId)?.find((x) => x.index === index);
      if (s) Object.assign(s, clone(patch));
    },
    async startStep(runId, index, attempt, startedAt, newActions, entries, fence) {
      check(fence);
      const s = steps.get(runId)?.find((x) => x.index === index);
      if (!s) throw new Error(`no step ${index} in run ${runId}`);
      Object.assign(s, { status: 'running', attempt, startedAt, finishedAt: null, error: null });
      for (const a of newActions) if (!actions.has(a.id)) actions.set(a.id, clone(a));
      for (const e of entries) {
        const exists = ledger.some(
          (l) => l.runId === e.runId && l.serverId === e.serverId && l.stepIndex === e.stepIndex,
        );
        if (!exists) ledger.push(clone(e));
        else
          for (const l of ledger)
            if (l.runId === e.runId && l.serverId === e.serverId && l.stepIndex === e.stepIndex)
              l.reopenedAt = null;
      }
    },
    async completeStep(c, fence) {
      check(fence);
      const r = runs.get(c.runId);
      if (!r || r.version !== c.expectedVersion) return null;
      for (const e of c.reopen)
        for (const l of ledger)
          if (l.runId === e.runId && l.serverId === e.serverId && l.reopenedAt === null)
            l.reopenedAt = c.finishedAt;
      const s = steps.get(c.runId)?.find((x) => x.index === c.index);
      if (s) Object.assign(s, { status: 'succeeded', finishedAt: c.finishedAt, error: null });
      const next = { ...r, ...clone(c.runPatch), version: r.version + 1 };
      runs.set(c.runId, next);
      return clone(next);
    },
    async getActions(runId, stepIndex) {
      return clone(
        [...actions.values()]
          .filter((a) => a.runId === runId && (stepIndex === undefined || a.stepIndex === stepIndex))
          .sort(
            (a, b) =>
              a.stepIndex - b.stepIndex || a.attempt - b.attempt || a.serverId.localeCompare(b.serverId),
          ),
      );
    },
    async getAction(id) {
      const a = actions.get(id);
      return a ? clone(a) : null;
    },
    async getOutstandingActions(serverId) {
      return clone(
        [...actions.values()].filter((a) => {
          const run = runs.get(a.runId);
          return (
            !TERMINAL_ACTION.includes(a.status) &&
            run !== undefined &&
            !isTerminalRun(run.status) &&
            (serverId === undefined || a.serverId === serverId)
          );
        }),
      );
    },
    async updateAction(id, from, patch, fence) {
      check(fence);
      const a = actions.get(id);
      if (!a || !from.includes(a.status)) return null;
      Object.assign(a, clone(patch));
      return clone(a);
    },
    async markDispatched(ids, at, fence) {
      check(fence);
      const moved: string[] = [];
      for (const id of ids) {
        const a = actions.get(id);
        if (a?.status !== 'pending') continue;
        Object.assign(a, { status: 'dispatched', dispatchedAt: at });
        moved.push(id);
      }
      return moved;
    },
    async openLedger(runId) {
      return clone(ledger.filter((l) => l.reopenedAt === null && (runId === undefined || l.runId === runId)));
    },
    async reopenLedger(runId, serverId, at, fence) {
      check(fence);
      for (const l of ledger)
        if (l.runId === runId && l.serverId === serverId && l.reopenedAt === null) l.reopenedAt = at;
    },
    async appendLogs(lines) {
      for (const l of lines) {
        const key = l.streamId && l.seq ? `${l.serverId}\u0000${l.streamId}\u0000${l.seq}` : null;
        if (key) {
          if (seen.has(key)) continue;
          seen.add(key);
        }
        logs.push({ ...clone(l), id: logs.length + 1 });
      }
    },
    async queryLogs(q) {
      return clone(
        logs
          .filter(
            (l) =>
              (q.runId === undefined || l.runId === q.runId) &&
              (q.afterId === undefined || l.id > q.afterId) &&
              (q.serverId === undefined || l.serverId === q.serverId) &&
              (q.stepIndex === undefined || l.stepIndex === q.stepIndex) &&
              (q.code === undefined || l.code === q.code),
          )
          .slice(0, q.limit ?? 1000),
      );
    },
    async upsertServer(server) {
      servers.set(server.id, clone(server));
    },
    async touchServers(touches) {
      for (const t of touches) {
        const s = servers.get(t.id);
        if (!s) continue;
        if (t.coordinatorId && s.coordinatorId && s.coordinatorId !== t.coordinatorId) continue;
        s.lastHeartbeatAt = t.lastHeartbeatAt;
        if (t.status !== undefined) s.status = t.status;
        if (t.gateOpen !== undefined) s.gateOpen = t.gateOpen;
        if (t.services !== undefined) s.services = clone(t.services);
      }
    },
    async listServers(opts = {}) {
      return clone(
        [...servers.values()]
          .filter((s) => opts.cluster === undefined || s.cluster === opts.cluster)
          .sort((a, b) => a.id.localeCompare(b.id)),
      );
    },
    async pageServers(q) {
      const all = [...servers.values()];
      const search = q.search?.trim().toLowerCase();
      const matches = (s: ServerRecord) =>
        (q.cluster === undefined || s.cluster === q.cluster) &&
        (q.role === undefined || s.role === q.role) &&
        (q.status === undefined || s.status === q.status) &&
        (q.gateOpen === undefined || s.gateOpen === q.gateOpen) &&
        (!search ||
          s.id.toLowerCase().includes(search) ||
          s.hostname.toLowerCase().includes(search) ||
          s.role.toLowerCase().includes(search) ||
          s.services.some(
            (x) =>
              x.activeEdition.toLowerCase() === search ||
              x.installedEditions.some((e) => e.toLowerCase() === search),
          ));
      const rows = all.filter(matches);
      const key = q.sort ?? 'id';
      const dir = q.desc ? -1 : 1;
      // Never-seen servers sort as the oldest heartbeat, as NULLS FIRST does in the SQL store.
      const value = (s: ServerRecord): string | number =>
        key === 'lastHeartbeatAt' ? (s.lastHeartbeatAt ?? -1) : s[key];
      // Plain code-point comparison, as the PostgreSQL store's COLLATE "C".
      const cmp = (x: string | number, y: string | number) => (x < y ? -1 : x > y ? 1 : 0);
      rows.sort((a, b) => cmp(value(a), value(b)) * dir || cmp(a.id, b.id));
      const summary = { connected: 0, lost: 0, disconnected: 0, gateClosed: 0, unhealthy: 0 };
      for (const s of rows) {
        summary[s.status]++;
        if (!s.gateOpen) summary.gateClosed++;
        if (s.services.some((x) => x.health === 'unhealthy' || x.health === 'stopped')) summary.unhealthy++;
      }
      const offset = q.offset ?? 0;
      const facet = (f: (s: ServerRecord) => string) => [...new Set(all.map(f))].sort((a, b) => cmp(a, b));
      return {
        rows: clone(rows.slice(offset, offset + (q.limit ?? 100))),
        total: rows.length,
        summary,
        clusters: facet((s) => s.cluster),
        roles: facet((s) => s.role),
      };
    },
    async getServer(id) {
      const s = servers.get(id);
      return s ? clone(s) : null;
    },
    async getClusterLb(cluster) {
      const c = clusterLb.get(cluster);
      return c ? clone(c) : null;
    },
    async setClusterLb(cluster, lb) {
      if (lb) clusterLb.set(cluster, clone(lb));
      else clusterLb.delete(cluster);
    },
    async getClusterSettings(cluster) {
      return clone(clusterSettings.get(cluster) ?? {});
    },
    async setClusterSettings(cluster, settings) {
      clusterSettings.set(cluster, clone(settings));
    },
    async insertEdition(e, fetchUrl) {
      const key = `${e.app}\u0000${e.name}`;
      if (editions.has(key)) throw new StoreConflictError(`edition ${e.name} of ${e.app} already exists`);
      editions.set(key, clone(e));
      if (e.fetchBy === 'agents' && fetchUrl) fetchUrls.set(key, fetchUrl);
    },
    async editionFetchUrl(name, sha256) {
      for (const [key, e] of editions) {
        if (e.name === name && e.sha256 === sha256 && e.fetchBy === 'agents')
          return fetchUrls.get(key) ?? null;
      }
      return null;
    },
    async getEdition(app, name) {
      const e = editions.get(`${app}\u0000${name}`);
      return e ? clone(e) : null;
    },
    async listEditions(app) {
      return clone(
        [...editions.values()]
          .filter((e) => app === undefined || e.app === app)
          .sort((a, b) => a.createdAt - b.createdAt),
      );
    },
    async appendAudit(event) {
      audit.push(clone(event));
    },
    async listAudit(opts = {}) {
      return clone([...audit].reverse().slice(0, opts.limit ?? audit.length));
    },
    async acquireLease(runId, holder, ttlMs, force = false) {
      const t = now();
      const current = leases.get(runId);
      if (current && !force && current.holder !== holder && current.expiresAt > t) return null;
      const next = { runId, holder, token: (current?.token ?? 0) + 1, expiresAt: t + ttlMs };
      leases.set(runId, next);
      return { runId, holder, token: next.token };
    },
    async renewLease(lease, ttlMs) {
      const current = leases.get(lease.runId);
      if (current?.token !== lease.token || current.holder !== lease.holder) return false;
      current.expiresAt = now() + ttlMs;
      return true;
    },
    async releaseLease(lease) {
      const current = leases.get(lease.runId);
      if (current?.token === lease.token) current.expiresAt = now();
    },
    async getLease(runId) {
      const l = leases.get(runId);
      return l ? { ...l } : null;
    },
  };
}
