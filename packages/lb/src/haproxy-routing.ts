// The HAProxy side of routing rules: which map files a cluster's rules live in, and the frontend
// lines that consult them. The maps are filled and changed at runtime (HaproxyRuntime.replaceMap),
// so rules change without a reload; only adding a new header name needs the config once more.
import { join } from 'node:path';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const HEADER = /^[a-z0-9][a-z0-9-]{0,63}$/;

export interface RoutingMapFiles {
  source: string;
  pathPrefix: string;
  headers: Record<string, string>;
}

/**
 * Map files of a cluster under `mapDir` (default /etc/haproxy/rollgate), one per kind and header.
 * With `pool` (a cluster of per-role pools, docs/adr/0029) each pool's frontend has its own maps,
 * `<cluster>.<pool>.source.map` etc., whose values are backends of that pool's role.
 */
export function routingMapFiles(
  cluster: string,
  headers: readonly string[],
  mapDir = '/etc/haproxy/rollgate',
  pool?: string,
): RoutingMapFiles {
  if (!NAME.test(cluster)) throw new Error(`invalid cluster name ${JSON.stringify(cluster)}`);
  if (pool !== undefined && !NAME.test(pool)) throw new Error(`invalid pool name ${JSON.stringify(pool)}`);
  const bad = headers.filter((h) => !HEADER.test(h));
  if (bad.length > 0)
    throw new Error(`invalid header name(s) ${bad.join(', ')}: lower-case letters, digits and "-"`);
  const base = pool === undefined ? cluster : `${cluster}.${pool}`;
  return {
    source: join(mapDir, `${base}.source.map`),
    pathPrefix: join(mapDir, `${base}.path.map`),
    headers: Object.fromEntries(headers.map((h) => [h, join(mapDir, `${base}.header.${h}.map`)])),
  };
}

/** Every map file of `files`, in the order the frontend consults them. */
export function routingMapFileList(files: RoutingMapFiles): string[] {
  return [files.source, ...Object.values(files.headers), files.pathPrefix];
}

/** The `use_backend` lines that consult the maps, first match wins, indented by `indent`. */
export function routingLookupLines(files: RoutingMapFiles, indent = '  '): string[] {
  const lookup = (fetch: string, conv: string, file: string) =>
    `${indent}use_backend %[${fetch},${conv}(${file})] if { ${fetch},${conv}(${file}) -m found }`;
  return [
    lookup('src', 'map_ip', files.source),
    ...Object.entries(files.headers).map(([h, f]) => lookup(`req.hdr(${h})`, 'map_str', f)),
    lookup('path', 'map_beg', files.pathPrefix),
  ];
}

/** The comment telling how to create the map files before HAProxy (re)loads. */
export function routingMapCreateComment(files: readonly string[], prefix = '#'): string {
  return `${prefix}   install -d ${[...new Set(files.map((f) => f.slice(0, f.lastIndexOf('/'))))].join(' ')} && touch ${files.join(' ')}`;
}

export interface RenderRoutingFrontendOptions {
  /** Frontend name; default `<cluster>_front`. */
  name?: string;
  cluster: string;
  /** Where the frontend listens, e.g. `*:80`. */
  bind: string;
  /** Where requests no rule matches go: the cluster's backend. */
  defaultBackend: string;
  files: RoutingMapFiles;
}

/**
 * A frontend that routes by the rules' maps, first match wins: client address, then each header,
 * then path prefix, else the default backend. The map files must exist when HAProxy starts (empty
 * is fine): the comment at the top says how to create them.
 */
export function renderRoutingFrontend(o: RenderRoutingFrontendOptions): string {
  const files = routingMapFileList(o.files);
  return [
    `# Routing rules of cluster ${o.cluster} (Rollgate fills these maps at runtime; no reload needed).`,
    `# Create the map files once before (re)loading HAProxy:`,
    routingMapCreateComment(files),
    `frontend ${o.name ?? `${o.cluster}_front`}`,
    `  bind ${o.bind}`,
    '  mode http',
    ...routingLookupLines(o.files),
    `  default_backend ${o.defaultBackend}`,
    '',
  ].join('\n');
}
