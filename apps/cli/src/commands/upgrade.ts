import { readFileSync } from 'node:fs';
import { READINESS_GATE_NAMES, describePlan, isReadinessGate, type ReadinessGate } from '@rollgate/domain';
import type { PlanOut, UpgradeFlagsInput } from '../api-types';
import type { CommandContext, JsonFlag } from '../context';
import { CliError } from '../errors';
import { formatDateTime, renderRuns, renderTable } from '../format';
import { printRunView } from './print-run-view';
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
  /** A major upgrade (schema step, announced downtime). Default false: minor. */
  major?: boolean;
  /** The edition the servers run now. Default (coordinator's): the one they report active. */
  from?: string;
  /** Start at this ISO 8601 time instead of now. */
  at?: string;
  /** The agreed window in minutes. Default (coordinator's): the announced at-risk window. */
  window?: number;
  /** pause (default) or rollback. */
  onFailure?: 'pause' | 'rollback';
  /** A JSON file with the window's contacts: { lead, appAdmin, lbAdmin, onCall? }. */
  contacts?: string;
  /** gate=reason, repeatable. */
  waive?: string[];
}

function readContacts(path: string): UpgradeFlagsInput['contacts'] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`--contacts: cannot read ${path}: ${(err as Error).message}.`);
  }
  try {
    return JSON.parse(text) as UpgradeFlagsInput['contacts'];
  } catch {
    throw new CliError(
      `--contacts: ${path} is not JSON. Write { "lead": { "name": "…", "email": "…", "phone": "…" }, "appAdmin": {…}, "lbAdmin": {…} }.`,
    );
  }
}

function parseWaivers(list: string[] | undefined): { gate: ReadinessGate; reason: string }[] {
  return (list ?? []).map((w) => {
    const eq = w.indexOf('=');
    const gate = eq > 0 ? w.slice(0, eq) : w;
    const reason = eq > 0 ? w.slice(eq + 1).trim() : '';
    if (!isReadinessGate(gate)) {
      throw new CliError(`--waive: unknown gate "${gate}"; gates are ${READINESS_GATE_NAMES.join(', ')}.`);
    }
    if (reason.length < 3) {
      throw new CliError(
        `--waive ${gate}: give the reason, e.g. --waive ${gate}="physical servers, no hypervisor".`,
      );
    }
    return { gate, reason };
  });
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
    ...(flags.major ? { procedure: 'major' as const } : {}),
    ...(flags.from !== undefined ? { fromEdition: flags.from } : {}),
    ...(flags.at !== undefined ? { at: flags.at } : {}),
    ...(flags.window !== undefined ? { windowMinutes: flags.window } : {}),
    ...(flags.onFailure !== undefined ? { onFailure: flags.onFailure } : {}),
    ...(flags.contacts !== undefined ? { contacts: readContacts(flags.contacts) } : {}),
    ...(flags.waive?.length ? { waive: parseWaivers(flags.waive) } : {}),
  };
}

/** The readiness gates as a table an operator can act on. */
export function renderReadiness(plan: PlanOut): string {
  const mark = { met: 'met', waived: 'waived', automatic: 'checked by the run', unmet: 'UNMET' } as const;
  const lines = ['Readiness gates:'];
  for (const g of plan.readiness) {
    if (!g.required && g.status === 'unmet') continue;
    lines.push(`  ${g.required ? '*' : ' '} ${g.gate.padEnd(19)} ${mark[g.status].padEnd(18)} ${g.detail}`);
    if (g.required && g.status === 'unmet') lines.push(`      → ${g.howToMeet}`);
  }
  lines.push('  (* required)');
  if (plan.schedule) {
    lines.push(
      `Scheduled for ${new Date(plan.schedule.startAt).toISOString()} (${plan.schedule.insideBusinessHours ? 'inside' : 'outside'} business hours).`,
    );
  }
  return lines.join('\n');
}

