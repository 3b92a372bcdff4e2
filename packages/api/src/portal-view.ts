import { PHASE_LABEL, noticeText, type Phase } from '@rollgate/domain';
import type { RunRecord } from '@rollgate/engine';
import type { ApiContext } from './services';

/**
 * What a customer sees through their portal link: the window and the notice they were sent, the
 * live phase, the functionality tests' evidence, the version numbers, and the decision asked of
 * them (sign-off, or the authorisation of a proposed rollback). No server internals, no logs.
 */
export async function portalView(ctx: ApiContext, run: RunRecord, recipient: string) {
  const steps = await ctx.services.store.getSteps(run.id);
  const actions = await ctx.services.store.getActions(run.id);
  const current = run.plan.steps[run.currentStep];
  const done = steps.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length;
  const phase: Phase =
    run.status === 'succeeded' ? 'full-service-restored' : (current?.phase ?? 'service-at-risk');
  const tests = run.plan.steps
    .filter((s) => s.kind === 'test')
    .map((s) => ({
      title: s.title,
      status: steps.find((x) => x.index === s.index)?.status ?? 'pending',
      results: actions
        .filter((a) => a.stepIndex === s.index && a.result?.kind === 'functionalTest')
        .map((a) => a.result),
    }));
  const servers = await ctx.services.store.listServers({ cluster: run.plan.cluster });
  const settings = await ctx.services.store.getClusterSettings(run.plan.cluster);
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
    failure: run.status === 'paused' || run.status === 'failed' ? run.failure : null,
  };
}
export type PortalView = Awaited<ReturnType<typeof portalView>>;
