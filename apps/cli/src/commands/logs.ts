import type { LogRow } from '../api-types';
import type { CommandContext, JsonFlag } from '../context';
import { explainError, isConnectionError } from '../errors';
import { formatLogLine, stepIndexOf } from '../format';

export interface LogsFlags extends JsonFlag {
  /** Keep printing new lines until the run ends. Default false. */
  follow?: boolean;
  /** Only lines about this server. */
  server?: string;
  /** Only lines of this step number (1-based, as shown by `upgrade plan` and `status`). */
  step?: number;
  /** Only lines with this message code, e.g. RG0010I. */
  code?: string;
  /** Most lines per request (without --follow: most lines printed). Default 500. */
  limit?: number;
}

export interface FollowOptions {
  /** Pause between attempts to reopen a dropped live stream, ms. Default 500. */
  retryMs?: number;
  /** How long to keep retrying while the coordinator cannot be reached, ms. Default 60000. */
  reconnectForMs?: number;
}

/**
 * `upgrade logs`: one page of lines, or with --follow every line so far (paged with `afterId`) and
 * then every new one as the coordinator pushes it on the live stream (upgrade.watch, no polling),
 * until the run has ended and its last lines were sent. A dropped stream is reopened after the last
 * line printed, so no line is printed twice or skipped. With --json: a JSON array, or NDJSON when
 * following.
 */
export async function logsCommand(
  ctx: CommandContext,
  runId: string,
  flags: LogsFlags,
  opts: FollowOptions = {},
): Promise<number> {
  const limit = flags.limit ?? 500;
  const narrow = {
    ...(flags.server ? { serverId: flags.server } : {}),
    ...(flags.step !== undefined ? { stepIndex: stepIndexOf(flags.step) } : {}),
    ...(flags.code ? { code: flags.code } : {}),
  };
  const filter = { runId, limit, ...narrow };
  const line = (log: LogRow) => formatLogLine(log, { color: ctx.out.color });

  if (!flags.follow) {
    const logs = await ctx.client.upgrade.logs.query(filter);
    if (flags.json) ctx.out.json(logs);
    else if (logs.length === 0) ctx.out.warn('No log lines match.');
    else for (const log of logs) ctx.out.print(line(log));
    return 0;
  }

  const reconnectFor = opts.reconnectForMs ?? 60_000;
  let afterId: number | undefined;
  let unreachableSince: number | null = null;

  const emit = (log: LogRow) => {
    // Ids only grow: a line at or below the last one printed was printed already.
    if (afterId !== undefined && log.id <= afterId) return;
    if (flags.json) ctx.out.jsonLine(log);
    else ctx.out.print(line(log));
    afterId = log.id;
  };
  // Every line after `afterId`, page by page: a backlog larger than one page is not cut off.
  const drain = async () => {
    for (;;) {
      const page = await ctx.client.upgrade.logs.query(
        afterId === undefined ? filter : { ...filter, afterId },
      );
      for (const log of page) emit(log);
      if (page.length < limit) return;
    }
  };

  for (;;) {
    try {
      await drain();
      for await (const update of ctx.live({ runId, afterId: afterId ?? 0, ...narrow })) {
        if (unreachableSince !== null) ctx.out.warn('reconnected to the coordinator.');
        unreachableSince = null;
        for (const log of update.logs) emit(log);
      }
      // The stream ends once the run has ended and its last lines were sent; read once more in
      // case a page was cut at the stream's own limit.
      await drain();
      return 0;
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      const now = ctx.now();
      if (unreachableSince === null) {
        unreachableSince = now;
        ctx.out.warn(
          `${explainError(err, ctx.url).message} Retrying for up to ${Math.round(reconnectFor / 1000)} s…`,
        );
      } else if (now - unreachableSince > reconnectFor) {
        throw err;
      }
      await ctx.sleep(opts.retryMs ?? 500);
    }
  }
}
