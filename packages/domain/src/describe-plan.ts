import { describeOp } from './ops';
import { PHASE_LABEL, type Phase } from './phases';
import type { Performer, Plan } from './plan';
import { plural } from './compile-common';

const PHASE_BANNER: Record<Phase, string> = {
  preparation: 'PRE-UPGRADE REQUIREMENTS',
  'service-at-risk': 'SERVICE AT RISK / LIMITED CAPABILITY WINDOW BEGINS',
  downtime: 'SERVICE DOWNTIME BEGINS',
  'limited-service-restored': 'LIMITED SERVICE RESTORED (SERVICE AT RISK / LIMITED CAPABILITY PERSISTS)',
  'full-service-restored': 'FULL SERVICE RESTORED (SERVICE AT RISK / LIMITED CAPABILITY ENDS)',
};

const PERFORMER_LABEL: Record<Performer, string> = {
  engineer: 'engineer',
  administrator: 'administrator',
  customer: 'customer',
};

function title(plan: Plan): string {
  const e = plan.toEdition;
  const artifact = `(sha256 ${e.sha256.slice(0, 12)}…, ${e.size} bytes)`;
  const from = plan.fromEdition ? ` from edition ${plan.fromEdition.name}` : '';
  if (plan.procedure === 'rollback') {
    const rb = plan.rollback;
    return (
      `Rollback${rb ? ` (${rb.method}) of run ${rb.ofRun}` : ''}: ${plan.service} on cluster "${plan.cluster}"` +
      ` back to edition ${e.name}${plan.fromEdition ? ` from ${plan.fromEdition.name}` : ''} ${artifact}`
    );
  }
  if (plan.procedure === 'validate') {
    return `Validation of ${plan.service} edition ${e.name} on a clone of cluster "${plan.cluster}": second instances beside ${plan.groups[0]?.servers.map((s) => s.id).join(', ') ?? ''}, in the cluster's validation backend; routing rules send the pilot requests there ${artifact}`;
  }
  if (plan.procedure === 'deactivate') {
    return `Deactivation of ${plan.service} edition ${e.name} on cluster "${plan.cluster}": its validation clone stops; the target keeps serving its active edition ${artifact}`;
  }
  if (plan.procedure === 'distribute') {
    return `Distribution of ${plan.service} edition ${e.name} to cluster "${plan.cluster}" (installed side by side, not activated) ${artifact}`;
  }
  if (plan.procedure === 'rollout' || plan.procedure === 'backout' || plan.procedure === 'activation') {
    const ro = plan.rollout;
    const how =
      plan.procedure === 'activation'
        ? 'simple activation, WITH DOWNTIME'
        : `${ro?.strategy ?? 'grouped'}${ro?.strategy === 'grouped' ? `, groups of ${ro.groupSize}` : ''}, ${ro?.reset ?? 'soft'} reset, drainage interval ${ro?.drainageIntervalSec ?? 30} s${ro?.fastPath ? ', fast path: already installed everywhere, nothing downloaded' : ''}`;
    const verb = { rollout: 'Rollout', backout: 'Back-out', activation: 'Activation' }[plan.procedure];
    return `${verb} of ${plan.service} edition ${e.name} on cluster "${plan.cluster}"${from} (${how}) ${artifact}`;
  }
  const kind = plan.procedure === 'minor' ? 'Minor' : 'Major';
  return `${kind} upgrade of ${plan.service} on cluster "${plan.cluster}"${from} to edition ${e.name} ${artifact}`;
}

function windowLines(plan: Plan): string[] {
  const w = plan.window;
  const downtime = (m: number) =>
    m > 0 ? `${PHASE_LABEL.downtime.toLowerCase()} ${m} min inside it.` : 'no downtime.';
  const lines = [
    `Announce: ${PHASE_LABEL['service-at-risk']} for ${w.atRiskMinutes} min (${w.basis}); ${downtime(w.downtimeMinutes)}`,
  ];
  if (w.learned) {
    lines.push(
      `Learned: ${PHASE_LABEL['service-at-risk']} for ${w.learned.atRiskMinutes} min (${w.learned.basis}); ${downtime(
        w.learned.downtimeMinutes,
      )}`,
    );
  }
  return lines;
}

/**
 * Plain-text rendering of a plan for the CLI and for pasting into a change request: the groups, the
 * announced windows (the seed's rule of thumb and, when known, what past runs took), then the steps
 * under the seed's phase banners, the pre-upgrade requirements first.
 */
export function describePlan(plan: Plan): string {
  const banner = (text: string) => `── ${text} ──`;
  const lines: string[] = [
    title(plan),
    `Server groups (at most ${plural(plan.maxOutOfRotation, 'server')} out of rotation at once):`,
    ...plan.groups.map(
      (g) => `  group ${g.index}: ${g.servers.map((s) => `${s.id} (${s.role})`).join(', ')}`,
    ),
    ...(plan.designatedServer ? [`Database steps run on ${plan.designatedServer}.`] : []),
    ...windowLines(plan),
    '',
  ];
  const width = String(plan.steps.length).length;
  let phase: Phase | null = null;
  for (const step of plan.steps) {
    if (step.phase !== phase) {
      lines.push(banner(PHASE_BANNER[step.phase]));
      phase = step.phase;
    }
    const facts = [
      step.seedStep === null ? 'added by Rollgate' : `seed step ${step.seedStep}`,
      ...(step.group === null ? [] : [`group ${step.group}`]),
      ...(step.gate ? [`readiness gate ${step.gate}`] : []),
      step.performedBy.map((p) => PERFORMER_LABEL[p]).join(' / '),
      step.servers.length > 0
        ? `on ${step.servers.join(', ')}`
        : step.kind === 'sign-off'
          ? "waits for the customer's decision"
          : 'no servers',
      ...(step.allowsDowntime ? ['service may be down'] : []),
    ];
    lines.push(`${String(step.index + 1).padStart(width)}. ${step.title}`);
    const indent = ' '.repeat(width + 2);
    lines.push(`${indent}${facts.join(' · ')}`);
    if (step.ops.length > 0) lines.push(`${indent}${step.ops.map(describeOp).join(' → ')}`);
  }
  if (phase !== 'full-service-restored') {
    lines.push(
      banner(
        plan.procedure === 'minor'
          ? 'SERVICE AT RISK / LIMITED CAPABILITY WINDOW ENDS'
          : PHASE_BANNER['full-service-restored'],
      ),
    );
  }
  return lines.join('\n');
}
