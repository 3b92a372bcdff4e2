import { readFile } from 'node:fs/promises';
import type { CommandContext, JsonFlag } from '../context';
import { CliError } from '../errors';
import { renderTable } from '../format';
import { lbConfigSchema, type LbConfig } from '@rollgate/domain';

export interface LbConfigureFlags extends JsonFlag {
  cluster: string;
  /** haproxy-runtime (default when a balancer, socket or address is given) or gate-only. */
  mode?: 'haproxy-runtime' | 'gate-only';
  /** `name=unix:/path` or `name=host:port`, one per load balancer (repeatable). */
  balancer?: string[];
  /** `name=backend[,roles=a+b][,service=x]`, one per pool (repeatable). */
  pool?: string[];
  /** Legacy: the runtime API unix socket of the one balancer ("lb"). */
  socket?: string;
  /** Legacy: the runtime API as host:port of the one balancer ("lb"). */
  address?: string;
  /** Legacy: the one backend (a pool of every agent, named after it). */
  backend?: string;
  /** `[pool/]agentId=haproxyServer`; an agent not listed is named by its id. */
  server?: string[];
  checkInterval?: number;
  fall?: number;
  rise?: number;
  agentInter?: number;
  /** The cluster's default drainage interval, s. */
  drainageInterval?: number;
  /** How long a re-admitted server may take, ms. */
  readmitTimeout?: number;
  /** What re-admission waits for: up (the LB reports it UP) or served (also a first request). */
  readmitWait?: 'up' | 'served';
  /** Gate-only: the load balancer's stated reaction time, ms. */
  reaction?: number;
  /** Or the whole configuration as a JSON file (flags given as well override it). */
  file?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `--balancer lb1=unix:/run/haproxy/admin.sock` or `--balancer lb2=10.0.0.2:9999`. */
export function parseBalancer(text: string): Record<string, unknown> {
  const eq = text.indexOf('=');
  const name = eq > 0 ? text.slice(0, eq) : '';
  const where = eq > 0 ? text.slice(eq + 1) : '';
  if (NAME.test(name)) {
    if (where.startsWith('unix:') && where.length > 5)
      return { name, runtime: { socketPath: where.slice(5) } };
    const m = /^(.+):(\d{1,5})$/.exec(where);
    if (m) return { name, runtime: { host: m[1], port: Number(m[2]) } };
  }
  throw new CliError(
    `--balancer ${text}: expected name=unix:/path/to/admin.sock or name=host:port (e.g. lb1=unix:/run/haproxy/admin.sock, lb2=10.0.0.2:9999).`,
  );
}

/** `--pool stream=be_stream,roles=stream+media,service=tomcat`. */
export function parsePool(text: string): Record<string, unknown> {
  const [head = '', ...opts] = text.split(',');
  const eq = head.indexOf('=');
  const shape =
    'expected name=backend[,roles=a+b][,service=x] (e.g. --pool stream=be_stream,roles=stream,service=tomcat)';
  if (eq <= 0 || eq === head.length - 1) throw new CliError(`--pool ${text}: ${shape}.`);
  const pool: Record<string, unknown> = { name: head.slice(0, eq), backend: head.slice(eq + 1) };
  for (const o of opts) {
    const m = /^(roles|service)=(.+)$/.exec(o);
    if (!m) throw new CliError(`--pool ${text}: "${o}" is not roles=... or service=...; ${shape}.`);
    if (m[1] === 'roles') pool.roles = m[2]!.split('+');
    else pool.service = m[2];
  }
  return pool;
}

/** `--server stream/stream-1=s1` (pool/agent=server), or `agent=server` when there is one pool. */
export function applyServers(pools: Record<string, unknown>[], pairs: string[]): void {
  for (const p of pairs) {
    const m = /^(?:([^/=\s]+)\/)?([^/=\s]+)=([^=\s]+)$/.exec(p);
    if (!m)
      throw new CliError(`--server ${p}: expected pool/agentId=haproxyServer, e.g. stream/stream-1=s1.`);
    const [, poolName, agent, server] = m;
    let pool: Record<string, unknown> | undefined;
    if (poolName !== undefined) {
      pool = pools.find((x) => x.name === poolName);
      if (!pool)
        throw new CliError(
          `--server ${p}: no pool "${poolName}"; the pools are ${pools.map((x) => String(x.name)).join(', ') || 'none'}.`,
        );
    } else if (pools.length === 1) {
      pool = pools[0];
    } else {
      throw new CliError(
        `--server ${p}: the cluster has ${pools.length} pools; say which with pool/agent=server (pools: ${pools.map((x) => String(x.name)).join(', ') || 'none'}).`,
      );
    }
    pool!.servers = { ...((pool!.servers as Record<string, string> | undefined) ?? {}), [agent!]: server! };
  }
}

/** Zod's issues as one line per problem, each with where it is. */
function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
}

