/** Hand-written API answers for the console's tests (the web app imports no code from the API). */
import type { PlanPreview, RunView, ServerRow, StepView } from '../api-types';

export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

export function serverRow(over: Partial<ServerRow> = {}): ServerRow {
  return {
    id: 'admin-1',
    cluster: 'prod',
    role: 'admin',
    hostname: 'admin-1.example',
    agentVersion: '0.1.0',
    capabilities: [],
    gateUrl: 'http://admin-1.example:7402/gate',
    status: 'connected',
    gateOpen: true,
    services: [{ name: 'demo-app', installedEditions: ['1.0'], activeEdition: '1.0', health: 'healthy' }],
    lastHeartbeatAt: NOW - 2000,
    connectedAt: NOW - 60_000,
    ...over,
  };
}

export const SERVERS: ServerRow[] = [
  serverRow(),
  serverRow({ id: 'admin-2', gateOpen: false }),
  serverRow({ id: 'stream-1', role: 'stream' }),
  serverRow({
    id: 'stream-2',
    role: 'stream',
    status: 'lost',
    gateOpen: false,
    lastHeartbeatAt: NOW - 95_000,
  }),
];

type StepSeed = Pick<StepView, 'kind' | 'title' | 'group' | 'phase' | 'servers' | 'status'> &
  Partial<Pick<StepView, 'performedBy' | 'error' | 'attempt'>>;

const SEEDS: StepSeed[] = [
  {
    kind: 'stop',
    title: 'Stop services on server group 1',
    group: 1,
    phase: 'service-at-risk',
    servers: ['admin-1', 'stream-1'],
    status: 'succeeded',
  },
  {
    kind: 'upgrade',
    title: 'Upgrade service components on server group 1 to edition 2.0',
    group: 1,
    phase: 'service-at-risk',
    servers: ['admin-1', 'stream-1'],
    status: 'succeeded',
  },
  {
    kind: 'start',
    title: 'Start all services on server group 1',
    group: 1,
    phase: 'service-at-risk',
    servers: ['admin-1', 'stream-1'],
    status: 'succeeded',
  },
  {
    kind: 'stop',
    title: 'Stop services on server group 2',
    group: 2,
    phase: 'service-at-risk',
    servers: ['admin-2', 'stream-2'],
    status: 'failed',
    error: 'stop demo-app on stream-2 timed out after 60 s',
    attempt: 2,
  },
  {
    kind: 'start',
    title: 'Start all services on server group 2',
    group: 2,
    phase: 'limited-service-restored',
    servers: ['admin-2', 'stream-2'],
    status: 'pending',
  },
  {
    kind: 'sign-off',
    title: 'Customer verification and sign-off',
    group: null,
    phase: 'full-service-restored',
    servers: [],
    status: 'pending',
    performedBy: ['customer', 'administrator'],
  },
];

/** A run paused on a failure at step 4, with two servers out of rotation. */
export function pausedRun(): RunView {
  const steps: StepView[] = SEEDS.map((s, index) => ({
    index,
    key: `k${index}`,
    kind: s.kind,
    title: s.title,
    seedStep: index + 1,
    group: s.group,
    phase: s.phase,
    performedBy: s.performedBy ?? ['engineer'],
    servers: s.servers,
    ops: [],
    leavesRotation: [],
    rejoinsRotation: [],
    status: s.status,
    attempt: s.attempt ?? (s.status === 'pending' ? 0 : 1),
    startedAt: s.status === 'pending' ? null : NOW - 300_000 + index * 60_000,
    finishedAt: s.status === 'pending' ? null : NOW - 290_000 + index * 60_000,
    error: s.error ?? null,
    actions: [],
  }));
  return {
    run: {
      id: 'r-7f3a',
      kind: 'minor-upgrade',
      status: 'paused',
      plan: {
        procedure: 'minor',
        cluster: 'prod',
        service: 'demo-app',
        toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 2048 },
        groups: [],
        maxOutOfRotation: 2,
        window: { atRiskMinutes: 40, downtimeMinutes: 0, basis: '4 servers × 10 min' },
      },
      currentStep: 3,
      failure: 'stop demo-app on stream-2 timed out after 60 s',
      createdBy: 'cli:alice@ops-1',
      createdAt: NOW - 400_000,
      startedAt: NOW - 300_000,
      finishedAt: null,
      version: 9,
      scheduledAt: null,
      options: { onFailure: 'pause', windowEndsAt: null, rollbackAlertMs: 3_600_000, backupLabel: null },
      readiness: [],
      excluded: [],
      proposal: null,
      parentRunId: null,
    },
    steps,
    progress: { done: 3, total: steps.length },
    outOfRotation: [
      { serverId: 'admin-2', stepIndex: 3, closedAt: NOW - 70_000 },
      { serverId: 'stream-2', stepIndex: 3, closedAt: NOW - 70_000 },
    ],
  };
}

/** A compiled minor plan as `upgrade.plan` answers it: windows seed and learned, gates, steps. */
export function planPreview(): PlanPreview {
  const steps = pausedRun().steps.map(
    ({ status: _s, attempt: _a, startedAt: _b, finishedAt: _f, error: _e, actions: _x, ...p }) => p,
  );
  return {
    procedure: 'minor',
    cluster: 'prod',
    service: 'demo-app',
    toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 2048 },
    fromEdition: { app: 'demo-app', name: '1.0', sha256: 'b'.repeat(64), size: 2048 },
    groups: [
      {
        index: 1,
        servers: [
          { id: 'admin-1', cluster: 'prod', role: 'admin' },
          { id: 'stream-1', cluster: 'prod', role: 'stream' },
        ],
      },
      {
        index: 2,
        servers: [
          { id: 'admin-2', cluster: 'prod', role: 'admin' },
          { id: 'stream-2', cluster: 'prod', role: 'stream' },
        ],
      },
    ],
    maxOutOfRotation: 2,
    window: {
      atRiskMinutes: 40,
      downtimeMinutes: 0,
      basis: '4 servers × 10 min',
      learned: { atRiskMinutes: 12, downtimeMinutes: 0, basis: 'learned from 2 past runs', runs: 2 },
    },
    steps: [
      {
        index: 0,
        key: 'prep.stage',
        kind: 'prepare',
        title: 'Stage the installation files on every server',
        seedStep: null,
        group: null,
        phase: 'preparation',
        performedBy: ['engineer'],
        servers: ['admin-1', 'admin-2', 'stream-1', 'stream-2'],
        ops: [],
        leavesRotation: [],
        rejoinsRotation: [],
        gate: 'installation-files',
      },
      ...steps.map((s) => ({ ...s, index: s.index + 1, phase: 'service-at-risk' as const })),
    ],
    readiness: [
      {
        gate: 'contacts',
        required: true,
        status: 'unmet',
        detail: 'No contacts given.',
        howToMeet: 'Give the contacts (lead, application admin, LB admin).',
      },
      {
        gate: 'remote-access',
        required: true,
        status: 'met',
        detail: '4 of 4 agents connected.',
        howToMeet: '',
      },
      {
        gate: 'installation-files',
        required: true,
        status: 'automatic',
        detail: 'Checked by step 1.',
        howToMeet: '',
      },
    ],
    schedule: null,
  };
}
