// Renders a ready-to-paste HAProxy configuration for one Rollgate cluster, in one of two health
// modes (docs/adr/0017):
//
// - service (default): HAProxy checks each server's SERVICE (its own health path, on its own port),
//   and the coordinator's wish to drain travels by the runtime API (at once) and by the agent-check
//   (within agent-inter), which HAProxy ignores while it cannot connect. A dead, busy or restarting
//   agent therefore never takes a healthy service out of rotation.
// - gate: HAProxy checks each agent's gate (GET /gate), for load balancers that can poll only one
//   URL per server. The gate says "wish AND health" in one answer, but it is served by the agent:
//   when the agent is down, so is the server in HAProxy's eyes.

import {
  routingLookupLines,
  routingMapCreateComment,
  routingMapFileList,
  type RoutingMapFiles,
} from './haproxy-routing';

/** One server of the cluster, as HAProxy reaches it. */
export interface HaproxyBackendServer {
  /** HAProxy server name; use the agent id (e.g. "admin-1") so runtime API calls can name it. */
  name: string;
  /** Address HAProxy reaches the server at: IPv4, IPv6 or a host name resolvable at HAProxy start. */
  address: string;
  /** The managed service's port: where user traffic goes. */
  servicePort: number;
  /** The agent's gate port: in gate mode the HTTP health check asks GET /gate there (200 open, 503 closed). */
  gatePort: number;
  /**
   * Service mode: the path (and query) of the service's own health check, e.g. "/health" (from
   * services[].healthUrl in the agent config). Every server of a backend must use the same one.
   */
  healthPath?: string;
  /** Service mode: the port the service's health check answers on; default servicePort. */
  healthPort?: number;
  /** The agent's agent-check port (gate.agentCheckPort in the agent config); omit for HTTP checks only. */
  agentCheckPort?: number;
  /**
   * Where the server runs a second instance during a single-server rollout (services[].beside in
   * the agent config): rendered as "<name>-beside", disabled until the coordinator switches to it.
   */
  besidePort?: number;
}

/** What HAProxy's own health check asks: the service (default) or the agent's gate. */
export type HaproxyHealthMode = 'service' | 'gate';

export interface RenderHaproxyBackendOptions {
  /** The Rollgate cluster this backend serves, e.g. "demo" (used in names and comments). */
  cluster: string;
  /**
   * `service` (default): check each server's service at its healthPath, drains by runtime API and
   * agent-check. `gate`: check each agent's GET /gate (one URL per server; a dead agent takes its
   * server out).
   */
  health?: HaproxyHealthMode;
  /** Backend name; default `rollgate_<cluster>`. The coordinator's runtime API calls must use the same. */
  backend?: string;
  /** Frontend name; default `fe_<cluster>`. */
  frontend?: string;
  /** Frontend bind address; default "*:80". */
  bind?: string;
  servers: HaproxyBackendServer[];
  /** Health check interval (`inter`); default 1000 ms. */
  checkIntervalMs?: number;
  /** Consecutive failed checks before a server is marked DOWN; default 2. */
  fall?: number;
  /** Consecutive good checks before a DOWN server is marked UP again; default 2. */
  rise?: number;
  /** Agent-check interval (`agent-inter`); default checkIntervalMs. */
  agentInterMs?: number;
  /** Ramp a re-admitted server's weight up over this long (`slowstart`); default none. */
  slowstartMs?: number;
  /**
   * How often HAProxy closes surplus idle keep-alive connections to servers (`pool-purge-delay`);
   * default 1000 ms. The agent's drain counts TCP connections to the service, and HAProxy's own
   * default (5 s) kept idle ones to a drained server open 3.5-13.5 s here; 1 s brought it to ~2.5 s.
   */
  poolPurgeDelayMs?: number;
  /** Retries of a request whose connection to a server failed (`retries`); default 3. */
  retries?: number;
  /** The runtime API socket (`stats socket`); default /run/haproxy/admin.sock. */
  runtimeSocketPath?: string;
}

// HAProxy names: letters, digits, '-', '_', '.', ':' (configuration manual, section 2.3).
const HAPROXY_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

function fail(msg: string): never {
  throw new Error(`renderHaproxyBackend: ${msg}`);
}

function checkName(what: string, name: string): void {
  if (typeof name !== 'string' || !HAPROXY_NAME.test(name))
    fail(
      `${what} ${JSON.stringify(name)} is not a valid HAProxy name: use letters, digits, '.', '_', '-' or ':'`,
    );
}

