// @rollgate/lb/testing: helpers other packages' tests and the bench reuse: a real HAProxy process,
// an open-loop HTTP load generator, a TCP proxy that can blackhole a link, a free loopback port.
import { createServer } from 'node:net';

export {
  findHaproxy,
  startHaproxy,
  startHaproxyOnFreePort,
  withStatsSocket,
  type HaproxyPaths,
  type HaproxyProcess,
  type StartHaproxyOptions,
} from './haproxy-process';
export {
  createLoadGenerator,
  type LoadGenerator,
  type LoadGeneratorOptions,
  type LoadReport,
  type LoadResult,
} from './load-generator';
export { startTcpProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy';

/** A port the OS offers on 127.0.0.1 right now (closed again at once). */
function offeredPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Ports this process has handed out. Once a probe socket is closed the OS may offer the same port
 * to the next probe, before the first caller has bound it: a demo fleet once gave two servers'
 * services one port, and one of them could not start.
 */
const handedOut = new Set<number>();

/** A TCP port free on 127.0.0.1 right now and not handed out before by this process (bind it soon). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await offeredPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port that this process has not handed out already (100 tries)');
}
