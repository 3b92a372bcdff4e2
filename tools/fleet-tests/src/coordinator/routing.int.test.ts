// Routing rules through the API into a real HAProxy: the frontend `lb haproxy-config --routing`
// prints consults the maps, `lb.setRoutes` fills them at runtime (no reload), a rule naming an
// edition no backend serves or a header map HAProxy does not know is refused with nothing changed.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHaproxyRuntime, routingMapFiles } from '@rollgate/lb';
import type { HaproxyProcess } from '@rollgate/lb/testing';
import { behindHaproxy, startFleet, type Fleet, type FleetHaproxy } from '@rollgate/demo-fleet';

describe('routing rules applied to HAProxy at runtime', () => {
  let dir: string;
  let mapDir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  let haproxy: HaproxyProcess;
  let socketPath: string;
  let config: string;
  const files = () => routingMapFiles('demo', ['x-pilot'], mapDir);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-routing-'));
    mapDir = join(dir, 'maps');
    await mkdir(mapDir);
    const f = files();
    for (const file of [f.source, f.pathPrefix, ...Object.values(f.headers)]) await writeFile(file, '');
    fleet = await startFleet({ dir, heartbeatMs: 500 });
    lb = await behindHaproxy(fleet, { config: { routing: true, routingHeaders: ['x-pilot'], mapDir } });
    haproxy = lb.haproxy;
    socketPath = lb.socketPath;
    config = lb.config;
  });

  afterAll(async () => {
    await lb?.stop();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a frontend that looks up the source, header and path maps before the default backend', () => {
    const f = files();
    expect(config).toContain(
      `use_backend %[src,map_ip(${f.source})] if { src,map_ip(${f.source}) -m found }`,
    );
    expect(config).toContain(`req.hdr(x-pilot),map_str(${f.headers['x-pilot']})`);
    expect(config).toContain(`path,map_beg(${f.pathPrefix})`);
    expect(config).toContain('default_backend demo');
    // One frontend only: the plain one gave way.
    expect(config.match(/^frontend /gm)).toHaveLength(1);
  });

  it('applies rules to the maps without a reload, and lists where each points', async () => {
    const rt = createHaproxyRuntime({ socketPath });
    const worker = haproxy.workerPid;
    const view = await fleet.api.lb.setRoutes.mutate({
      cluster: 'demo',
      mapDir,
      rules: [
        { match: 'header', header: 'X-Pilot', value: 'yes', edition: '1.0' },
        { match: 'source', cidr: '10.1.0.0/16', edition: '1.0' },
        { match: 'path-prefix', prefix: '/beta/', edition: '1.0' },
      ],
    });
    expect(view.editions).toEqual({ '1.0': 'demo' });
    expect(view.rules.map((r) => [r.description, r.backend])).toEqual([
      ['header x-pilot: yes → edition 1.0', 'demo'],
      ['source 10.1.0.0/16 → edition 1.0', 'demo'],
      ['path prefix /beta/ → edition 1.0', 'demo'],
    ]);
    const f = files();
    expect(await rt.showMap(f.headers['x-pilot']!)).toEqual([['yes', 'demo']]);
    expect(await rt.showMap(f.source)).toEqual([['10.1.0.0/16', 'demo']]);
    expect(await rt.showMap(f.pathPrefix)).toEqual([['/beta/', 'demo']]);
    expect(haproxy.workerPid).toBe(worker); // no reload
    expect((await fleet.api.lb.routes.query({ cluster: 'demo' })).rules).toHaveLength(3);
    const audit = await fleet.api.audit.list.query();
    expect(audit.find((a) => a.action === 'lb.routes.set')).toMatchObject({ target: 'demo' });
  });

  it('refuses a rule to an edition no backend serves, and a header HAProxy has no map for; nothing changes', async () => {
    const rt = createHaproxyRuntime({ socketPath });
    const f = files();
    await expect(
      fleet.api.lb.setRoutes.mutate({
        cluster: 'demo',
        rules: [{ match: 'header', header: 'x-pilot', value: 'beta', edition: '2.0' }],
      }),
    ).rejects.toThrow(
      /no backend serves edition 2\.0.*Editions served now: 1\.0 \(backend demo\)\. Nothing was changed/,
    );
    await expect(
      fleet.api.lb.setRoutes.mutate({
        cluster: 'demo',
        rules: [{ match: 'header', header: 'x-tenant', value: 'acme', edition: '1.0' }],
      }),
    ).rejects.toThrow(/does not name the map file\(s\) .*demo\.header\.x-tenant\.map.*Nothing was changed/);
    await expect(
      fleet.api.lb.setRoutes.mutate({
        cluster: 'demo',
        rules: [{ match: 'source', cidr: '10.1.0.1/16', edition: '1.0' }],
      }),
    ).rejects.toThrow(/host bits set/);
    expect(await rt.showMap(f.headers['x-pilot']!)).toEqual([['yes', 'demo']]);
    expect((await fleet.api.lb.routes.query({ cluster: 'demo' })).rules).toHaveLength(3);
  });

  it('an empty rule set clears every map', async () => {
    const rt = createHaproxyRuntime({ socketPath });
    const f = files();
    await fleet.api.lb.setRoutes.mutate({ cluster: 'demo', rules: [] });
    for (const file of [f.source, f.pathPrefix, f.headers['x-pilot']!])
      expect(await rt.showMap(file)).toEqual([]);
  });
});