function checkPort(what: string, port: unknown): void {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    fail(`${what} must be a TCP port number 1-65535, got ${JSON.stringify(port)}`);
}

/** A URL path HAProxy's config takes as one word: no space, quote, '#', '\\' or '$' (env expansion). */
const HEALTH_PATH = /^\/[A-Za-z0-9._~%/?=&:+,;@!*-]{0,255}$/;

function checkPositive(what: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    fail(`${what} must be a whole number >= 1, got ${JSON.stringify(v)}`);
}

/** "10.0.0.1:8081", "[::1]:8081" or "app-1.internal:8081". */
function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The settings every backend of one configuration shares, checked and with defaults applied. */
interface CommonSettings {
  health: HaproxyHealthMode;
  agentInter: number;
  retries: number;
  /** The `default-server` line's parameters. */
  defaultServer: string;
}

type CommonOptions = Pick<
  RenderHaproxyBackendOptions,
  | 'health'
  | 'checkIntervalMs'
  | 'fall'
  | 'rise'
  | 'agentInterMs'
  | 'slowstartMs'
  | 'poolPurgeDelayMs'
  | 'retries'
>;

function checkCommon(opts: CommonOptions): CommonSettings {
  const inter = opts.checkIntervalMs ?? 1000;
  const fall = opts.fall ?? 2;
  const rise = opts.rise ?? 2;
  const agentInter = opts.agentInterMs ?? inter;
  const retries = opts.retries ?? 3;
  checkPositive('checkIntervalMs', inter);
  checkPositive('fall', fall);
  checkPositive('rise', rise);
  checkPositive('agentInterMs', agentInter);
  if (!Number.isInteger(retries) || retries < 0) fail(`retries must be a whole number >= 0, got ${retries}`);
  if (opts.slowstartMs !== undefined) checkPositive('slowstartMs', opts.slowstartMs);
  const poolPurge = opts.poolPurgeDelayMs ?? 1000;
  checkPositive('poolPurgeDelayMs', poolPurge);
  const health = opts.health ?? 'service';
  if (health !== 'service' && health !== 'gate')
    fail(`health must be "service" or "gate", got ${JSON.stringify(health)}`);
  const defaultServer = [
    `inter ${inter}ms`,
    `fall ${fall}`,
    `rise ${rise}`,
    ...(opts.slowstartMs !== undefined ? [`slowstart ${opts.slowstartMs}ms`] : []),
    `pool-purge-delay ${poolPurge}ms`,
  ].join(' ');
  return { health, agentInter, retries, defaultServer };
}

function checkBind(what: string, bind: string): void {
  if (typeof bind !== 'string' || !/^\S+:\d{1,5}$/.test(bind))
    fail(`${what} must be "address:port" (e.g. "*:80"), got ${JSON.stringify(bind)}`);
}

function checkSocketPath(what: string, socket: string): void {
  if (typeof socket !== 'string' || !/^\/\S+$/.test(socket))
    fail(`${what} must be an absolute path without spaces, got ${JSON.stringify(socket)}`);
}

/** `prefix` names the list in messages, e.g. "servers" or "pools[1].servers". */
function checkServers(prefix: string, servers: readonly HaproxyBackendServer[]): void {
  if (!Array.isArray(servers) || servers.length === 0) fail(`list at least one server in ${prefix}`);
  const seen = new Set<string>();
  for (const [i, s] of servers.entries()) {
    const at = `${prefix}[${i}]`;
    checkName(`${at}.name`, s.name);
    if (seen.has(s.name)) fail(`server name "${s.name}" is used twice; names must be unique in a backend`);
    seen.add(s.name);
    if (typeof s.address !== 'string' || !/^[A-Za-z0-9.:_-]+$/.test(s.address))
      fail(`${at}.address must be an IP address or host name, got ${JSON.stringify(s.address)}`);
    checkPort(`${at}.servicePort`, s.servicePort);
    checkPort(`${at}.gatePort`, s.gatePort);
    if (s.agentCheckPort !== undefined) checkPort(`${at}.agentCheckPort`, s.agentCheckPort);
    if (s.healthPort !== undefined) checkPort(`${at}.healthPort`, s.healthPort);
    if (s.healthPath !== undefined && (typeof s.healthPath !== 'string' || !HEALTH_PATH.test(s.healthPath)))
      fail(
        `${at}.healthPath must be a URL path like "/health" (letters, digits and ._~%/?=&:+,;@!*- only, at most 256 characters), got ${JSON.stringify(s.healthPath)}`,
      );
    if (s.besidePort !== undefined) {
      checkPort(`${at}.besidePort`, s.besidePort);
      checkName(`${at}.name + "-beside"`, `${s.name}-beside`);
    }
  }
}

