// Guided failure (skip, exclude, roll back), rollback authorisation, readiness waivers, the notice
// to users, the run's evidence and the cluster's settings.
import { readFileSync } from 'node:fs';
import { describeActionResult } from '@rollgate/domain';
import type { CommandContext, JsonFlag } from '../context';
import { CliError } from '../errors';
import { printRunView } from './print-run-view';

export async function skipServerCommand(
  ctx: CommandContext,
  runId: string,
  serverId: string,
  flags: JsonFlag,
): Promise<number> {
  const view = await ctx.client.upgrade.skipServer.mutate({ runId, serverId });
  printRunView(
    ctx,
    view,
    flags.json,
    `Skipped ${serverId} in the failed step of run ${runId}; the run goes on.`,
  );
  return 0;
}

export async function excludeCommand(
  ctx: CommandContext,
  runId: string,
  serverId: string,
  flags: JsonFlag,
): Promise<number> {
  const view = await ctx.client.upgrade.exclude.mutate({ runId, serverId });
  printRunView(
    ctx,
    view,
    flags.json,
    `Excluded ${serverId} from the rest of run ${runId}. Resume the run with: rollgate upgrade resume ${runId}`,
  );
  return 0;
}

export interface RollbackFlags extends JsonFlag {
  method?: 'reinstall' | 'restore-database' | 'restore-snapshots' | 'rebuild';
  reason?: string;
  /** List the methods that apply, with estimates, and do nothing. */
  options?: boolean;
}

export async function rollbackCommand(
  ctx: CommandContext,
  runId: string,
  flags: RollbackFlags,
): Promise<number> {
  if (flags.options) {
    const options = await ctx.client.upgrade.rollbackOptions.query({ runId });
    if (flags.json) ctx.out.json(options);
    else {
      ctx.out.print(`Rollback methods for run ${runId}:`);
      for (const o of options) {
        ctx.out.print(
          `  ${o.recommended ? '→' : ' '} ${o.method.padEnd(18)} ${o.applicable ? `~${o.estimateMinutes} min`.padEnd(9) : 'n/a'.padEnd(9)} ${o.why}`,
        );
      }
      ctx.out.print(`Run one with: rollgate upgrade rollback ${runId} [--method <method>]`);
    }
    return 0;
  }
  const view = await ctx.client.upgrade.rollback.mutate({
    runId,
    ...(flags.method ? { method: flags.method } : {}),
    ...(flags.reason ? { reason: flags.reason } : {}),
  });
  printRunView(
    ctx,
    view,
    flags.json,
    `Run ${runId} is being rolled back by run ${view.run.id} (${view.run.plan.rollback?.method ?? ''}). Follow it: rollgate upgrade status ${view.run.id} --watch`,
  );
  return 0;
}

export interface DecideFlags extends JsonFlag {
  decline?: boolean;
  comment?: string;
}

export async function authoriseRollbackCommand(
  ctx: CommandContext,
  runId: string,
  flags: DecideFlags,
): Promise<number> {
  const decision = flags.decline ? 'decline' : 'authorise';
  const view = await ctx.client.upgrade.decideRollback.mutate({
    runId,
    decision,
    comment: flags.comment ?? '',
  });
  printRunView(
    ctx,
    view,
    flags.json,
    decision === 'authorise'
      ? `Rollback of run ${runId} authorised; it has started.`
      : `Rollback of run ${runId} declined; the run stays paused.`,
  );
  return 0;
}

export async function waiveCommand(
  ctx: CommandContext,
  runId: string,
  gate: string,
  flags: JsonFlag & { reason: string },
): Promise<number> {
  const view = await ctx.client.upgrade.waive.mutate({
    runId,
    gate: gate as Parameters<typeof ctx.client.upgrade.waive.mutate>[0]['gate'],
    reason: flags.reason,
  });
  printRunView(ctx, view, flags.json, `Readiness gate "${gate}" waived for run ${runId} (audited).`);
  return 0;
}

export async function noticeCommand(
  ctx: CommandContext,
  runId: string,
  flags: JsonFlag & { timeZone?: string },
): Promise<number> {
  const { text } = await ctx.client.upgrade.notice.query({
    runId,
    ...(flags.timeZone ? { timeZone: flags.timeZone } : {}),
  });
  if (flags.json) ctx.out.json({ text });
  else ctx.out.print(text);
  return 0;
}

export async function evidenceCommand(ctx: CommandContext, runId: string, flags: JsonFlag): Promise<number> {
  const ev = await ctx.client.upgrade.evidence.query({ runId });
  if (flags.json) {
    ctx.out.json(ev);
    return 0;
  }
  ctx.out.print(`Evidence of run ${runId}`);
  ctx.out.print('Readiness gates:');
  for (const g of ev.readiness) {
    const when = g.at ? new Date(g.at).toISOString() : '—';
    ctx.out.print(
      `  ${g.gate.padEnd(19)} ${g.status.padEnd(7)} by ${g.by ?? '—'} at ${when}${g.reason ? ` (${g.reason})` : ''}`,
    );
  }
  for (const s of ev.steps) {
    ctx.out.print(`Step ${s.index + 1} ${s.title}:`);
    // One row per result: an action whose ops produced several prints each, in op order.
    for (const r of s.results) ctx.out.print(`  ${r.serverId}: ${describeActionResult(r.result)}`);
  }
  return 0;
}

export async function clusterConfigureCommand(
  ctx: CommandContext,
  flags: JsonFlag & { cluster: string; file: string },
): Promise<number> {
  let settings: unknown;
  try {
    settings = JSON.parse(readFileSync(flags.file, 'utf8'));
  } catch (err) {
    throw new CliError(`--file: cannot read ${flags.file} as JSON: ${(err as Error).message}.`);
  }
  const saved = await ctx.client.cluster.configure.mutate({
    cluster: flags.cluster,
    settings: settings as Parameters<typeof ctx.client.cluster.configure.mutate>[0]['settings'],
  });
  if (flags.json) ctx.out.json(saved);
  else ctx.out.print(`Settings of cluster ${flags.cluster} saved.`);
  return 0;
}

export async function clusterSettingsCommand(
  ctx: CommandContext,
  flags: JsonFlag & { cluster: string },
): Promise<number> {
  const settings = await ctx.client.cluster.settings.query({ cluster: flags.cluster });
  ctx.out.print(JSON.stringify(settings, null, 2));
  return 0;
}