/**
 * The configuration `lb configure` sends: the file (if any, in either form), then the flags over
 * it, validated here with the same strict schema as the coordinator so a typo is named at once.
 */
export function buildLbConfig(flags: LbConfigureFlags, file?: unknown): LbConfig {
  let base: Record<string, unknown> = {};
  if (file !== undefined) {
    const parsed = lbConfigSchema.safeParse(file);
    if (!parsed.success)
      throw new CliError(`--file ${flags.file}: ${describeIssues(parsed.error.issues)}. Nothing was sent.`);
    base = { ...parsed.data };
  }
  let balancers = (base.balancers as Record<string, unknown>[] | undefined) ?? [];
  let pools = ((base.pools as Record<string, unknown>[] | undefined) ?? []).map((p) => ({ ...p }));
  if (flags.socket && flags.address) throw new CliError('Give --socket or --address, not both.');
  if ((flags.socket || flags.address) && flags.balancer?.length)
    throw new CliError(
      'Give the load balancers with --balancer only (--socket and --address name one "lb").',
    );
  if (flags.socket) balancers = [{ name: 'lb', runtime: { socketPath: flags.socket } }];
  if (flags.address) balancers = [parseBalancer(`lb=${flags.address}`)];
  if (flags.balancer?.length) balancers = flags.balancer.map(parseBalancer);
  if (flags.backend && flags.pool?.length)
    throw new CliError('Give the backends with --pool only (--backend is the one-pool form).');
  if (flags.backend) pools = [{ name: flags.backend, backend: flags.backend }];
  if (flags.pool?.length) pools = flags.pool.map(parsePool);
  if (flags.server?.length) applyServers(pools, flags.server);
  const mode =
    flags.mode ??
    (flags.socket || flags.address || flags.balancer?.length
      ? 'haproxy-runtime'
      : ((base.mode as string | undefined) ?? 'gate-only'));
  const config = {
    ...base,
    mode,
    balancers,
    pools,
    ...(flags.checkInterval !== undefined ? { checkIntervalMs: flags.checkInterval } : {}),
    ...(flags.fall !== undefined ? { fall: flags.fall } : {}),
    ...(flags.rise !== undefined ? { rise: flags.rise } : {}),
    ...(flags.agentInter !== undefined ? { agentInterMs: flags.agentInter } : {}),
    ...(flags.drainageInterval !== undefined ? { drainageIntervalSec: flags.drainageInterval } : {}),
    ...(flags.readmitTimeout !== undefined ? { readmitTimeoutMs: flags.readmitTimeout } : {}),
    ...(flags.readmitWait !== undefined ? { readmitWait: flags.readmitWait } : {}),
    ...(flags.reaction !== undefined ? { reactionMs: flags.reaction } : {}),
  };
  const parsed = lbConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new CliError(
      `${describeIssues(parsed.error.issues)}. Give the load balancers with --balancer name=unix:/path (or name=host:port) and the backends with --pool name=backend[,roles=a+b][,service=x]; see rollgate lb configure --help. Nothing was sent.`,
    );
  }
  return parsed.data;
}