/** The global section: the runtime API line (`socketLine`, without indentation). */
function globalAndDefaults(socketLine: string, socketComment: readonly string[] = []): string[] {
  return [
    'global',
    '    # Runtime API: "set server <backend>/<server> state drain|ready|maint", "show stat".',
    ...socketComment,
    `    ${socketLine}`,
    '    stats timeout 30s',
    '',
    'defaults',
    '    mode http',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    timeout http-keep-alive 10s',
    '    # On reload the old process would close idle keep-alive client connections at once, and a',
    '    # request the client sends at that instant is lost (ECONNRESET, ~1 in 5 reloads under load',
    '    # here). With this, it closes each after its next response instead (0 in 20 reloads).',
    '    option idle-close-on-response',
    '',
  ];
}

const UNIX_SOCKET_COMMENT = [
  '    # expose-fd listeners lets a reload (haproxy -x <socket> -sf <pid>) keep the listening sockets.',
];

function unixSocketLine(socket: string): string {
  return `stats socket ${socket} mode 600 level admin expose-fd listeners`;
}

/** One backend (and its validation clone when a server has a second instance). */
function backendSection(
  backend: string,
  servers: readonly HaproxyBackendServer[],
  c: CommonSettings,
  /** Where the reasons were given already (a later pool's backend): one line instead of each comment. */
  explainedAt?: string,
): string[] {
  const healthPath = c.health === 'service' ? serviceHealthPath(servers) : '/gate';
  const serverLines = servers.map((s) => {
    const checkPort = c.health === 'gate' ? s.gatePort : (s.healthPort ?? s.servicePort);
    const parts = [
      `server ${s.name} ${hostPort(s.address, s.servicePort)}`,
      checkPort === s.servicePort ? 'check' : `check port ${checkPort}`,
    ];
    if (s.agentCheckPort !== undefined)
      parts.push(`agent-check agent-port ${s.agentCheckPort} agent-inter ${c.agentInter}ms`);
    // Service mode without agent-check: only the runtime API can drain this server.
    const warn =
      c.health === 'service' && s.agentCheckPort === undefined
        ? `    # ${s.name} has no agent-check (gate.agentCheckPort in its agent config): only the runtime\n    # API can drain it, so the cluster needs "rollgate lb configure --socket <this stats socket>".\n`
        : '';
    const line = `${warn}    ${parts.join(' ')}`;
    // The second instance of a single-server rollout: in maintenance (no traffic) until the
    // coordinator switches to it; not checked by HAProxy (the agent checked it before the switch).
    return s.besidePort === undefined
      ? line
      : `${line}\n    server ${s.name}-beside ${hostPort(s.address, s.besidePort)} disabled`;
  });
  const anyAgent = servers.some((s) => s.agentCheckPort !== undefined);
  const lines = [
    `backend ${backend}`,
    ...(explainedAt !== undefined
      ? [`    # The same settings as ${explainedAt} above, for the same reasons.`]
      : []),
    '    balance roundrobin',
    ...(c.health === 'service' ? SERVICE_HEALTH_COMMENT : GATE_HEALTH_COMMENT),
    `    option httpchk GET ${healthPath}`,
    '    http-check expect status 200',
    '    # A request whose connection to a server fails is retried, on another server.',
    '    option redispatch',
    `    retries ${c.retries}`,
    '    # A reused idle connection that the server closes just as a request goes out (its keep-alive',
    '    # timeout, a stop) answers nothing; a GET or HEAD sent into it is retried too, where HAProxy',
    '    # would otherwise close the client connection. Other methods are never sent twice.',
    '    retry-on conn-failure empty-response',
    '    http-request disable-l7-retry unless METH_GET || METH_HEAD',
    ...(anyAgent
      ? [
          '    # agent-check: the agent answers the coordinator\'s wish only, "ready up" or "drain up"',
          '    # (never "down": health is the check\'s business). drain stops new sessions at the next',
          '    # agent-inter while running ones finish; an agent HAProxy cannot reach is ignored.',
        ]
      : []),
    '    # inter/fall/rise: check every inter, DOWN after fall failures, UP after rise successes.',
    '    # pool-purge-delay: idle connections to a drained server are closed sooner (default 5 s),',
    "    # so a drain that counts the service's connections ends sooner after its last request.",
    `    default-server ${c.defaultServer}`,
  ];
  // A later backend keeps its first comment line (the pointer above) and drops the others.
  const body =
    explainedAt === undefined ? lines : lines.filter((l, i) => i <= 1 || !l.trimStart().startsWith('#'));
  return [...body, ...serverLines, '', ...validationBackend(backend, servers, c.defaultServer, c.retries)];
}

