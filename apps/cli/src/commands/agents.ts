// `rollgate agents token create` and `rollgate agents revoke` (docs/adr/0013).
import type { CommandContext, JsonFlag } from '../context';
import { CliError } from '../errors';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90s", "30m", "1h", "2d" (or a bare number of seconds) → seconds; null when it is none of those. */
export function parseTtl(text: string): number | null {
  const m = /^\s*(\d{1,7})\s*([smhd]?)\s*$/.exec(text);
  if (!m) return null;
  const n = Number(m[1]) * UNITS[m[2] || 's']!;
  return n >= 1 ? n : null;
}

export interface TokenCreateFlags extends JsonFlag {
  /** How long the token may be used: 30m, 1h, 2d. Default 1h. */
  ttl?: string;
  /** The cluster the agent is pinned to (docs/adr/0018). Required. */
  cluster?: string;
  /** The only server id that may enrol with it. Default any id not already enrolled. */
  server?: string;
}

export async function agentsTokenCreateCommand(
  ctx: CommandContext,
  flags: TokenCreateFlags,
): Promise<number> {
  const ttlSeconds = parseTtl(flags.ttl ?? '1h');
  if (ttlSeconds === null) {
    throw new CliError(`--ttl "${flags.ttl}" is not a duration: give e.g. 30m, 1h or 2d (at most 7d).`);
  }
  if (!flags.cluster) {
    throw new CliError(
      'a join token must name the cluster its agent joins (the agent is pinned to it): add --cluster <name>, e.g. `rollgate agents token create --cluster demo`.',
    );
  }
  const t = await ctx.client.agents.createJoinToken.mutate({
    ttlSeconds,
    cluster: flags.cluster,
    ...(flags.server ? { serverId: flags.server } : {}),
  });
  if (flags.json) {
    ctx.out.json(t);
    return 0;
  }
  ctx.out.print(
    [
      t.token,
      '',
      `single use, expires ${new Date(t.expiresAt).toISOString()}, cluster ${t.cluster}${t.serverId ? `, server ${t.serverId} only` : ''}`,
      `it carries the coordinator CA's sha256 (${t.caFingerprint.slice(0, 16)}…), which the agent pins.`,
      'This is the only time it is shown. Give it to the agent once, e.g.:',
      '  ROLLGATE_JOIN_TOKEN=<token> rollgate-agent --config /etc/rollgate/agent.json',
    ].join('\n'),
  );
  return 0;
}

export async function agentsRevokeCommand(
  ctx: CommandContext,
  serverId: string,
  flags: JsonFlag,
): Promise<number> {
  const r = await ctx.client.agents.revoke.mutate({ serverId });
  if (flags.json) ctx.out.json(r);
  else
    ctx.out.print(
      r.revokedCertificates > 0
        ? `${r.serverId}: ${r.revokedCertificates} certificate(s) revoked; its stream is closed and it cannot renew. A new join token lets it enrol again.`
        : `${r.serverId}: no valid certificate to revoke (already revoked, or it never enrolled).`,
    );
  return 0;
}