function describePools(config: LbConfig): string {
  return config.pools
    .map((p) => {
      const who = [
        p.roles ? `roles ${p.roles.join('+')}` : 'every role',
        p.service ? `service ${p.service}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      return `${p.name} → backend ${p.backend} (${who})`;
    })
    .join('; ');
}

export async function lbConfigureCommand(ctx: CommandContext, flags: LbConfigureFlags): Promise<number> {
  let file: unknown;
  if (flags.file) {
    try {
      file = JSON.parse(await readFile(flags.file, 'utf8')) as unknown;
    } catch (err) {
      throw new CliError(
        `--file ${flags.file}: ${(err as Error).message}. Give a JSON file with the LB configuration.`,
      );
    }
  }
  const config = buildLbConfig(flags, file);
  const saved = await ctx.client.lb.configure.mutate({
    cluster: flags.cluster,
    config: config as Parameters<typeof ctx.client.lb.configure.mutate>[0]['config'],
  });
  if (flags.json) ctx.out.json(saved);
  else {
    const checked =
      saved.checkedAgainst.length > 0
        ? `checked against ${saved.checkedAgainst.join(', ')}`
        : 'gate-only: no load balancer was asked, nothing was checked against one';
    const pools =
      saved.pools.length > 0
        ? ` Pools (every agent placed in one per service): ${describePools(saved)}.`
        : '';
    ctx.out.print(`Load balancer of cluster ${flags.cluster}: ${saved.mode} (${checked}).${pools}`);
  }
  return 0;
}

function ms(v: number | undefined): string {
  return v === undefined ? '-' : `${v} ms`;
}

export async function lbShowCommand(
  ctx: CommandContext,
  flags: JsonFlag & { cluster: string },
): Promise<number> {
  const view = await ctx.client.lb.show.query({ cluster: flags.cluster });
  if (flags.json) {
    ctx.out.json(view);
    return 0;
  }
  if (!view.config) {
    ctx.out.print(
      `Cluster ${flags.cluster} has no load balancer configured: the engine relies on the agents' gates alone.`,
    );
    ctx.out.print(
      `Configure one with: rollgate lb configure --cluster ${flags.cluster} --balancer lb1=unix:/run/haproxy/admin.sock --pool web=be_web`,
    );
    return 0;
  }
  const c = view.config;
  ctx.out.print(`Cluster ${flags.cluster}: ${c.mode}`);
  for (const b of view.balancers)
    ctx.out.print(`  balancer ${b.name} at ${b.address}${b.error ? ` — not answering: ${b.error}` : ''}`);
  if (c.pools.length > 0) ctx.out.print(`  pools: ${describePools(c)}`);
  ctx.out.print(
    `  timing: check interval ${ms(c.checkIntervalMs)}, fall ${c.fall}, rise ${c.rise}, agent-inter ${ms(c.agentInterMs)}, drainage interval ${c.drainageIntervalSec === undefined ? '-' : `${c.drainageIntervalSec} s`}, readmit timeout ${ms(c.readmitTimeoutMs)}, readmit wait ${c.readmitWait}, reaction ${ms(c.reactionMs)}`,
  );
  for (const p of view.problems) ctx.out.print(`  problem: ${p}`);
  ctx.out.print(
    renderTable(
      [
        { header: 'SERVER' },
        { header: 'POOL' },
        { header: 'HAPROXY' },
        { header: 'STATE' },
        { header: 'SESSIONS', align: 'right' },
        { header: 'TOTAL', align: 'right' },
        { header: 'LAST SET (PER BALANCER)' },
      ],
      view.servers.map((s) => [
        s.serverId,
        s.pool ?? '-',
        s.haproxyServer,
        s.status?.state ?? '-',
        s.status ? String(s.status.sessions) : '-',
        s.status ? String(s.status.totalSessions) : '-',
        s.lastSet.map((v) => `${v.balancer} ${v.state}`).join(', ') || '-',
      ]),
    ),
  );
  return 0;
}

export async function lbClearCommand(
  ctx: CommandContext,
  flags: JsonFlag & { cluster: string },
): Promise<number> {
  await ctx.client.lb.clear.mutate({ cluster: flags.cluster });
  if (flags.json) ctx.out.json({ cluster: flags.cluster, config: null });
  else
    ctx.out.print(
      `Cluster ${flags.cluster}: load balancer configuration removed; the agents' gates alone are used.`,
    );
  return 0;
}

export interface HaproxyConfigFlags {
  json?: boolean;
  cluster: string;
  backend?: string;
  /**
   * Where frontends listen (repeatable): `address:port` for a cluster of one pool, or
   * `<pool>=<address:port>` for each pool of several.
   */
  bind?: string[];
  /** The load balancer the file is for (named in it, its runtime API line); default the first. */
  balancer?: string;
  socket?: string;
  checkInterval?: number;
  slowstart?: number;
  /**
   * What HAProxy's own check asks: `service` (default; each service's health path, drains by
   * runtime API and agent-check) or `gate` (each agent's GET /gate; a dead agent takes its server out).
   */
  health?: 'service' | 'gate';
  /** Emit the routing frontend (map lookups) instead of the plain one. */
  routing?: boolean;
  /** Header names to route by, besides those of the current rules. */
  routeHeader?: string[];
  mapDir?: string;
}

/** `--bind` values: `address:port` (the one frontend) and `<pool>=<address:port>` entries. */
export function parseBinds(values: string[] = []): { bind?: string; binds: Record<string, string> } {
  const binds: Record<string, string> = {};
  let bind: string | undefined;
  for (const v of values) {
    const m = /^([A-Za-z0-9._:-]{1,64})=(\S+:\d{1,5})$/.exec(v);
    if (m) {
      if (binds[m[1]!] !== undefined) throw new CliError(`--bind ${v}: pool ${m[1]} is given twice.`);
      binds[m[1]!] = m[2]!;
    } else if (/^\S+:\d{1,5}$/.test(v) && bind === undefined) {
      bind = v;
    } else {
      throw new CliError(
        `--bind ${v}: expected <address:port> (one pool) or <pool>=<address:port> (each of several), e.g. --bind admin=*:8081.`,
      );
    }
  }
  return { ...(bind ? { bind } : {}), binds };
}

export async function haproxyConfigCommand(ctx: CommandContext, flags: HaproxyConfigFlags): Promise<number> {
  const { bind, binds } = parseBinds(flags.bind);
  const text = await ctx.client.lb.haproxyConfig.query({
    cluster: flags.cluster,
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(bind ? { bind } : {}),
    ...(Object.keys(binds).length > 0 ? { binds } : {}),
    ...(flags.balancer ? { balancer: flags.balancer } : {}),
    ...(flags.socket ? { socketPath: flags.socket } : {}),
    ...(flags.checkInterval !== undefined ? { checkIntervalMs: flags.checkInterval } : {}),
    ...(flags.slowstart !== undefined ? { slowstartMs: flags.slowstart } : {}),
    ...(flags.health ? { health: flags.health } : {}),
    ...(flags.routing ? { routing: true } : {}),
    ...(flags.routeHeader?.length ? { routingHeaders: flags.routeHeader } : {}),
    ...(flags.mapDir ? { mapDir: flags.mapDir } : {}),
  });
  ctx.out.print(text);
  return 0;
}

export interface RoutesSetFlags extends JsonFlag {
  cluster: string;
  /** `<match>=<edition>` rules, e.g. `header:x-pilot:yes=2.0`, `source:10.1.0.0/16=2.0`, `path:/beta/=2.0`. */
  rule?: string[];
  /** Where HAProxy's map files live on its host. */
  mapDir?: string;
}

/**
 * One `--rule` into the API's shape; the API validates the values (CIDR, header name, edition),
 * this only says when the shape itself is wrong.
 */
export function parseRule(text: string): Record<string, string> {
  const eq = text.lastIndexOf('=');
  const match = eq > 0 ? text.slice(0, eq) : '';
  const edition = eq > 0 ? text.slice(eq + 1) : '';
  const [kind, ...rest] = match.split(':');
  const value = rest.join(':');
  if (edition && kind === 'header') {
    const i = value.indexOf(':');
    if (i > 0) return { match: 'header', header: value.slice(0, i), value: value.slice(i + 1), edition };
  } else if (edition && kind === 'source' && value) {
    return { match: 'source', cidr: value, edition };
  } else if (edition && kind === 'path' && value) {
    return { match: 'path-prefix', prefix: value, edition };
  }
  throw new CliError(
    `--rule ${text}: expected header:<name>:<value>=<edition>, source:<address or CIDR>=<edition> or path:<prefix>=<edition> (e.g. header:x-pilot:yes=2.0).`,
  );
}

type RoutesView = Awaited<ReturnType<CommandContext['client']['lb']['routes']['query']>>;

function printRoutes(ctx: CommandContext, view: RoutesView): void {
  if (view.rules.length === 0) {
    ctx.out.print(`Cluster ${view.cluster} has no routing rules: every request goes to its own backend.`);
  } else {
    ctx.out.print(
      renderTable(
        [{ header: 'RULE' }, { header: 'BACKEND' }],
        view.rules.map((r) => [r.description, r.backend ?? '(no backend serves it now)']),
      ),
    );
  }
  const served = Object.entries(view.editions).map(([e, b]) => `${e} → ${b}`);
  ctx.out.print(`Editions served now: ${served.join(', ') || 'none'}. Maps in ${view.mapDir}.`);
}

export async function routesShowCommand(
  ctx: CommandContext,
  flags: JsonFlag & { cluster: string },
): Promise<number> {
  const view = await ctx.client.lb.routes.query({ cluster: flags.cluster });
  if (flags.json) ctx.out.json(view);
  else printRoutes(ctx, view);
  return 0;
}

export async function routesSetCommand(ctx: CommandContext, flags: RoutesSetFlags): Promise<number> {
  const rules = (flags.rule ?? []).map(parseRule);
  const view = await ctx.client.lb.setRoutes.mutate({
    cluster: flags.cluster,
    rules: rules as never,
    ...(flags.mapDir ? { mapDir: flags.mapDir } : {}),
  });
  if (flags.json) ctx.out.json(view);
  else {
    ctx.out.print(`Applied ${view.rules.length} routing rule(s) to HAProxy's maps (no reload).`);
    printRoutes(ctx, view);
  }
  return 0;
}