/**
 * A complete haproxy.cfg for one cluster, with comments saying where each part goes when merging
 * into an existing configuration: the `stats socket` line into the global section, the defaults
 * only if there are none for HTTP, the frontend replaced by yours if you have one, the backend as
 * is. Validate with `haproxy -c -f haproxy.cfg`.
 */
export function renderHaproxyBackend(opts: RenderHaproxyBackendOptions): string {
  checkName('cluster', opts.cluster);
  const backend = opts.backend ?? `rollgate_${opts.cluster}`;
  const frontend = opts.frontend ?? `fe_${opts.cluster}`;
  checkName('backend', backend);
  checkName('frontend', frontend);
  const bind = opts.bind ?? '*:80';
  checkBind('bind', bind);
  const common = checkCommon(opts);
  const socket = opts.runtimeSocketPath ?? '/run/haproxy/admin.sock';
  checkSocketPath('runtimeSocketPath', socket);
  if (!Array.isArray(opts.servers) || opts.servers.length === 0) fail('list at least one server');
  checkServers('servers', opts.servers);

  return [
    `# HAProxy configuration for Rollgate cluster "${opts.cluster}" (backend "${backend}").`,
    '# Generated by renderHaproxyBackend. Where each part goes in an existing haproxy.cfg:',
    '#   global   - add the "stats socket" line to your global section: it is the runtime API the',
    '#              coordinator uses to drain a server at once (level admin; keep it mode 600).',
    '#   defaults - only if you have none for HTTP; the timeouts are starting points.',
    '#   frontend - where users connect; keep yours if you have one and point it at the backend.',
    '#   backend  - as is. Check it with: haproxy -c -f /etc/haproxy/haproxy.cfg',
    '',
    ...globalAndDefaults(unixSocketLine(socket), UNIX_SOCKET_COMMENT),
    `frontend ${frontend}`,
    `    bind ${bind}`,
    `    default_backend ${backend}`,
    '',
    ...backendSection(backend, opts.servers, common),
  ].join('\n');
}

/** One pool of a cluster: one HAProxy backend (the same name on every balancer) and its frontend. */
export interface HaproxyPool {
  /** The pool's name in the cluster's LB configuration, e.g. "admin" (used in names and comments). */
  name: string;
  /** Its HAProxy backend; the coordinator's runtime API calls name it. */
  backend: string;
  /** Its frontend's name; default `fe_<pool name>`. */
  frontend?: string;
  /** Where its frontend listens, "address:port"; default "*:80" when the configuration has one pool. */
  bind?: string;
  /** The servers of the pool, each named as the coordinator names it in this backend. */
  servers: HaproxyBackendServer[];
  /**
   * The pool's routing maps (routingMapFiles with the pool's name): its frontend consults them
   * before its default backend (docs/adr/0029). Default none: a plain frontend.
   */
  routing?: RoutingMapFiles;
}

/** How a balancer's runtime API is reached: the `stats socket` line of its configuration. */
export type HaproxyRuntimeAddress = { socketPath: string } | { host: string; port: number };

export interface RenderHaproxyPoolsOptions extends CommonOptions {
  /** The Rollgate cluster, e.g. "seed" (used in comments). */
  cluster: string;
  /** Every pool of the cluster: one frontend and one backend each. */
  pools: HaproxyPool[];
  /** The balancer this file is for, e.g. "lb1" (named in the header); default none. */
  balancer?: string;
  /** Every balancer of the cluster (an HA pair: 2), named in the header; default [balancer]. */
  balancers?: string[];
  /** Its runtime API; default { socketPath: "/run/haproxy/admin.sock" }. */
  runtime?: HaproxyRuntimeAddress;
}

const HOST = /^[A-Za-z0-9.:_-]{1,255}$/;

