// Routing rules on a REAL HAProxy: a pilot header, then a client address, then a path prefix send
// requests to edition 2.0 while the rest get 1.0; the rules change at runtime through the maps
// (no reload), under keep-alive load, and no request fails.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routingMaps, routingRulesSchema, type RoutingRule } from '@rollgate/domain';
import { renderRoutingFrontend, routingMapFiles, type RoutingMapFiles } from './haproxy-routing';
import { createHaproxyRuntime, type HaproxyRuntime } from './haproxy-runtime';
import { createLoadGenerator, freePort, startHaproxy, type HaproxyProcess } from './testing';

let hp: HaproxyProcess;
let rt: HaproxyRuntime;
let fePort: number;
let mapDir: string;
let files: RoutingMapFiles;
const servers: Server[] = [];
const BACKEND = { '1.0': 'demo_1_0', '2.0': 'demo_2_0' } as Record<string, string>;

async function editionServer(edition: string, port: number): Promise<Server> {
  const s = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ edition }));
  });
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return s;
}

/** GET through HAProxy from a given local address, with headers; the edition that answered. */
function editionFor(
  path: string,
  headers: Record<string, string> = {},
  localAddress = '127.0.0.1',
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: fePort, path, headers, localAddress, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve((JSON.parse(body) as { edition: string }).edition));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function apply(rules: unknown) {
  const parsed: RoutingRule[] = routingRulesSchema.parse(rules);
  const maps = routingMaps(parsed, (e) => BACKEND[e]);
  await rt.replaceMap(files.source, maps.source);
  await rt.replaceMap(files.pathPrefix, maps.pathPrefix);
  for (const [header, file] of Object.entries(files.headers))
    await rt.replaceMap(file, maps.headers[header] ?? []);
}

beforeAll(async () => {
  const [front, p1, p2] = await Promise.all([freePort(), freePort(), freePort()]);
  fePort = front;
  servers.push(await editionServer('1.0', p1), await editionServer('2.0', p2));
  mapDir = await mkdtemp(join(tmpdir(), 'rollgate-maps-'));
  files = routingMapFiles('demo', ['x-pilot'], mapDir);
  for (const f of [files.source, files.pathPrefix, ...Object.values(files.headers)]) await writeFile(f, '');
  const frontend = renderRoutingFrontend({
    cluster: 'demo',
    bind: `127.0.0.1:${fePort}`,
    defaultBackend: BACKEND['1.0']!,
    files,
  });
  hp = await startHaproxy({
    config: [
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      frontend,
      `backend ${BACKEND['1.0']}`,
      `  server a 127.0.0.1:${p1}`,
      `backend ${BACKEND['2.0']}`,
      `  server b 127.0.0.1:${p2}`,
      '',
    ].join('\n'),
  });
  rt = createHaproxyRuntime({ socketPath: hp.socketPath });
});

afterAll(async () => {
  await hp?.stop();
  for (const s of servers) await new Promise((r) => s.close(r));
  await rm(mapDir, { recursive: true, force: true });
});

describe('routing rules through HAProxy maps, changed at runtime', () => {
  it('sends the pilot header, then a client address, then a path prefix to 2.0; the rest to 1.0', async () => {
    expect(await editionFor('/')).toBe('1.0');

    await apply([{ match: 'header', header: 'X-Pilot', value: 'pilot', edition: '2.0' }]);
    expect(await editionFor('/', { 'x-pilot': 'pilot' })).toBe('2.0');
    expect(await editionFor('/', { 'x-pilot': 'other' })).toBe('1.0');
    expect(await editionFor('/')).toBe('1.0');
    expect(await rt.showMap(files.headers['x-pilot']!)).toEqual([['pilot', BACKEND['2.0']]]);

    await apply([{ match: 'source', cidr: '127.0.0.2/32', edition: '2.0' }]);
    expect(await editionFor('/', {}, '127.0.0.2')).toBe('2.0');
    expect(await editionFor('/', {}, '127.0.0.1')).toBe('1.0');
    // The header rule was replaced, not kept: the map holds exactly the current rules.
    expect(await editionFor('/', { 'x-pilot': 'pilot' })).toBe('1.0');

    await apply([{ match: 'path-prefix', prefix: '/beta/', edition: '2.0' }]);
    expect(await editionFor('/beta/page')).toBe('2.0');
    expect(await editionFor('/alpha/page')).toBe('1.0');
  });

  it('changes the rules 20 times under keep-alive load without a reload and without a failed request', async () => {
    const gen = createLoadGenerator({
      url: `http://127.0.0.1:${fePort}/`,
      ratePerSec: 200,
      keepAlive: true,
      timeoutMs: 3000,
    });
    gen.start();
    for (let i = 0; i < 20; i++) {
      await apply(i % 2 === 0 ? [{ match: 'source', cidr: '127.0.0.0/8', edition: '2.0' }] : []);
      await new Promise((r) => setTimeout(r, 100));
    }
    const report = await gen.stop();
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(report.byBody['1.0'] ?? 0).toBeGreaterThan(0);
    expect(report.byBody['2.0'] ?? 0).toBeGreaterThan(0);
    // HAProxy never reloaded: one process all along, and its log has no reload.
    expect(hp.output()).not.toMatch(/reload/i);
  });

  it('refuses rules that would be ambiguous or go nowhere, and map input that could smuggle a command', async () => {
    expect(() =>
      routingRulesSchema.parse([
        { match: 'source', cidr: '10.0.0.0/8', edition: '2.0' },
        { match: 'source', cidr: '10.0.0.0/8', edition: '1.0' },
      ]),
    ).toThrow(/rule 2 matches the same requests as rule 1/);
    expect(() => routingRulesSchema.parse([{ match: 'source', cidr: '10.0.0.1/8', edition: '2.0' }])).toThrow(
      /host bits set for \/8; write the network address \(e\.g\. \\?"10\.0\.0\.0\/8/,
    );
    expect(() =>
      routingMaps(
        routingRulesSchema.parse([{ match: 'header', header: 'x-pilot', value: 'a', edition: '3.0' }]),
        (e) => BACKEND[e],
      ),
    ).toThrow(/no backend serves edition 3.0/);
    await expect(rt.replaceMap(files.source, [['1.2.3.4/32', 'x;shutdown sessions']])).rejects.toThrow(
      /invalid map entry/,
    );
    await expect(rt.replaceMap('/etc/../passwd', [])).rejects.toThrow(/invalid map file/);
  });
});
