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
  /** Pause between attempts to reopen a dropped live stream, ms. Default 500. */
  retryMs?: number;
  /**
   * How long to keep retrying while the coordinator cannot be reached, ms. Default 60000: a
   * coordinator restart does not stop a run, so it should not stop the watch either.
   */
  reconnectForMs?: number;
  /** How often a terminal redraws the view (ages tick), ms; no request is made. Default 1000. */
  redrawMs?: number;
}

/**
 * `afterId` for a stream that carries no log lines: the progress view needs only the run's changes.
 * Line ids are PostgreSQL bigserials, far below this.
 */
const NO_LOG_LINES = Number.MAX_SAFE_INTEGER;

/**
 * Follows a run until it settles (see {@link isSettled}) on the live stream (upgrade.watch, pushed
 * by the coordinator as the run changes; no polling), redrawing the progress view in place on a
 * terminal and appending changes elsewhere (NDJSON with --json). A dropped stream is reopened
 * (for up to `reconnectForMs`). Returns the run's exit code.
 */
export async function watchRun(
  ctx: CommandContext,
  runId: string | undefined,
  opts: WatchOptions = {},
): Promise<number> {
  const reconnectFor = opts.reconnectForMs ?? 60_000;
  let pinned = runId;
  let lastKey = '';
  let last: RunView | null = null;
  let unreachableSince: number | null = null;

  const draw = (view: RunView) =>
    ctx.out.redraw(renderRunView(view, ctx.now(), { color: ctx.out.color }) + (ctx.out.isTTY ? '' : '\n'));
  /** Shows a view (if it changed); true once the run has settled. */
  const show = (view: RunView): boolean => {
    last = view;
    const key = changeKey(view);
    if (opts.json) {
      if (key !== lastKey) ctx.out.jsonLine(view);
    } else if (ctx.out.isTTY || key !== lastKey) {
      draw(view);
    }
    lastKey = key;
    return isSettled(view.run);
  };
  // On a terminal the ages in the view tick between changes: redraw what we have, asking nothing.
  const ticker =
    ctx.out.isTTY && !opts.json
      ? setInterval(() => {
          if (last && unreachableSince === null) draw(last);
        }, opts.redrawMs ?? 1000)
      : null;
  ticker?.unref();

  try {
    for (;;) {
      try {
        // Without a run id the first answer names the latest run; stay on it even if a newer one starts.
        if (pinned === undefined) {
          const view = await ctx.client.upgrade.status.query({});
          pinned = view.run.id;
          if (show(view)) return outcomeExitCode(view.run);
        }
        for await (const update of ctx.live({ runId: pinned, afterId: NO_LOG_LINES })) {
          if (unreachableSince !== null) {
            ctx.out.warn('reconnected to the coordinator.');
            ctx.out.resetRedraw();
            unreachableSince = null;
          }
          if (update.view && show(update.view)) return outcomeExitCode(update.view.run);
        }
        // The coordinator ends the stream once the run has ended: read its final state once.
        const view = await ctx.client.upgrade.status.query({ runId: pinned });
        show(view);
        return outcomeExitCode(view.run);
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
        await ctx.sleep(opts.retryMs ?? 500);
      }
    }
  } finally {
    if (ticker) clearInterval(ticker);
  }
}

export interface StatusFlags extends JsonFlag {
  /** Follow the run live until it settles. Default false. */
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
