import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  renderHaproxyPools,
  type HaproxyBackendServer,
  type RenderHaproxyPoolsOptions,
} from './haproxy-config';
import { routingMapFileList, routingMapFiles } from './haproxy-routing';

const server = (name: string, address: string, port: number): HaproxyBackendServer => ({
  name,
  address,
  servicePort: port,
  gatePort: 7070,
  agentCheckPort: 7071,
  healthPath: '/health',
});

const pools = (mapDir: string, routing: boolean): RenderHaproxyPoolsOptions => ({
  cluster: 'blue',
  health: 'service',
  runtime: { socketPath: join(mapDir, 'admin.sock') },
  pools: ['admin', 'stream'].map((name, i) => ({
    name,
    backend: `be_${name}_blue`,
    bind: `127.0.0.1:${18281 + i}`,
    servers: [server(`${name}-1`, '127.0.0.1', 9001 + i)],
    ...(routing ? { routing: routingMapFiles('blue', ['x-edition'], mapDir, name) } : {}),
  })),
});

const frontend = (cfg: string, name: string): string[] => {
  const l = cfg.split('\n');
  const out: string[] = [];
  for (const line of l.slice(l.indexOf(`frontend ${name}`))) {
    if (line === '') break;
    out.push(line.trim());
  }
  return out;
};

describe('routing per pool (docs/adr/0029)', () => {
  it('names map files per pool, and the one-backend names stay as they were', () => {
    expect(routingMapFiles('blue', ['x-edition'], '/m')).toEqual({
      source: '/m/blue.source.map',
      pathPrefix: '/m/blue.path.map',
      headers: { 'x-edition': '/m/blue.header.x-edition.map' },
    });
    expect(routingMapFiles('blue', ['x-edition'], '/m', 'stream')).toEqual({
      source: '/m/blue.stream.source.map',
      pathPrefix: '/m/blue.stream.path.map',
      headers: { 'x-edition': '/m/blue.stream.header.x-edition.map' },
    });
    expect(() => routingMapFiles('blue', [], '/m', 'a b')).toThrow(/invalid pool name/);
  });

  it("renders each pool's frontend consulting its own maps before its default backend", () => {
    const cfg = renderHaproxyPools(pools('/m', true));
    expect(frontend(cfg, 'fe_stream')).toEqual([
      'frontend fe_stream',
      'bind 127.0.0.1:18282',
      'use_backend %[src,map_ip(/m/blue.stream.source.map)] if { src,map_ip(/m/blue.stream.source.map) -m found }',
      'use_backend %[req.hdr(x-edition),map_str(/m/blue.stream.header.x-edition.map)] if { req.hdr(x-edition),map_str(/m/blue.stream.header.x-edition.map) -m found }',
      'use_backend %[path,map_beg(/m/blue.stream.path.map)] if { path,map_beg(/m/blue.stream.path.map) -m found }',
      'default_backend be_stream_blue',
    ]);
    expect(cfg).toContain(
      'touch /m/blue.admin.source.map /m/blue.admin.header.x-edition.map /m/blue.admin.path.map',
    );
    // Without routing maps the frontends are the plain ones of before.
    expect(frontend(renderHaproxyPools(pools('/m', false)), 'fe_admin')).toEqual([
      'frontend fe_admin',
      'bind 127.0.0.1:18281',
      'default_backend be_admin_blue',
    ]);
  });

  it('passes haproxy -c with the map files in place, and fails without them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'haproxy-pools-routing-'));
    try {
      const cfg = renderHaproxyPools(pools(dir, true));
      const file = join(dir, 'haproxy.cfg');
      await writeFile(file, cfg);
      const check = async () => {
        try {
          const { stdout, stderr } = await promisify(execFile)('/usr/sbin/haproxy', ['-c', '-f', file]);
          return { ok: true, output: stdout + stderr };
        } catch (err) {
          const e = err as { stdout?: string; stderr?: string };
          return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
        }
      };
      expect((await check()).ok).toBe(false);
      await mkdir(dir, { recursive: true });
      for (const name of ['admin', 'stream'])
        for (const f of routingMapFileList(routingMapFiles('blue', ['x-edition'], dir, name)))
          await writeFile(f, '');
      const r = await check();
      expect(r.output).toMatch(/Configuration file is valid/);
      expect(r.ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
