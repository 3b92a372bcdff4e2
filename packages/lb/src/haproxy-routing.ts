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

/** Map files of a cluster under `mapDir` (default /etc/haproxy/rollgate), one per kind and header. */
export function routingMapFiles(
  cluster: string,
  headers: readonly string[],
  mapDir = '/etc/haproxy/rollgate',
): RoutingMapFiles {
  if (!NAME.test(cluster)) throw new Error(`invalid cluster name ${JSON.stringify(cluster)}`);
  const bad = headers.filter((h) => !HEADER.test(h));
  if (bad.length > 0)
    throw new Error(`invalid header name(s) ${bad.join(', ')}: lower-case letters, digits and "-"`);
  return {
    source: join(mapDir, `${cluster}.source.map`),
    pathPrefix: join(mapDir, `${cluster}.path.map`),
    headers: Object.fromEntries(headers.map((h) => [h, join(mapDir, `${cluster}.header.${h}.map`)])),
  };
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
  const files = [o.files.source, ...Object.values(o.files.headers), o.files.pathPrefix];
  const lookup = (fetch: string, conv: string, file: string) =>
    `  use_backend %[${fetch},${conv}(${file})] if { ${fetch},${conv}(${file}) -m found }`;
  return [
    `# Routing rules of cluster ${o.cluster} (Rollgate fills these maps at runtime; no reload needed).`,
    `# Create the map files once before (re)loading HAProxy:`,
    `#   install -d ${[...new Set(files.map((f) => f.slice(0, f.lastIndexOf('/'))))].join(' ')} && touch ${files.join(' ')}`,
    `frontend ${o.name ?? `${o.cluster}_front`}`,
    `  bind ${o.bind}`,
    '  mode http',
    lookup('src', 'map_ip', o.files.source),
    ...Object.entries(o.files.headers).map(([h, f]) => lookup(`req.hdr(${h})`, 'map_str', f)),
    lookup('path', 'map_beg', o.files.pathPrefix),
    `  default_backend ${o.defaultBackend}`,
    '',
  ].join('\n');
}