export async function planCommand(ctx: CommandContext, flags: UpgradeFlags): Promise<number> {
  const plan = await ctx.client.upgrade.plan.query(upgradeInputFromFlags(flags));
  if (flags.json) ctx.out.json(plan);
  else {
    ctx.out.print(describePlan(plan));
    ctx.out.print('');
    ctx.out.print(renderReadiness(plan));
  }
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
    const what = `${view.run.plan.procedure} upgrade of ${view.run.plan.service} to edition ${view.run.plan.toEdition.name} on cluster ${view.run.plan.cluster} (${view.progress.total} steps)`;
    ctx.out.print(
      view.run.status === 'pending' && view.run.scheduledAt
        ? `Scheduled run ${id}: ${what}; it starts at ${new Date(view.run.scheduledAt).toISOString()}.`
        : `Started run ${id}: ${what}.`,
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
  printRunView(ctx, view, flags.json, `${done} run ${runId}.`);
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
  printRunView(
    ctx,
    view,
    flags.json,
    decision === 'approve' ? `Signed off run ${runId}.` : `Rejected run ${runId}.`,
  );
  return 0;
}

// ── customer portal links ──────────────────────────────────────────────────────────────────────

export interface PortalLinkCreateFlags extends JsonFlag {
  /** Who the link is for (the lead customer contact). */
  recipient: string;
  /** How long the link works, in hours. Default (coordinator's): 72. */
  ttlHours?: number;
}

/** `upgrade portal-link create`: prints the link path once (the token is kept only as a hash). */
export async function portalLinkCreateCommand(
  ctx: CommandContext,
  runId: string,
  flags: PortalLinkCreateFlags,
): Promise<number> {
  const link = await ctx.client.upgrade.portalLink.mutate({
    runId,
    recipient: flags.recipient,
    ...(flags.ttlHours !== undefined ? { ttlHours: flags.ttlHours } : {}),
  });
  if (flags.json) ctx.out.json(link);
  else {
    ctx.out.print(
      `Portal link ${link.id} for ${flags.recipient}, valid until ${formatDateTime(link.expiresAt)}:`,
    );
    ctx.out.print(
      `  ${link.path}  (send it after the console's address, e.g. https://console.example${link.path})`,
    );
    ctx.out.print(`Revoke it:  rollgate upgrade portal-link revoke ${runId} ${link.id}`);
  }
  return 0;
}

type PortalLinkRow = Awaited<ReturnType<CommandContext['client']['upgrade']['portalLinks']['query']>>[number];

export function renderPortalLinks(links: PortalLinkRow[]): string {
  if (links.length === 0) return 'No portal links for this run.';
  return renderTable(
    [
      { header: 'LINK' },
      { header: 'RECIPIENT' },
      { header: 'STATE' },
      { header: 'CREATED' },
      { header: 'BY' },
      { header: 'EXPIRES' },
      { header: 'REVOKED' },
    ],
    links.map((l) => [
      l.id,
      l.recipient,
      l.state,
      formatDateTime(l.createdAt),
      l.createdBy,
      formatDateTime(l.expiresAt),
      formatDateTime(l.revokedAt),
    ]),
  );
}

/** `upgrade portal-link list`: a run's links, newest first (ids, never tokens). */
export async function portalLinkListCommand(
  ctx: CommandContext,
  runId: string,
  flags: JsonFlag,
): Promise<number> {
  const links = await ctx.client.upgrade.portalLinks.query({ runId });
  if (flags.json) ctx.out.json(links);
  else ctx.out.print(renderPortalLinks(links));
  return 0;
}

/** `upgrade portal-link revoke`: the link opens nothing from now on (audited). */
export async function portalLinkRevokeCommand(
  ctx: CommandContext,
  runId: string,
  linkId: string,
  flags: JsonFlag,
): Promise<number> {
  const link = await ctx.client.upgrade.revokePortalLink.mutate({ runId, linkId });
  if (flags.json) ctx.out.json(link);
  else
    ctx.out.print(
      `Revoked portal link ${link.id} of run ${runId} (for ${link.recipient}); it opens nothing from now on.`,
    );
  return 0;
}
