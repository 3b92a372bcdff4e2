import { PHASE_LABEL, noticeText, type Phase, type PlanStep, type StepKind } from '@rollgate/domain';
import type { ActionRecord, EngineStore, RunRecord, StepRecord } from '@rollgate/engine';

/**
 * Why a run stopped, as a class a customer can be told. The words of a failure come from agents
 * and operators (a service's output, a server's paths, a person's note): they stay with the
 * operators; the portal says which step, on which kind of server, and this.
 */
export type PortalFailureReason =
  | 'paused'
  | 'stopped'
  | 'service-did-not-stop'
  | 'installation-failed'
  | 'configuration-failed'
  | 'database-upgrade-failed'
  | 'service-did-not-start'
  | 'functionality-tests-failed'
  | 'readiness-check-failed'
  | 'rollback-step-failed'
  | 'load-balancer-switch-failed'
  | 'step-failed';

export const PORTAL_FAILURE_TEXT: Record<PortalFailureReason, string> = {
  paused: 'The upgrade is paused while the engineers look into it.',
  stopped: 'The upgrade was stopped.',
  'service-did-not-stop': 'A server did not stop its service as expected.',
  'installation-failed': 'Installing the new version on a server did not succeed.',
  'configuration-failed': 'Carrying the configuration over to the new version did not succeed.',
  'database-upgrade-failed': 'The database upgrade did not succeed.',
  'service-did-not-start': 'A server did not start the service, or it did not become healthy, in time.',
  'functionality-tests-failed': 'The functionality tests did not pass.',
  'readiness-check-failed': 'A check before the upgrade did not pass.',
  'rollback-step-failed': 'A step of the rollback did not succeed.',
  'load-balancer-switch-failed': 'Switching the load balancer over did not succeed.',
  'step-failed': 'A step of the upgrade did not succeed.',
};

const REASON_BY_KIND: Record<StepKind, PortalFailureReason> = {
  stop: 'service-did-not-stop',
  test: 'functionality-tests-failed',
  upgrade: 'installation-failed',
  configure: 'configuration-failed',
  'db-upgrade': 'database-upgrade-failed',
  start: 'service-did-not-start',
  'sign-off': 'step-failed',
  prepare: 'readiness-check-failed',
  'db-restore': 'rollback-step-failed',
  rebuild: 'rollback-step-failed',
  switch: 'load-balancer-switch-failed',
};

export interface PortalFailure {
  /** 1-based step number and its title (the plan's words, not an agent's). */
  step: { number: number; title: string } | null;
  /** The roles of the servers whose part of the step failed (e.g. ["web"]); empty if none did. */
  roles: string[];
  reason: PortalFailureReason;
  /** One customer-safe sentence: the reason's text, the step, the server role. */
  summary: string;
}

/**
 * The customer's reading of a stopped run, from structured state only (step kind, failed actions,
 * server roles); `run.failure` is never read, so nothing an agent wrote reaches the portal.
 */
export function portalFailure(
  run: Pick<RunRecord, 'status' | 'currentStep' | 'plan'>,
  steps: Pick<StepRecord, 'index' | 'status'>[],
  actions: Pick<ActionRecord, 'stepIndex' | 'serverId' | 'status'>[],
  roleOf: (serverId: string) => string | undefined,
): PortalFailure | null {
  if (run.status !== 'paused' && run.status !== 'failed' && run.status !== 'aborted') return null;
  const planStep: PlanStep | undefined = run.plan.steps[run.currentStep];
  const failedStep = planStep && steps.find((s) => s.index === planStep.index)?.status === 'failed';
  const failedServers = planStep
    ? actions.filter((a) => a.stepIndex === planStep.index && a.status === 'failed').map((a) => a.serverId)
    : [];
  const roles = [...new Set(failedServers.map((id) => roleOf(id) ?? 'unknown'))].sort();
  const reason: PortalFailureReason =
    failedStep || failedServers.length > 0
      ? planStep
        ? REASON_BY_KIND[planStep.kind]
        : 'step-failed'
      : run.status === 'paused'
        ? 'paused'
        : run.status === 'aborted'
          ? 'stopped'
          : 'step-failed';
  const step = planStep ? { number: planStep.index + 1, title: planStep.title } : null;
  const where = [
    step ? `at step ${step.number} (${step.title})` : '',
    roles.length > 0
      ? `on ${roles.length === 1 ? `a ${roles[0]} server` : `${roles.join(', ')} servers`}`
      : '',
  ]
    .filter(Boolean)
    .join(' ');
  return {
    step,
    roles,
    reason,
    summary: `${PORTAL_FAILURE_TEXT[reason]}${where ? ` (${where})` : ''}`,
  };
}

/**
 * What a customer sees through their portal link: the window and the notice they were sent, the
 * live phase, the functionality tests' evidence, the version numbers, and the decision asked of
 * them (sign-off, or the authorisation of a proposed rollback). No server internals, no logs.
 */
export async function portalView(
  store: Pick<EngineStore, 'getSteps' | 'getActions' | 'listServers' | 'getClusterSettings'>,
  run: RunRecord,
  recipient: string,
) {
  const steps = await store.getSteps(run.id);
  const actions = await store.getActions(run.id);
  const current = run.plan.steps[run.currentStep];
  const done = steps.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length;
  const phase: Phase =
    run.status === 'succeeded' ? 'full-service-restored' : (current?.phase ?? 'service-at-risk');
  const tests = run.plan.steps
    .filter((s) => s.kind === 'test')
    .map((s) => ({
      title: s.title,
      status: steps.find((x) => x.index === s.index)?.status ?? 'pending',
      // Every functionality test an action ran, in op order: an action may run several.
      results: actions
        .filter((a) => a.stepIndex === s.index)
        .flatMap((a) => a.results.filter((r) => r.kind === 'functionalTest')),
    }));
  const servers = await store.listServers({ cluster: run.plan.cluster });
  const settings = await store.getClusterSettings(run.plan.cluster);
  let notice = '';
  try {
    notice = noticeText(run.plan, {
      startAt: run.scheduledAt ?? run.startedAt ?? run.createdAt,
      timeZone: settings.schedule?.timeZone ?? 'UTC',
    });
  } catch {
    notice = '';
  }
  return {
    recipient,
    runId: run.id,
    service: run.plan.service,
    cluster: run.plan.cluster,
    procedure: run.plan.procedure,
    fromEdition: run.plan.fromEdition?.name ?? null,
    toEdition: run.plan.toEdition.name,
    status: run.status,
    phase,
    phaseLabel: PHASE_LABEL[phase],
    progress: { done, total: run.plan.steps.length },
    window: run.plan.window,
    notice,
    tests,
    versions: servers.map((s) => ({
      server: s.id,
      edition: s.services.find((x) => x.name === run.plan.service)?.activeEdition ?? '',
    })),
    /** What the customer is asked now. */
    asks:
      run.status === 'waiting-approval' && current?.kind === 'sign-off'
        ? ('sign-off' as const)
        : run.proposal?.status === 'awaiting'
          ? ('rollback' as const)
          : null,
    proposal: run.proposal,
    // Never run.failure: its words are an agent's or an operator's (see portalFailure).
    failure:
      run.status === 'paused' || run.status === 'failed'
        ? portalFailure(run, steps, actions, (id) => servers.find((s) => s.id === id)?.role)
        : null,
  };
}
export type PortalView = Awaited<ReturnType<typeof portalView>>;