/** The `stats socket` line (and its comment) for a balancer's runtime API. */
function runtimeSocket(runtime: HaproxyRuntimeAddress): { line: string; comment: string[] } {
  if ('socketPath' in runtime) {
    checkSocketPath('runtime.socketPath', runtime.socketPath);
    return { line: unixSocketLine(runtime.socketPath), comment: UNIX_SOCKET_COMMENT };
  }
  if (typeof runtime.host !== 'string' || !HOST.test(runtime.host))
    fail(`runtime.host must be an IP address or host name, got ${JSON.stringify(runtime.host)}`);
  checkPort('runtime.port', runtime.port);
  const family = runtime.host.includes(':') ? 'ipv6@' : /^[\d.]+$/.test(runtime.host) ? 'ipv4@' : '';
  return {
    line: `stats socket ${family}${runtime.host}:${runtime.port} level admin`,
    comment: [
      '    # A TCP runtime API has no authentication: listen on an address only the coordinator',
      '    # reaches (a management network, or a firewall rule allowing the coordinator alone).',
    ],
  };
}

/**
 * A complete haproxy.cfg for every pool of a cluster, for one balancer: a frontend and a backend
 * per pool. Every balancer of a pair gets the same file; only the header's name and the runtime
 * API line (each balancer's own) differ. Validate with `haproxy -c -f haproxy.cfg`.
 */
export function renderHaproxyPools(opts: RenderHaproxyPoolsOptions): string {
  checkName('cluster', opts.cluster);
  if (opts.balancer !== undefined) checkName('balancer', opts.balancer);
  const balancers = opts.balancers ?? (opts.balancer !== undefined ? [opts.balancer] : []);
  balancers.forEach((b, i) => checkName(`balancers[${i}]`, b));
  if (opts.balancer !== undefined && !balancers.includes(opts.balancer))
    fail(`balancer "${opts.balancer}" is not one of balancers (${balancers.join(', ')})`);
  const common = checkCommon(opts);
  const socket = runtimeSocket(opts.runtime ?? { socketPath: '/run/haproxy/admin.sock' });
  if (!Array.isArray(opts.pools) || opts.pools.length === 0) fail('list at least one pool');
  const used = { pool: new Set<string>(), frontend: new Set<string>(), backend: new Set<string>() };
  const binds = new Map<string, string>();
  const pools = opts.pools.map((p, i) => {
    const at = `pools[${i}]`;
    checkName(`${at}.name`, p.name);
    const frontend = p.frontend ?? `fe_${p.name}`;
    checkName(`${at}.backend`, p.backend);
    checkName(`${at}.frontend`, frontend);
    const once = (kind: keyof typeof used, name: string) => {
      if (used[kind].has(name)) fail(`${kind} "${name}" is used by two pools; each pool needs its own`);
      used[kind].add(name);
    };
    once('pool', p.name);
    once('frontend', frontend);
    once('backend', p.backend);
    if (p.bind === undefined && opts.pools.length > 1)
      fail(
        `pool "${p.name}" needs a bind address: with several pools each frontend listens on its own (e.g. ${opts.pools.map((q, k) => `${q.name}=*:${8081 + k}`).join(', ')})`,
      );
    const bind = p.bind ?? '*:80';
    checkBind(`${at}.bind`, bind);
    const other = binds.get(bind);
    if (other !== undefined)
      fail(`pools "${other}" and "${p.name}" both bind ${bind}; give each pool's frontend its own address`);
    binds.set(bind, p.name);
    checkServers(`${at}.servers`, p.servers);
    return { ...p, frontend, bind };
  });

  for (const p of pools)
    if (
      p.servers.some((s) => s.besidePort !== undefined) &&
      used.backend.has(validationBackendName(p.backend))
    )
      fail(
        `backend "${validationBackendName(p.backend)}" is the name of pool "${p.name}"'s validation backend; give the other pool another backend name`,
      );
  const names = pools.map((p) => `${p.name} (${p.backend})`).join(', ');
  const pair =
    balancers.length > 1
      ? [
          `# The same file goes on every load balancer of the cluster (${balancers.join(', ')}); only this`,
          '# header and the "stats socket" line (each balancer\'s own runtime API) differ.',
        ]
      : [];
  return [
    `# HAProxy configuration for Rollgate cluster "${opts.cluster}"${opts.balancer !== undefined ? `, load balancer "${opts.balancer}"` : ''}.`,
    `# Pools: ${names}.`,
    ...pair,
    '# Generated by rollgate lb haproxy-config. Where each part goes in an existing haproxy.cfg:',
    '#   global    - add the "stats socket" line to your global section: it is the runtime API the',
    '#               coordinator uses to drain a server at once (level admin).',
    '#   defaults  - only if you have none for HTTP; the timeouts are starting points.',
    '#   frontends - where users connect, one per pool; keep yours if you have them.',
    '#   backends  - as they are: the coordinator names them and their servers in runtime API calls.',
    '# Check it with: haproxy -c -f /etc/haproxy/haproxy.cfg',
    '',
    ...globalAndDefaults(socket.line, socket.comment),
    ...pools.flatMap((p, i) => [
      `# Pool "${p.name}".`,
      ...(p.routing
        ? [
            `# Its routing rules' maps (Rollgate fills them at runtime); create them once before (re)loading:`,
            routingMapCreateComment(routingMapFileList(p.routing)),
          ]
        : []),
      `frontend ${p.frontend}`,
      `    bind ${p.bind}`,
      ...(p.routing ? routingLookupLines(p.routing, '    ') : []),
      `    default_backend ${p.backend}`,
      '',
      ...backendSection(p.backend, p.servers, common, i === 0 ? undefined : `backend ${pools[0]!.backend}`),
    ]),
  ]
    .join('\n')
    .replace(/\n+$/, '\n');
}

