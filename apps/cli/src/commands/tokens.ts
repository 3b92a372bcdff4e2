// `rollgate token create|list|revoke`: service tokens for CI (docs/adr/0031). Administrators only;
// the token is printed once, on standard output alone, so `$(rollgate token create …)` captures it.
import type { Role } from '@rollgate/domain';
import type { RollgateClient } from '../api-types';
import type { CommandContext, JsonFlag } from '../context';
import { CliError } from '../errors';
import { formatDateTime } from '../format';
import { parseTtl } from './agents';

export type TokenRow = Awaited<ReturnType<RollgateClient['tokens']['list']['query']>>[number];

export interface ServiceTokenCreateFlags extends JsonFlag {
  name: string;
  role: Role;
  /** The only cluster it may act on. Default: every cluster. */
  cluster?: string;
  /** How long it lives: 90s, 30m, 12h, 30d (at most 365d). Default 30d. */
  expires?: string;
}

export async function tokenCreateCommand(
  ctx: CommandContext,
  flags: ServiceTokenCreateFlags,
): Promise<number> {
  const expiresInSeconds = parseTtl(flags.expires ?? '30d');
  if (expiresInSeconds === null) {
    throw new CliError(
      `--expires "${flags.expires}" is not a duration: give e.g. 90s, 12h or 30d (from 10s to 365d).`,
    );
  }
  const { token, view } = await ctx.client.tokens.create.mutate({
    name: flags.name,
    role: flags.role,
    expiresInSeconds,
    ...(flags.cluster ? { cluster: flags.cluster } : {}),
  });
  if (flags.json) {
    ctx.out.json({ token, ...view });
    return 0;
  }
  ctx.out.print(token);
  // The rest goes to standard error: standard output is the token alone.
  ctx.out.warn(
    [
      `Service token "${view.name}": ${view.role}, ${view.cluster ? `cluster ${view.cluster} only` : 'every cluster'}, expires ${new Date(view.expiresAt).toISOString()}.`,
      'This is the only time it is shown (it is stored as a hash). Keep it in your CI secret store and',
      'give it to the CLI as ROLLGATE_TOKEN; revoke it with `rollgate token revoke ' + view.name + '`.',
    ].join('\n'),
  );
  return 0;
}

/** One line per token: what an administrator needs to decide whether to revoke it. */
export function renderTokens(rows: TokenRow[], now: number, opts: { utc?: boolean } = {}): string {
  const when = (at: number | null) => formatDateTime(at, opts);
  const table: string[][] = [
    ['NAME', 'ROLE', 'SCOPE', 'CREATED', 'EXPIRES', 'LAST USED', 'STATE'],
    ...rows.map((t) => [
      t.name,
      t.role,
      t.cluster ?? '(all clusters)',
      `${when(t.createdAt)} by ${t.createdBy}`,
      when(t.expiresAt),
      t.lastUsedAt === null ? 'never' : `${when(t.lastUsedAt)} from ${t.lastUsedFrom ?? '?'}`,
      t.state === 'revoked'
        ? `revoked ${when(t.revokedAt)}`
        : t.state === 'active' && t.expiresAt - now < 7 * 86_400_000
          ? 'active (expires within 7 days)'
          : t.state,
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function tokenListCommand(ctx: CommandContext, flags: JsonFlag): Promise<number> {
  const rows = await ctx.client.tokens.list.query();
  if (flags.json) ctx.out.json(rows);
  else
    ctx.out.print(
      rows.length === 0
        ? 'No service tokens. Create one with `rollgate token create`.'
        : renderTokens(rows, ctx.now()),
    );
  return 0;
}

export async function tokenRevokeCommand(
  ctx: CommandContext,
  name: string,
  flags: JsonFlag,
): Promise<number> {
  const view = await ctx.client.tokens.revoke.mutate({ name });
  if (flags.json) ctx.out.json(view);
  else
    ctx.out.print(
      `Service token "${view.name}" is revoked${view.revokedAt ? ` (since ${new Date(view.revokedAt).toISOString()})` : ''}: it opens nothing from now on.`,
    );
  return 0;
}
