import { describePlan } from '@rollgate/domain';
import type { RunView, UpgradeFlagsInput } from '../api-types';
import type { CommandContext, JsonFlag } from '../context';
import { CliError } from '../errors';
import { renderRunView, renderRuns } from '../format';
import { watchRun } from './status';

export interface UpgradeFlags extends JsonFlag {
  cluster: string;
  app: string;
  /** The edition to upgrade to; it must have been uploaded. */
  edition: string;
  /** Seconds a server may finish in-flight work after leaving rotation. Default (coordinator's): 30. */
  drainageInterval?: number;
  /** Seconds a started service may take to become healthy. Default (coordinator's): 120. */
  healthTimeout?: number;
  /** False with --no-sign-off: end without the customer's verification. Default true. */
  signOff?: boolean;
  /** Path probed by the functionality tests. Default (coordinator's): /health. */
  probePath?: string;
}

/**
 * Only what the operator set is sent: the coordinator owns the defaults, so a CLI older than the
 * coordinator never overrides a better default with its own copy.
 */
export function upgradeInputFromFlags(flags: UpgradeFlags): UpgradeFlagsInput {
  return {
    cluster: flags.cluster,
    app: flags.app,
    edition: flags.edition,
    ...(flags.drainageInterval !== undefined ? { drainageIntervalSec: flags.drainageInterval } : {}),
    ...(flags.healthTimeout !== undefined ? { healthTimeoutSec: flags.healthTimeout } : {}),
    ...(flags.signOff === false ? { signOff: false } : {}),
    ...(flags.probePath !== undefined ? { probePath: flags.probePath } : {}),
  };
}

export async function planCommand(ctx: CommandContext, flags: UpgradeFlags): Promise<number> {
  const plan = await ctx.client.upgrade.plan.query(upgradeInputFromFlags(flags));
  if (flags.json) ctx.out.json(plan);
  else ctx.out.print(describePlan(plan));
  return 0;
}

export interface StartFlags extends UpgradeFlags {
  /** Follow the run with the progress view until it ends or waits for sign-off. Default false. */
  wait?: boolean;
}

export async function startCommand(ctx: CommandContext, flags: StartFlags): Promise<number> {
  const view = await ctx.client.upgrade.start.mutate(upgradeInputFromFlags(flags));
  const id = view.run.id;
  if (flags.json) {
    // With --wait the NDJSON stream of views follows; its first line is this one.
    if (!flags.wait) ctx.out.json(view);
  } else {
    ctx.out.print(
      `Started run ${id}: ${view.run.plan.procedure} upgrade of ${view.run.plan.service} to edition ${view.run.plan.toEdition.name} on cluster ${view.run.plan.cluster} (${view.progress.total} steps).`,
    );
    if (!flags.wait) {
      ctx.out.print(`Follow it:  rollgate upgrade status ${id} --watch`);
      ctx.out.print(`Its logs:   rollgate upgrade logs ${id} --follow`);
      ctx.out.print(`Pause it:   rollgate upgrade pause ${id} --reason …`);
    }
  }
  if (!flags.wait) return 0;
  return watchRun(ctx, id, { json: flags.json });
}

export async function listCommand(ctx: CommandContext, flags: JsonFlag): Promise<number> {
  const runs = await ctx.client.upgrade.list.query();
  if (flags.json) ctx.out.json(runs);
  else ctx.out.print(renderRuns(runs, { color: ctx.out.color }));
  return 0;
}

export interface ControlFlags extends JsonFlag {
  /** Why, for the audit log and the run's failure text. */
  reason?: string;
}

function printView(ctx: CommandContext, view: RunView, json: boolean | undefined, headline: string): void {
  if (json) {
    ctx.out.json(view);
    return;
  }
  ctx.out.print(headline);
  ctx.out.print(renderRunView(view, ctx.now(), { color: ctx.out.color }));
}

export async function controlCommand(
  ctx: CommandContext,
  action: 'pause' | 'resume' | 'abort',
  runId: string,
  flags: ControlFlags,
): Promise<number> {
  const reason = flags.reason ? { reason: flags.reason } : {};
  const view =
    action === 'pause'
      ? await ctx.client.upgrade.pause.mutate({ runId, ...reason })
      : action === 'abort'
        ? await ctx.client.upgrade.abort.mutate({ runId, ...reason })
        : await ctx.client.upgrade.resume.mutate({ runId });
  const done = { pause: 'Paused', resume: 'Resumed', abort: 'Aborted' }[action];
  printView(ctx, view, flags.json, `${done} run ${runId}.`);
  return 0;
}

export interface SignOffFlags extends JsonFlag {
  approve?: boolean;
  reject?: boolean;
  /** The customer's words, kept in the audit log. Default ''. */
  comment?: string;
}

export async function signOffCommand(
  ctx: CommandContext,
  runId: string,
  flags: SignOffFlags,
): Promise<number> {
  if (flags.approve === flags.reject) {
    throw new CliError('say what the customer decided: pass exactly one of --approve or --reject.');
  }
  const decision = flags.approve ? 'approve' : 'reject';
  const view = await ctx.client.upgrade.signOff.mutate({ runId, decision, comment: flags.comment ?? '' });
  printView(
    ctx,
    view,
    flags.json,
    decision === 'approve' ? `Signed off run ${runId}.` : `Rejected run ${runId}.`,
  );
  return 0;
}
