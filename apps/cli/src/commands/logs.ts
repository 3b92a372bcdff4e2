import { isTerminalRun } from '@rollgate/domain';
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
  /** Time between polls, ms. Default 500. */
  intervalMs?: number;
  /**
   * After the run ends, wait this long before the last read: agents send log lines in batches, so
   * the final lines may land just after the run's last transition. Default 1000.
   */
  settleMs?: number;
  /** How long to keep retrying while the coordinator cannot be reached, ms. Default 60000. */
  reconnectForMs?: number;
}

/**
 * `upgrade logs`: one page of lines, or with --follow every new line (polled with `afterId`) until
 * the run is terminal, then what remains. With --json: a JSON array, or NDJSON when following.
 */
export async function logsCommand(
  ctx: CommandContext,
  runId: string,
  flags: LogsFlags,
  opts: FollowOptions = {},
): Promise<number> {
  const limit = flags.limit ?? 500;
  const filter = {
    runId,
    limit,
    ...(flags.server ? { serverId: flags.server } : {}),
    ...(flags.step !== undefined ? { stepIndex: stepIndexOf(flags.step) } : {}),
    ...(flags.code ? { code: flags.code } : {}),
  };
  const line = (log: LogRow) => formatLogLine(log, { color: ctx.out.color });

  if (!flags.follow) {
    const logs = await ctx.client.upgrade.logs.query(filter);
    if (flags.json) ctx.out.json(logs);
    else if (logs.length === 0) ctx.out.warn('No log lines match.');
    else for (const log of logs) ctx.out.print(line(log));
    return 0;
  }

  const interval = opts.intervalMs ?? 500;
  const reconnectFor = opts.reconnectForMs ?? 60_000;
  let afterId: number | undefined;
  let unreachableSince: number | null = null;

  // Reads every line after `afterId`, page by page, so a burst larger than one page is not cut off.
  const drain = async () => {
    for (;;) {
      const page = await ctx.client.upgrade.logs.query(
        afterId === undefined ? filter : { ...filter, afterId },
      );
      for (const log of page) {
        if (flags.json) ctx.out.jsonLine(log);
        else ctx.out.print(line(log));
        afterId = Math.max(afterId ?? 0, log.id);
      }
      if (page.length < limit) return;
    }
  };

  for (;;) {
    try {
      // Status first, then the lines: every line written before the run ended is read after it.
      const { run } = await ctx.client.upgrade.status.query({ runId });
      await drain();
      if (isTerminalRun(run.status)) {
        await ctx.sleep(opts.settleMs ?? 1000);
        await drain();
        return 0;
      }
      if (unreachableSince !== null) ctx.out.warn('reconnected to the coordinator.');
      unreachableSince = null;
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
    }
    await ctx.sleep(interval);
  }
}
