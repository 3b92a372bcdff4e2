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

/** A TCP port free on 127.0.0.1 right now (the OS picks it; bind it soon after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
