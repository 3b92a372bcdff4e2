// The load generator against real servers: a trivial server in its own process (so the generator
// has its event loop to itself), through a real HAProxy, with and without keep-alive; and targets
// that stall or refuse, which must show as errors at the scheduled rate, not as fewer requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './index';
import { startHaproxyOnFreePort, type HaproxyProcess } from './haproxy-process';
import { createLoadGenerator, type LoadReport } from './load-generator';

const TRIVIAL = `
const { createServer } = require('node:http');
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"edition":"1.0","server":"trivial"}');
}).listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening'));
`;

let trivial: ChildProcess;
let hp: HaproxyProcess;
let appPort: number;
let fePort: number;

async function run(url: string, ratePerSec: number, keepAlive: boolean, ms: number): Promise<LoadReport> {
  const gen = createLoadGenerator({ url, ratePerSec, keepAlive, timeoutMs: 3000 });
  gen.start();
  await new Promise((r) => setTimeout(r, ms));
  return gen.stop();
}

beforeAll(async () => {
  appPort = await freePort();
  trivial = spawn(process.execPath, ['-e', TRIVIAL, String(appPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((r) => trivial.stdout?.once('data', r));
  ({ haproxy: hp, port: fePort } = await startHaproxyOnFreePort(
    (fePort) =>
      [
        'defaults',
        '    mode http',
        '    timeout connect 1s',
        '    timeout client 10s',
        '    timeout server 10s',
        'frontend fe',
        `    bind 127.0.0.1:${fePort}`,
        '    default_backend be',
        'backend be',
        `    server s1 127.0.0.1:${appPort}`,
        '',
      ].join('\n'),
    freePort,
  ));
}, 30_000);

afterAll(async () => {
  await hp?.stop();
  trivial?.kill('SIGKILL');
});

describe('load generator', () => {
  for (const keepAlive of [true, false]) {
    it(`sustains 600 req/s through HAProxy (keep-alive ${keepAlive}) with every request answered`, async () => {
      const r = await run(`http://127.0.0.1:${fePort}/`, 600, keepAlive, 2000);
      console.log(
        `[load] 600 req/s via HAProxy keep-alive ${keepAlive}: sent ${r.sent}, 2xx ${r.ok2xx}, errors ${r.errors}, achieved ${r.achievedRps}/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max schedule lag ${r.maxScheduleLagMs} ms`,
      );
      // The schedule decides how many are sent: 2 s at 600/s.
      expect(r.sent).toBeGreaterThanOrEqual(1150);
      expect(r.sent).toBeLessThanOrEqual(1250);
      expect(r.errors).toBe(0);
      expect(r.ok2xx).toBe(r.sent);
      expect(r.byBody).toEqual({ '1.0': r.sent });
      expect(r.byStatus).toEqual({ '200': r.sent });
    });
  }

  it('a stalled target shows up as timeouts at the scheduled rate, not as fewer requests', async () => {
    const port = await freePort();
    const stall: Server = createServer(() => {
      // never answers
    });
    await new Promise<void>((r) => stall.listen(port, '127.0.0.1', r));
    try {
      const gen = createLoadGenerator({ url: `http://127.0.0.1:${port}/`, ratePerSec: 100, timeoutMs: 300 });
      gen.start();
      await new Promise((r) => setTimeout(r, 1000));
      const r = await gen.stop();
      expect(r.sent).toBeGreaterThanOrEqual(95);
      expect(r.errors).toBe(r.sent);
      expect(r.errorsByKind).toEqual({ timeout: r.sent });
      expect(r.errorSamples).toEqual(['timeout: timeout after 300 ms']);
    } finally {
      stall.closeAllConnections();
      await new Promise((r) => stall.close(r));
    }
  });

  it('counts refused connections by errno and non-JSON bodies by their first 40 characters', async () => {
    const closedPort = await freePort();
    const refused = await run(`http://127.0.0.1:${closedPort}/`, 50, true, 300);
    expect(refused.errors).toBe(refused.sent);
    expect(Object.keys(refused.errorsByKind)).toEqual(['ECONNREFUSED']);

    const port = await freePort();
    const text: Server = createServer((_req, res) => {
      res
        .writeHead(503)
        .end('<html><body><h1>503 Service Unavailable</h1> No server is available</body></html>');
    });
    await new Promise<void>((r) => text.listen(port, '127.0.0.1', r));
    try {
      const r = await run(`http://127.0.0.1:${port}/`, 50, false, 300);
      expect(r.non2xx).toBe(r.sent);
      expect(r.byBody).toEqual({ '<html><body><h1>503 Service Unavailable<': r.sent });
    } finally {
      await new Promise((r) => text.close(r));
    }
  });
});