const SERVICE_HEALTH_COMMENT = [
  "    # Health mode: service. HAProxy checks each server's service itself (its health path, on the",
  '    # service\'s port unless "check port" says otherwise), so a dead, busy or restarting agent',
  '    # cannot take a healthy server out. The coordinator drains a server through the runtime API',
  '    # (stats socket, at once) and the agent-check (within agent-inter); HAProxy ignores an',
  '    # agent-check it cannot connect to and keeps the last word it read.',
];

const GATE_HEALTH_COMMENT = [
  '    # Health mode: gate (for a load balancer that can poll only one URL per server). Health is',
  '    # asked of each agent\'s gate ("check port"): it answers 200 only while the coordinator wants',
  '    # the server in rotation AND its service is healthy. Trade-off: the gate is served by the',
  '    # agent, so a dead, blocked or restarting agent takes a healthy service out of rotation after',
  '    # fall x inter. Prefer the service mode (rollgate lb haproxy-config --health service).',
  '    # User traffic still goes to the service port on the server line.',
];

/**
 * The one health path of a backend in service mode. HAProxy takes the check's path per backend
 * (`option httpchk`), so servers that disagree cannot share one: refuse, naming who uses what.
 */
function serviceHealthPath(servers: readonly HaproxyBackendServer[]): string {
  const missing = servers.filter((s) => s.healthPath === undefined).map((s) => s.name);
  if (missing.length > 0)
    fail(
      `health mode "service" needs each server's health path, and ${missing.join(', ')} has none: set services[].healthUrl in its agent config (and upgrade the agent if it is older than the health path report), or use health mode "gate"`,
    );
  const byPath = new Map<string, string[]>();
  for (const s of servers) byPath.set(s.healthPath!, [...(byPath.get(s.healthPath!) ?? []), s.name]);
  if (byPath.size > 1) {
    const who = [...byPath].map(([p, names]) => `${p} (${names.join(', ')})`).join(', ');
    fail(
      `the servers of one backend must share one health path (HAProxy checks one path per backend), but they use ${who}: give their services the same healthUrl path, or put them in separate backends`,
    );
  }
  return [...byPath.keys()][0]!;
}

/** The name of a cluster's validation backend (its clone of second instances). */
export function validationBackendName(backend: string): string {
  return `${backend}-validate`;
}

/**
 * The validation clone's backend: every server's second instance (beside port), disabled until a
 * validation starts one and routing rules send the pilot requests here. Not health-checked by
 * HAProxy: the agent checked each instance healthy when it started it.
 */
function validationBackend(
  backend: string,
  servers: readonly HaproxyBackendServer[],
  defaultServer: string,
  retries: number,
): string[] {
  const twins = servers.filter((s) => s.besidePort !== undefined);
  if (twins.length === 0) return [];
  return [
    `backend ${validationBackendName(backend)}`,
    '    # Validation clone (rollgate edition validate): routing rules send pilot requests here.',
    '    balance roundrobin',
    '    option redispatch',
    `    retries ${retries}`,
    '    retry-on conn-failure empty-response',
    '    http-request disable-l7-retry unless METH_GET || METH_HEAD',
    `    default-server ${defaultServer}`,
    ...twins.map((s) => `    server ${s.name}-beside ${hostPort(s.address, s.besidePort!)} disabled`),
    '',
  ];
}
