import { isTerminalRun } from '@rollgate/domain';
import type { RunView } from '../api-types';
import type { CommandContext, JsonFlag } from '../context';
import { EXIT, explainError, isConnectionError } from '../errors';
import { currentStep, renderRunView } from '../format';

type Run = RunView['run'];

/**
 * The exit code a run's state maps to: 0 succeeded (or still going), 3 paused on a failure (an
 * operator must decide), 4 failed or aborted.
 */
export function outcomeExitCode(run: Pick<Run, 'status' | 'failure'>): number {
  if (run.status === 'failed' || run.status === 'aborted') return EXIT.failed;
  if (run.status === 'paused' && run.failure) return EXIT.paused;
  return EXIT.ok;
}

/**
 * When following a run stops: it ended, it waits for the customer's sign-off, or it is paused on a
 * failure. An operator's plain pause keeps the watch going, since someone is about to resume it.
 */
export function isSettled(run: Pick<Run, 'status' | 'failure'>): boolean {
  return (
    isTerminalRun(run.status) ||
    run.status === 'waiting-approval' ||
    (run.status === 'paused' && run.failure !== null)
  );
}

/** What changed, for output that appends (not a TTY, or JSON): ages tick every second, this does not. */
function changeKey(view: RunView): string {
  const step = currentStep(view);
  return JSON.stringify([
    view.run.status,
    view.run.version,
    view.progress.done,
    step?.index,
    step?.status,
    view.outOfRotation.map((o) => o.serverId),
    view.run.failure,
  ]);
}

export interface WatchOptions extends JsonFlag {
  /** Time between polls, ms. Default 1000. */
  intervalMs?: number;
  /**
   * How long to keep retrying while the coordinator cannot be reached, ms. Default 60000: a
   * coordinator restart does not stop a run, so it should not stop the watch either.
   */
  reconnectForMs?: number;
}

/**
 * Follows a run until it settles (see {@link isSettled}), redrawing the progress view in place on a
 * terminal and appending changes elsewhere (NDJSON with --json). Returns the run's exit code.
 */
export async function watchRun(
  ctx: CommandContext,
  runId: string | undefined,
  opts: WatchOptions = {},
): Promise<number> {
  const interval = opts.intervalMs ?? 1000;
  const reconnectFor = opts.reconnectForMs ?? 60_000;
  let pinned = runId;
  let lastKey = '';
  let unreachableSince: number | null = null;
  for (;;) {
    let view: RunView;
    try {
      view = await ctx.client.upgrade.status.query(pinned ? { runId: pinned } : {});
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      const now = ctx.now();
      if (unreachableSince === null) {
        unreachableSince = now;
        ctx.out.warn(
          `${explainError(err, ctx.url).message} Retrying for up to ${Math.round(reconnectFor / 1000)} s…`,
        );
        ctx.out.resetRedraw();
      } else if (now - unreachableSince > reconnectFor) {
        throw err;
      }
      await ctx.sleep(interval);
      continue;
    }
    if (unreachableSince !== null) {
      ctx.out.warn('reconnected to the coordinator.');
      ctx.out.resetRedraw();
      unreachableSince = null;
    }
    // Without a run id the first answer names the latest run; stay on it even if a newer one starts.
    pinned ??= view.run.id;
    const key = changeKey(view);
    if (opts.json) {
      if (key !== lastKey) ctx.out.jsonLine(view);
    } else if (ctx.out.isTTY || key !== lastKey) {
      ctx.out.redraw(renderRunView(view, ctx.now(), { color: ctx.out.color }) + (ctx.out.isTTY ? '' : '\n'));
    }
    lastKey = key;
    if (isSettled(view.run)) return outcomeExitCode(view.run);
    await ctx.sleep(interval);
  }
}

export interface StatusFlags extends JsonFlag {
  /** Redraw every second until the run settles. Default false. */
  watch?: boolean;
}

export async function statusCommand(
  ctx: CommandContext,
  runId: string | undefined,
  flags: StatusFlags,
): Promise<number> {
  if (flags.watch) return watchRun(ctx, runId, { json: flags.json });
  const view = await ctx.client.upgrade.status.query(runId ? { runId } : {});
  if (flags.json) ctx.out.json(view);
  else ctx.out.print(renderRunView(view, ctx.now(), { color: ctx.out.color }));
  // A run that is still going exits 0: only a paused-on-failure, failed or aborted run is not.
  return outcomeExitCode(view.run);
}
