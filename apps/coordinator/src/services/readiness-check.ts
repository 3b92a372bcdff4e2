import {
  checkSchedule,
  READINESS_GATES,
  requiredGates,
  type ClusterSettings,
  type Contacts,
  type GateRecord,
  type Plan,
  type ReadinessGate,
} from '@rollgate/domain';
import type { GatePreview } from '@rollgate/api';
import type { EngineStore, RunRecord, ServerRecord } from '@rollgate/engine';

/** Gates a preparation step of the plan checks; the rest are known before the run starts. */
const STEP_GATES: ReadinessGate[] = [
  'installation-files',
  'file-backup',
  'snapshots',
  'database-backup',
  'repository',
  'test-machine',
];

export interface ReadinessInput {
  plan: Plan;
  settings: ClusterSettings;
  /** The cluster's servers and, when tests are configured, the test machine. */
  servers: ServerRecord[];
  testMachine: ServerRecord | null;
  coordinatorVersion: string;
  contacts: Contacts | undefined;
  waive: { gate: ReadinessGate; reason: string }[];
  actor: string;
  now: number;
}

const major = (v: string) => v.split('.')[0] ?? v;

/**
 * The readiness gates of a run as they stand before it starts. Gates a preparation step checks are
 * "automatic" when the plan has the step; a required gate that is neither met, waived nor checked
 * by a step blocks the start.
 */
export function previewReadiness(input: ReadinessInput): { preview: GatePreview[]; records: GateRecord[] } {
  const { plan, settings, now, actor } = input;
  const required = new Set(
    requiredGates(plan.procedure === 'major' ? 'major' : 'minor', settings.readiness, {
      testsConfigured: settings.tests !== undefined,
    }),
  );
  const stepGates = new Set(plan.steps.map((s) => s.gate).filter((g): g is ReadinessGate => g !== undefined));
  const preview: GatePreview[] = [];
  const records: GateRecord[] = [];
  const gates = Object.keys(READINESS_GATES) as ReadinessGate[];
  for (const gate of gates) {
    const meta = READINESS_GATES[gate];
    const isRequired = required.has(gate);
    const waiver = input.waive.find((w) => w.gate === gate);
    let status: GatePreview['status'];
    let detail: string;
    let evidence: unknown = null;
    if (gate === 'contacts') {
      if (input.contacts) {
        status = 'met';
        const c = input.contacts;
        detail = `lead ${c.lead.name}, application administrator ${c.appAdmin.name}, LB administrator ${c.lbAdmin.name} confirmed by ${actor}`;
        evidence = c;
      } else {
        status = 'unmet';
        detail = 'no contacts were given for this window';
      }
    } else if (gate === 'remote-access') {
      const members = [...input.servers, ...(input.testMachine ? [input.testMachine] : [])];
      const down = members.filter((s) => s.status !== 'connected');
      const old = members.filter((s) => major(s.agentVersion) !== major(input.coordinatorVersion));
      if (down.length === 0 && old.length === 0) {
        status = 'met';
        detail = `${members.length} agents connected, all of version ${major(input.coordinatorVersion)}.x`;
        evidence = members.map((s) => ({ id: s.id, version: s.agentVersion, heartbeat: s.lastHeartbeatAt }));
      } else {
        status = 'unmet';
        detail = [
          down.length ? `not connected: ${down.map((s) => `${s.id} (${s.status})`).join(', ')}` : '',
          old.length
            ? `incompatible agent version: ${old.map((s) => `${s.id} ${s.agentVersion}`).join(', ')} (coordinator ${input.coordinatorVersion})`
            : '',
        ]
          .filter(Boolean)
          .join('; ');
      }
    } else if (gate === 'test-machine' && settings.tests && !input.testMachine) {
      status = 'unmet';
      detail = `the test machine ${settings.tests.testMachine} has never connected`;
    } else if (STEP_GATES.includes(gate) && stepGates.has(gate)) {
      status = 'automatic';
      detail = `checked by step "${plan.steps.find((s) => s.gate === gate)?.title ?? gate}" before the window begins`;
    } else {
      status = 'unmet';
      detail = 'not configured for this cluster';
    }
    if (waiver && status !== 'met') {
      status = 'waived';
      detail = `waived by ${actor}: ${waiver.reason}`;
    }
    preview.push({ gate, required: isRequired, status, detail, howToMeet: meta.howToMeet });
    if (isRequired || status === 'met' || status === 'waived' || status === 'automatic') {
      records.push({
        gate,
        required: isRequired,
        status: status === 'automatic' ? 'unmet' : status,
        evidence,
        by: status === 'met' || status === 'waived' ? actor : null,
        at: status === 'met' || status === 'waived' ? now : null,
        ...(waiver && status === 'waived' ? { reason: waiver.reason } : {}),
      });
    }
  }
  return { preview, records };
}

/** The required gates that stop a run from starting, in words an operator can act on. */
export function blockingGates(preview: GatePreview[]): { code: string; message: string; hint: string }[] {
  return preview
    .filter((g) => g.required && g.status === 'unmet')
    .map((g) => ({
      code: 'GATE_UNMET',
      message: `Readiness gate "${g.gate}" is unmet: ${g.detail}.`,
      hint: `${g.howToMeet} (or waive it with a reason: --waive ${g.gate}="…").`,
    }));
}

/**
 * What a scheduled run checks when it is due: the cluster's freeze windows and business hours
 * (they may have changed since it was scheduled) and that every agent is still connected.
 */
export function createScheduledPrecheck(opts: {
  store: EngineStore;
  now: () => number;
}): (run: RunRecord) => Promise<string | null> {
  return async (run) => {
    const settings = await opts.store.getClusterSettings(run.plan.cluster);
    const minutes = run.plan.window.learned?.atRiskMinutes ?? run.plan.window.atRiskMinutes;
    const now = opts.now();
    // A due run starts now: its own start time is not "in the past" for this check.
    const check = checkSchedule(now, minutes * 60_000, settings.schedule ?? {}, now);
    if (!check.ok) return check.problems.map((p) => `${p.message} ${p.hint}`).join(' ');
    const members = new Set(run.plan.groups.flatMap((g) => g.servers.map((s) => s.id)));
    const down = (await opts.store.listServers({ cluster: run.plan.cluster })).filter(
      (s) => members.has(s.id) && s.status !== 'connected',
    );
    if (down.length > 0) {
      return `readiness gate "remote-access" is unmet: ${down.map((s) => `${s.id} (${s.status})`).join(', ')} not connected`;
    }
    return null;
  };
}
