/**
 * Pure helpers behind the console's components: grouping, labels, tones and ages. No React, no
 * clock (callers pass `now`), so they are unit-tested directly.
 */
import { PHASE_LABEL, describeActionResult, formatDuration } from '@rollgate/domain';
import type {
  Evidence,
  Performer,
  Phase,
  RunStatus,
  RunView,
  ServerRow,
  StepStatus,
  StepView,
} from './api-types';

export const PERFORMER_LABEL: Record<Performer, string> = {
  engineer: 'engineer',
  administrator: 'administrator',
  customer: 'customer',
};

/** Colour families of the stylesheet: every status maps onto one. */
export type Tone = 'ok' | 'active' | 'warn' | 'bad' | 'idle';

export function runTone(status: RunStatus): Tone {
  switch (status) {
    case 'succeeded':
      return 'ok';
    case 'running':
      return 'active';
    case 'paused':
    case 'waiting-approval':
      return 'warn';
    case 'failed':
    case 'aborted':
      return 'bad';
    case 'pending':
      return 'idle';
  }
}

export function stepTone(status: StepStatus): Tone {
  switch (status) {
    case 'succeeded':
      return 'ok';
    case 'running':
      return 'active';
    case 'failed':
      return 'bad';
    case 'skipped':
    case 'pending':
      return 'idle';
  }
}

export function agentTone(status: ServerRow['status']): Tone {
  return status === 'connected' ? 'ok' : status === 'lost' ? 'warn' : 'bad';
}

export const RUN_STATUS_LABEL: Record<RunStatus, string> = {
  pending: 'pending',
  running: 'running',
  paused: 'paused',
  'waiting-approval': 'waiting for sign-off',
  succeeded: 'succeeded',
  failed: 'failed',
  aborted: 'aborted',
};

/** `demo-app 2.0` per managed service, or `—`. */
export function activeEditions(server: Pick<ServerRow, 'services'>): string {
  if (server.services.length === 0) return '—';
  return server.services.map((s) => `${s.name} ${s.activeEdition || '—'}`).join(', ');
}

export interface PhaseGroup<S extends { phase: Phase } = StepView> {
  phase: Phase;
  label: string;
  steps: S[];
}

/** Consecutive steps of the same phase, each run under one banner (a phase may come back later). */
export function groupByPhase<S extends { phase: Phase }>(steps: S[]): PhaseGroup<S>[] {
  const groups: PhaseGroup<S>[] = [];
  for (const step of steps) {
    const last = groups[groups.length - 1];
    if (last && last.phase === step.phase) last.steps.push(step);
    else groups.push({ phase: step.phase, label: PHASE_LABEL[step.phase], steps: [step] });
  }
  return groups;
}

/** The step the run is on: the running one, else the next to start; null once past the end. */
export function currentStep(view: RunView): StepView | null {
  return view.steps.find((s) => s.status === 'running') ?? view.steps[view.run.currentStep] ?? null;
}

/** Percentage done, 0-100, rounded down so 100 means finished. */
export function progressPercent(view: Pick<RunView, 'progress'>): number {
  const { done, total } = view.progress;
  return total > 0 ? Math.floor((Math.min(done, total) / total) * 100) : 0;
}

/** What the step says under its title: group, who performs it, where, and how long it took. */
export function stepFacts(step: StepView, now: number): string[] {
  const facts: string[] = [];
  if (step.group !== null) facts.push(`group ${step.group}`);
  facts.push(step.performedBy.map((p) => PERFORMER_LABEL[p]).join(' / '));
  if (step.servers.length > 0) facts.push(step.servers.join(', '));
  else if (step.kind === 'sign-off') facts.push("waits for the customer's decision");
  if (step.startedAt !== null) {
    const end = step.finishedAt ?? (step.status === 'running' ? now : null);
    if (end !== null) facts.push(formatDuration(end - step.startedAt));
  }
  if (step.attempt > 1) facts.push(`attempt ${step.attempt}`);
  return facts;
}

/** `2025-01-15 12:00:05Z`: absolute times in the tables, in UTC so every operator reads the same. */
export function formatTime(at: number | null): string {
  if (at === null) return '—';
  return `${new Date(at).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** How long a run took, or has taken so far; `—` before it started. */
export function runDuration(
  r: { startedAt: number | null; finishedAt: number | null; createdAt: number },
  now: number,
): string {
  if (r.startedAt === null) return '—';
  return formatDuration((r.finishedAt ?? now) - r.startedAt);
}

/** An audit event's details as `key=value` pairs (objects as compact JSON). */
export function auditDetails(details: Record<string, unknown>): string {
  return (
    Object.entries(details)
      // Where from has its own column (auditFrom).
      .filter(([k, v]) => k !== 'from' && v !== undefined && v !== '' && v !== null)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' · ')
  );
}

/** The address an audited change came from; '—' for the coordinator's own work. */
export function auditFrom(details: Record<string, unknown>): string {
  return typeof details.from === 'string' && details.from !== '' ? details.from : '—';
}

/** What a run or plan does, in words (a rollout is not an "upgrade"). */
export const PROCEDURE_LABEL: Record<RunView['run']['plan']['procedure'], string> = {
  minor: 'minor upgrade',
  major: 'major upgrade',
  rollback: 'rollback',
  rollout: 'edition rollout',
  activation: 'simple activation',
  backout: 'back-out',
  distribute: 'distribution',
  validate: 'validation',
  deactivate: 'deactivation',
};

/** One recorded result of a step, as the evidence view lists it. */
export interface EvidenceRow {
  actionId: string;
  serverId: string;
  kind: string;
  text: string;
}

/**
 * A step's evidence: every result of its actions, one row each in op order (an action whose ops
 * produced several shows each, issue 15 item 4), and how many of the actions succeeded, each
 * action counted once however many results it recorded.
 */
export function stepEvidence(step: Evidence['steps'][number]): {
  ok: number;
  actions: number;
  rows: EvidenceRow[];
} {
  const status = new Map(step.results.map((r) => [r.actionId, r.status]));
  return {
    ok: [...status.values()].filter((s) => s === 'succeeded').length,
    actions: status.size,
    rows: step.results.map((r) => ({
      actionId: r.actionId,
      serverId: r.serverId,
      kind: r.result.kind,
      text: describeActionResult(r.result),
    })),
  };
}
