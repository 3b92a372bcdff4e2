import { z } from 'zod';
import { editionNameSchema } from './fleet';

/**
 * Routing rules send matching requests to a given edition while others keep the default (the seed's
 * routing rules for concurrent and validation editions). They are applied to the load balancer at
 * runtime (HAProxy maps), so changing them never reloads it. Matching order, first match wins:
 * client address, then header, then path prefix; within one kind the most specific match wins
 * (the longest prefix, the narrowest CIDR), as HAProxy's map lookups do.
 */

/** Where HAProxy's map files live on its host: an absolute path HAProxy's config can name as is. */
export const mapDirSchema = z
  .string()
  .regex(
    /^\/[A-Za-z0-9._/-]{0,255}$/,
    'mapDir is an absolute path of letters, digits, ".", "_", "-" and "/"',
  );

/** HTTP header names are tokens; lower-cased, as HAProxy compares them. */
export const headerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'a header name is letters, digits and "-" (e.g. "x-pilot")')
  .transform((s) => s.toLowerCase());

/** A header value or path that can be a map key: no whitespace or control characters (map files split on them). */
const mapKey = (what: string, example: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(256, `${what} is at most 256 characters`)
    .regex(/^[\x21-\x7e]+$/, `${what} must be printable ASCII without spaces (e.g. "${example}")`);

function parseIpv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const nums = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return nums.every((n) => n >= 0 && n <= 255) ? nums : null;
}

/** An IPv4 address or CIDR block, normalised to "a.b.c.d/n" (host bits must be zero). */
export const cidrSchema = z.string().transform((s, ctx) => {
  const [addr = '', bitsText, ...rest] = s.trim().split('/');
  const ip = parseIpv4(addr);
  const bits = bitsText === undefined ? 32 : /^\d{1,2}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!ip || rest.length > 0 || !(bits >= 0 && bits <= 32)) {
    ctx.addIssue({
      code: 'custom',
      message: `"${s}" is not an IPv4 address or CIDR block (e.g. "10.1.0.0/16" or "192.0.2.7")`,
    });
    return z.NEVER;
  }
  const value = ip.reduce((acc, n) => acc * 256 + n, 0);
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  if (value - (value % 2 ** (32 - bits)) !== value || (mask === 0 && value !== 0)) {
    ctx.addIssue({
      code: 'custom',
      message: `"${s}" has host bits set for /${bits}; write the network address (e.g. "${networkOf(ip, bits)}/${bits}")`,
    });
    return z.NEVER;
  }
  return `${ip.join('.')}/${bits}`;
});

function networkOf(ip: number[], bits: number): string {
  const value = ip.reduce((acc, n) => acc * 256 + n, 0);
  const net = value - (value % 2 ** (32 - bits));
  return [24, 16, 8, 0].map((sh) => Math.floor(net / 2 ** sh) % 256).join('.');
}

export const routingRuleSchema = z.discriminatedUnion('match', [
  z.strictObject({
    match: z.literal('path-prefix'),
    prefix: mapKey('the path prefix', '/beta/').refine(
      (p) => p.startsWith('/'),
      'a path prefix starts with "/"',
    ),
    edition: editionNameSchema,
  }),
  z.strictObject({
    match: z.literal('header'),
    header: headerNameSchema,
    value: mapKey('the header value', 'pilot'),
    edition: editionNameSchema,
  }),
  z.strictObject({ match: z.literal('source'), cidr: cidrSchema, edition: editionNameSchema }),
]);

export type RoutingRule = z.output<typeof routingRuleSchema>;

/** The same key twice would make the outcome depend on map order: refused, naming both. */
export const routingRulesSchema = z
  .array(routingRuleSchema)
  .max(10_000, 'at most 10000 routing rules')
  .superRefine((rules, ctx) => {
    const seen = new Map<string, number>();
    rules.forEach((r, i) => {
      const key = ruleKey(r);
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `rule ${i + 1} matches the same requests as rule ${first + 1} (${key}); keep one of them`,
        });
      } else seen.set(key, i);
    });
  });

function ruleKey(r: RoutingRule): string {
  switch (r.match) {
    case 'path-prefix':
      return `path prefix ${r.prefix}`;
    case 'header':
      return `header ${r.header}: ${r.value}`;
    case 'source':
      return `source ${r.cidr}`;
  }
}

/** One HAProxy map (key → backend) per kind of match; one header map per header name. */
export interface RoutingMaps {
  source: [string, string][];
  headers: Record<string, [string, string][]>;
  pathPrefix: [string, string][];
}

/**
 * The map entries that implement the rules, given the backend that serves each edition. Every
 * edition a rule names must have a backend: a rule to nowhere would send users to a 503.
 */
export function routingMaps(
  rules: RoutingRule[],
  backendOf: (edition: string) => string | undefined,
): RoutingMaps {
  const maps: RoutingMaps = { source: [], headers: {}, pathPrefix: [] };
  const missing = new Set<string>();
  for (const r of rules) {
    const backend = backendOf(r.edition);
    if (!backend) {
      missing.add(r.edition);
      continue;
    }
    if (r.match === 'source') maps.source.push([r.cidr, backend]);
    else if (r.match === 'path-prefix') maps.pathPrefix.push([r.prefix, backend]);
    else (maps.headers[r.header] ??= []).push([r.value, backend]);
  }
  if (missing.size > 0) {
    throw new Error(
      `no backend serves edition ${[...missing].join(', ')}: activate or validate it on a target first, or remove the rules that name it`,
    );
  }
  return maps;
}

/** "header x-pilot: pilot → 2.0" etc., for logs and the CLI. */
export function describeRule(r: RoutingRule): string {
  return `${ruleKey(r)} → edition ${r.edition}`;
}
