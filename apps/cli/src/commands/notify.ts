// `rollgate notify add|list|remove|deliveries` (issue 16 item 4, docs/adr/0032).
import { readFile } from 'node:fs/promises';
import { NOTIFY_EVENTS } from '@rollgate/domain';
import type { CommandContext, JsonFlag } from '../context';
import { CliError } from '../errors';
import { formatDateTime, renderTable, terminalText } from '../format';

const EVENTS = NOTIFY_EVENTS;
type Event = (typeof EVENTS)[number];

export interface NotifyAddFlags extends JsonFlag {
  /** The cluster whose runs are followed. Required. */
  cluster?: string;
  /** The webhook URL (http/https). */
  webhook?: string;
  /** A file holding the webhook's HMAC secret (first line; never on the command line). */
  secretFile?: string;
  /** Email the run's contacts instead. */
  email?: boolean;
  /** Comma-separated events; default every event (webhook) or the announcement and outcome (email). */
  events?: string;
}

/** "paused,failed" → the events; a clear error names an unknown one and lists the valid ones. */
export function parseEvents(text: string): Event[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !(EVENTS as readonly string[]).includes(n));
  if (names.length === 0 || bad.length > 0) {
    throw new CliError(
      `--events ${bad.length ? `has unknown event(s) ${bad.join(', ')}` : 'is empty'}: give a comma-separated list of ${EVENTS.join(', ')}.`,
    );
  }
  return [...new Set(names)] as Event[];
}

async function readSecret(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(
      `--secret-file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
    );
  }
  const secret = text.split(/\r?\n/)[0]!.trim();
  if (secret.length < 16) {
    throw new CliError(
      `--secret-file ${path}: the secret on its first line must be at least 16 characters, e.g. \`openssl rand -hex 32 > ${path}\`.`,
    );
  }
  return secret;
}

export async function notifyAddCommand(ctx: CommandContext, flags: NotifyAddFlags): Promise<number> {
  if (!flags.cluster) throw new CliError('name the cluster whose runs are followed: --cluster <name>.');
  if (!!flags.webhook === !!flags.email) {
    throw new CliError(
      'give either --webhook <url> --secret-file <file> or --email (the run contacts), e.g. `rollgate notify add --cluster demo --webhook https://hooks.example.com/rollgate --secret-file hook.secret`.',
    );
  }
  if (flags.webhook && !flags.secretFile) {
    throw new CliError(
      'a webhook is signed with a secret: add --secret-file <file> (its first line, at least 16 characters).',
    );
  }
  const events = flags.events ? parseEvents(flags.events) : undefined;
  const sub = await ctx.client.notify.subscribe.mutate({
    cluster: flags.cluster,
    ...(flags.webhook
      ? { webhook: { url: flags.webhook, secret: await readSecret(flags.secretFile!) } }
      : {}),
    email: flags.email === true,
    ...(events ? { events } : {}),
  });
  if (flags.json) ctx.out.json(sub);
  else
    ctx.out.print(
      terminalText(
        `${sub.id}: ${sub.kind === 'webhook' ? sub.url : "email to the run's contacts"} for ${sub.events.join(', ')} on cluster ${sub.cluster}`,
      ),
    );
  return 0;
}

export async function notifyListCommand(
  ctx: CommandContext,
  flags: JsonFlag & { cluster?: string },
): Promise<number> {
  const subs = await ctx.client.notify.list.query(flags.cluster ? { cluster: flags.cluster } : {});
  if (flags.json) ctx.out.json(subs);
  else if (subs.length === 0) ctx.out.print('no subscriptions: add one with `rollgate notify add`');
  else
    ctx.out.print(
      terminalText(
        renderTable(
          [
            { header: 'ID' },
            { header: 'CLUSTER' },
            { header: 'TARGET' },
            { header: 'EVENTS' },
            { header: 'BY' },
          ],
          subs.map((s) => [
            s.id,
            s.cluster,
            s.kind === 'webhook' ? s.url! : 'email: contacts',
            s.events.join(','),
            s.createdBy,
          ]),
          { color: ctx.out.color },
        ),
      ),
    );
  return 0;
}

export async function notifyRemoveCommand(ctx: CommandContext, id: string, flags: JsonFlag): Promise<number> {
  const gone = await ctx.client.notify.remove.mutate({ id });
  if (flags.json) ctx.out.json(gone);
  else ctx.out.print(`${gone.id} removed; its pending deliveries are dropped`);
  return 0;
}

export interface NotifyDeliveriesFlags extends JsonFlag {
  cluster?: string;
  subscription?: string;
  run?: string;
  /** Newest first, at most this many; default 50. */
  limit?: string;
}

export async function notifyDeliveriesCommand(
  ctx: CommandContext,
  flags: NotifyDeliveriesFlags,
): Promise<number> {
  const limit = Number(flags.limit ?? '50');
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new CliError(`--limit ${flags.limit} is not a whole number from 1 to 1000.`);
  }
  const rows = await ctx.client.notify.deliveries.query({
    limit,
    ...(flags.cluster ? { cluster: flags.cluster } : {}),
    ...(flags.subscription ? { subscriptionId: flags.subscription } : {}),
    ...(flags.run ? { runId: flags.run } : {}),
  });
  if (flags.json) ctx.out.json(rows);
  else if (rows.length === 0) ctx.out.print('no deliveries');
  else
    ctx.out.print(
      terminalText(
        renderTable(
          [
            { header: 'ID', align: 'right' },
            { header: 'SUBSCRIPTION' },
            { header: 'RUN' },
            { header: 'EVENT' },
            { header: 'STATUS' },
            { header: 'ATTEMPTS', align: 'right' },
            { header: 'LAST' },
            { header: 'WHEN' },
          ],
          rows.map((d) => [
            String(d.id),
            d.subscriptionId,
            d.runId ?? '',
            d.event,
            d.status === 'pending' ? `pending (next ${formatDateTime(d.nextAt)})` : d.status,
            String(d.attempts),
            d.lastError ?? (d.lastStatus !== null ? String(d.lastStatus) : ''),
            formatDateTime(d.finishedAt ?? d.createdAt),
          ]),
          { color: ctx.out.color },
        ),
      ),
    );
  return 0;
}

export async function notifyPortalLinkCommand(
  ctx: CommandContext,
  runId: string,
  flags: JsonFlag & { ttlHours?: string },
): Promise<number> {
  const ttlHours = Number(flags.ttlHours ?? '72');
  if (!Number.isInteger(ttlHours) || ttlHours < 1 || ttlHours > 720) {
    throw new CliError(`--ttl-hours ${flags.ttlHours} is not a whole number of hours from 1 to 720.`);
  }
  const r = await ctx.client.notify.emailPortalLink.mutate({ runId, ttlHours });
  if (flags.json) ctx.out.json(r);
  else
    ctx.out.print(
      terminalText(
        `portal link ${r.linkId} emailed to ${r.recipient} <${r.email}>; it works until ${formatDateTime(r.expiresAt)}`,
      ),
    );
  return 0;
}
