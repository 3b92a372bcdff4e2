// The fleet's HAProxy, configured by hand as an operator of issue 13 would: one frontend and one
// backend per role; a server's health comes from the SERVICE (an HTTP check on its own port and
// health path, `fall 3`), and the agent only adds its wish through the agent-check, which HAProxy
// ignores while it cannot connect. Not the configuration `rollgate lb haproxy-config` prints.
import { createHaproxyRuntime, type HaproxyRuntime, type ServerStat } from '@rollgate/lb';
import { freePort, startHaproxy, type HaproxyProcess } from '@rollgate/lb/testing';

export interface HaproxyServer {
  /** The server's name in HAProxy (the agent id). */
  name: string;
  servicePort: number;
  agentCheckPort: number;
}

export interface FleetHaproxyOptions {
  /** Servers per role: each role gets `frontend fe_<role>` and `backend be_<role>`. */
  roles: Record<string, HaproxyServer[]>;
  /** Health path of the service; default '/health'. */
  healthPath?: string;
}

export interface HandWrittenHaproxy {
  haproxy: HaproxyProcess;
  runtime: HaproxyRuntime;
  /** Role → frontend base URL (http://127.0.0.1:port, no trailing slash). */
  frontends: Record<string, string>;
  /** Role → backend name. */
  backends: Record<string, string>;
  config: string;
  /** Every server of every backend, as `show stat` reports it now. */
  stats(): Promise<ServerStat[]>;
  stop(): Promise<void>;
}

/** The configuration text; `ports` gives each role's frontend port. */
export function handWrittenConfig(opts: FleetHaproxyOptions, ports: Record<string, number>): string {
  const health = opts.healthPath ?? '/health';
  const sections = Object.entries(opts.roles).map(([role, servers]) =>
    [
      `frontend fe_${role}`,
      `    bind 127.0.0.1:${ports[role]}`,
      `    default_backend be_${role}`,
      '',
      `backend be_${role}`,
      '    balance roundrobin',
      // Health is the service's own: its health path on its own port.
      `    option httpchk GET ${health}`,
      '    http-check expect status 200',
      '    # A GET that met a connection the service was closing is sent again, never another method.',
      '    retry-on conn-failure empty-response',
      '    option redispatch',
      // The agent-check carries only the wish (ready / drain); unreachable, it is ignored.
      '    default-server inter 500ms fall 3 rise 2 agent-inter 500ms',
      ...servers.map(
        (s) =>
          `    server ${s.name} 127.0.0.1:${s.servicePort} check agent-check agent-addr 127.0.0.1 agent-port ${s.agentCheckPort}`,
      ),
      '',
    ].join('\n'),
  );
  return [
    'global',
    '    maxconn 4096',
    '',
    'defaults',
    '    mode http',
    '    option http-keep-alive',
    '    timeout connect 2s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    timeout http-keep-alive 10s',
    // Above the service's late answers (1.5 s): HAProxy itself rides out a late probe anyway.
    '    timeout check 2s',
    '    retries 3',
    '',
    ...sections,
  ].join('\n');
}

/** Starts HAProxy with the hand-written configuration; resolves once it answers on its socket. */
export async function startHandWrittenHaproxy(opts: FleetHaproxyOptions): Promise<HandWrittenHaproxy> {
  const roles = Object.keys(opts.roles);
  for (let attempt = 1; ; attempt++) {
    const ports: Record<string, number> = {};
    for (const r of roles) ports[r] = await freePort();
    const config = handWrittenConfig(opts, ports);
    let haproxy: HaproxyProcess;
    try {
      haproxy = await startHaproxy({ config });
    } catch (err) {
      // A port found free may be taken by another process before HAProxy binds it.
      if (attempt < 5 && /Address already in use|cannot bind/i.test((err as Error).message)) continue;
      throw err;
    }
    // Generous: on a busy machine `show stat` once took more than the default 5 s.
    const runtime = createHaproxyRuntime({ socketPath: haproxy.socketPath, timeoutMs: 15_000 });
    const backends = Object.fromEntries(roles.map((r) => [r, `be_${r}`]));
    return {
      haproxy,
      runtime,
      frontends: Object.fromEntries(roles.map((r) => [r, `http://127.0.0.1:${ports[r]}`])),
      backends,
      config,
      stats: async () =>
        (await Promise.all(Object.values(backends).map((b) => runtime.serverStats(b)))).flat(),
      stop: () => haproxy.stop(),
    };
  }
}

/** In rotation: HAProxy sends it new requests ("UP", or "UP 1/3" while a check failure is counted). */
export function inRotation(s: Pick<ServerStat, 'status' | 'statusText'>): boolean {
  return s.status === 'UP';
}
