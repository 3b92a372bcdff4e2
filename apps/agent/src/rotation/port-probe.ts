// Asks the kernel about one port instead of reading the whole socket table: a TCP connect to each
// address the service may listen on (issue 18.3). /proc/net/tcp lists every socket of the machine,
// TIME_WAIT ones included, so under Connection: close load reading and parsing it costs ~175 ms
// (26k entries); a loopback connect is answered by the kernel at once — accepted when something
// listens, refused (RST) when nothing does — whatever the table holds.
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Where a service may be listening when its config names no address of its own. */
export const DEFAULT_PROBE_HOSTS: readonly string[] = ['127.0.0.1', '::1'];

export interface PortProbeOptions {
  /**
   * Addresses to try, all at once; the port is "listening" when any of them accepts. Default
   * 127.0.0.1 and ::1, which reach a service bound to the wildcard address or to loopback.
   */
  hosts?: readonly string[];
  /**
   * How long one connect may take, ms; default 250. A local port nobody listens on is refused at
   * once, so a connect still pending at the deadline means a listener whose backlog is full: busy,
   * but listening.
   */
  timeoutMs?: number;
}

export type ProbeAnswer = 'listening' | 'refused' | 'unreachable';

/** Connects to host:port once and closes at once; what the kernel answered. */
export function probeOnce(host: string, port: number, timeoutMs = 250): Promise<ProbeAnswer> {
  return new Promise((resolve) => {
    const sock = connect({ host, port, noDelay: true });
    let done = false;
    const finish = (answer: ProbeAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(answer);
    };
    // Past the deadline, I/O that is already in (a refusal the kernel sent at once, but the loop
    // was too busy to read before the timer was due) is read first: timers run before I/O
    // callbacks in an event-loop turn, setImmediate after them. A busy agent must not take a
    // refused port for a listening one.
    const timer = setTimeout(() => setImmediate(() => finish('listening')), timeoutMs);
    sock.once('connect', () =>
      // A connect to a free port in the ephemeral range can be given that very port as its own
      // source port and "connect" to itself (TCP simultaneous open): nothing listens there.
      finish(sock.localPort === port && sock.localAddress === sock.remoteAddress ? 'refused' : 'listening'),
    );
    sock.once('error', (err: NodeJS.ErrnoException) =>
      // ECONNREFUSED: nothing listens. EADDRNOTAVAIL/ENETUNREACH/EAFNOSUPPORT: no such address here
      // (e.g. no IPv6 loopback in this container): nothing can listen there either.
      finish(err.code === 'ECONNREFUSED' ? 'refused' : 'unreachable'),
    );
  });
}

/** True when something accepts TCP connections on the port at any of the hosts. */
export async function isPortListening(port: number, opts: PortProbeOptions = {}): Promise<boolean> {
  const hosts = opts.hosts && opts.hosts.length > 0 ? opts.hosts : DEFAULT_PROBE_HOSTS;
  const answers = await Promise.all(hosts.map((h) => probeOnce(h, port, opts.timeoutMs)));
  return answers.includes('listening');
}

/** What probeHostsFor needs of a service config. */
export interface ProbedService {
  port: number;
  healthUrl: string;
  beside?: { port: number };
}

/**
 * The addresses to probe for a port: loopback, plus the address of the service's health URL when
 * it is one of this machine's own (a service bound to one interface only is found there). A
 * remote or unknown address is never probed: a connect that does not answer would read as "busy".
 */
export function probeHostsFor(
  services: readonly ProbedService[],
  localAddresses: readonly string[],
): (port: number) => readonly string[] {
  const local = new Set(localAddresses.map((a) => a.toLowerCase()));
  return (port) => {
    const s = services.find((x) => x.port === port || x.beside?.port === port);
    if (!s) return DEFAULT_PROBE_HOSTS;
    let host: string;
    try {
      host = new URL(s.healthUrl).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    } catch {
      return DEFAULT_PROBE_HOSTS;
    }
    return local.has(host) && !DEFAULT_PROBE_HOSTS.includes(host)
      ? [...DEFAULT_PROBE_HOSTS, host]
      : DEFAULT_PROBE_HOSTS;
  };
}

/** This machine's interface addresses (IPv4 and IPv6, without zone ids). */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((i) => i.address.replace(/%.*$/, ''));
}
