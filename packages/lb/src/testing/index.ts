// @rollgate/lb/testing: helpers other packages' tests and the bench reuse: a real HAProxy process,
// an open-loop HTTP load generator, a TCP proxy that can blackhole a link, a free loopback port.

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

/** A free loopback port (the one implementation lives in @rollgate/test-kit, docs/adr/0034). */
export { freePort } from '@rollgate/test-kit';
