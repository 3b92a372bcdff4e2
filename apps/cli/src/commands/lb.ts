import { readFile } from 'node:fs/promises';
import type { CommandContext, JsonFlag } from '../context';
import { CliError } from '../errors';
import { renderTable } from '../format';

export interface LbConfigureFlags extends JsonFlag {
  cluster: string;
  /** haproxy-runtime (default when a socket or address is given) or gate-only. */
  mode?: 'haproxy-runtime' | 'gate-only';
  /** HAProxy runtime API unix socket. */
  socket?: string;
  /** HAProxy runtime API as host:port. */
  address?: string;
  backend: string;
  /** `agentId=haproxyServer` pairs; an agent not listed is named by its id. */
  server?: string[];
  checkInterval?: number;
  fall?: number;
  rise?: number;
  agentInter?: number;
  /** The cluster's default drainage interval, s. */
  drainageInterval?: number;
  /** Or the whole configuration as a JSON file (flags given as well override it). */
  file?: string;
}

function parseServers(pairs: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(p);
    if (!m) throw new CliError(`--server ${p}: expected agentId=haproxyServer, e.g. admin-1=s1.`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

export async function lbConfigureCommand(ctx: CommandContext, flags: LbConfigureFlags): Promise<number> {
  let base: Record<string, unknown> = {};
  if (flags.file) {
    try {
      base = JSON.parse(await readFile(flags.file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(
        `--file ${flags.file}: ${(err as Error).message}. Give a JSON file with the LB configuration.`,
      );
    }
  }
  let runtime: Record<string, unknown> | undefined;
  if (flags.socket) runtime = { socketPath: flags.socket };
  if (flags.address) {
    const m = /^(.+):(\d{1,5})$/.exec(flags.address);
    if (!m) throw new CliError(`--address ${flags.address}: expected host:port, e.g. 127.0.0.1:9999.`);
    runtime = { host: m[1], port: Number(m[2]) };
  }
  const mode =
    flags.mode ?? (runtime ? 'haproxy-runtime' : ((base.mode as string | undefined) ?? 'gate-only'));
  const config = {
    ...base,
    mode,
    backend: flags.backend,
    ...(runtime ? { runtime } : {}),
    ...(flags.server ? { servers: parseServers(flags.server) } : {}),
    ...(flags.checkInterval !== undefined ? { checkIntervalMs: flags.checkInterval } : {}),
    ...(flags.fall !== undefined ? { fall: flags.fall } : {}),
    ...(flags.rise !== undefined ? { rise: flags.rise } : {}),
    ...(flags.agentInter !== undefined ? { agentInterMs: flags.agentInter } : {}),
    ...(flags.drainageInterval !== undefined ? { drainageIntervalSec: flags.drainageInterval } : {}),
  };
  const saved = await ctx.client.lb.configure.mutate({
    cluster: flags.cluster,
    config: config as Parameters<typeof ctx.client.lb.configure.mutate>[0]['config'],
  });
  if (flags.json) ctx.out.json(saved);
  else
    ctx.out.print(
      `Load balancer of cluster ${flags.cluster}: ${saved.mode}, backend ${saved.backend} (checked against the live load balancer).`,
    );
  return 0;
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
      `Configure one with: rollgate lb configure --cluster ${flags.cluster} --backend <name> --socket <path>`,
    );
    return 0;
  }
  ctx.out.print(`Cluster ${flags.cluster}: ${view.config.mode}, backend ${view.config.backend}`);
  if (view.error) ctx.out.print(`Live status unavailable: ${view.error}`);
  ctx.out.print(
    renderTable(
      [
        { header: 'SERVER' },
        { header: 'HAPROXY' },
        { header: 'STATE' },
        { header: 'SESSIONS', align: 'right' },
        { header: 'TOTAL', align: 'right' },
      ],
      view.servers.map((s) => [
        s.serverId,
        s.haproxyServer,
        s.status?.state ?? '-',
        s.status ? String(s.status.sessions) : '-',
        s.status ? String(s.status.totalSessions) : '-',
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
