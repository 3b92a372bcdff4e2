import { describe, expect, it } from 'vitest';
import type { LogRow, RunView, ServerRow } from './api-types';
import {
  activeEditions,
  colors,
  formatClock,
  formatDateTime,
  formatDetails,
  formatLogLine,
  renderAudit,
  progressBar,
  progressLine,
  renderRunView,
  renderServers,
  renderTable,
  truncate,
  visibleWidth,
} from './format';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

describe('renderTable', () => {
  it('sizes columns to the widest cell, aligns right on request and trims line ends', () => {
    const out = renderTable(
      [{ header: 'ID' }, { header: 'SIZE', align: 'right' }, { header: 'NOTE' }],
      [
        ['a', '1', ''],
        ['longer-id', '12345', 'x'],
      ],
    );
    expect(out.split('\n')).toEqual(['ID          SIZE  NOTE', 'a              1', 'longer-id  12345  x']);
  });

  it('ignores colour codes when measuring', () => {
    const c = colors(true);
    const out = renderTable([{ header: 'A' }, { header: 'B' }], [[c.green('ok'), 'z']], { color: true });
    const [header, row] = out.split('\n');
    expect(header).toBe('\x1b[1mA   B\x1b[22m');
    expect(row).toBe('\x1b[32mok\x1b[39m  z');
  });

  it('handles missing cells', () => {
    expect(renderTable([{ header: 'A' }, { header: 'B' }], [['x']])).toBe('A  B\nx');
  });
});

describe('colors', () => {
  it('is the identity when disabled', () => {
    const c = colors(false);
    expect(c.red('x') + c.bold('y') + c.dim('z')).toBe('xyz');
  });
});

describe('visibleWidth and truncate', () => {
  it('counts code points and skips ANSI codes', () => {
    expect(visibleWidth('\x1b[31m██░\x1b[39m')).toBe(3);
  });
  it('cuts to the width with an ellipsis, and resets colour when cut', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(truncate('\x1b[31mabcdef\x1b[39m', 4)).toBe('\x1b[31mabc…\x1b[0m');
  });
});

describe('progressBar', () => {
  it('fills in proportion, rounding down so only a finished run is full', () => {
    expect(progressBar(7, 16)).toBe('[████░░░░░░]');
    expect(progressBar(15, 16)).toBe('[█████████░]');
    expect(progressBar(16, 16)).toBe('[██████████]');
    expect(progressBar(0, 16)).toBe('[░░░░░░░░░░]');
    expect(progressBar(3, 4, 4)).toBe('[███░]');
  });
  it('copes with an empty plan and with overshoot', () => {
    expect(progressBar(0, 0)).toBe('[░░░░░░░░░░]');
    expect(progressBar(20, 10, 4)).toBe('[████]');
  });
});

describe('times', () => {
  it('formats clock and date times (UTC for stable tests)', () => {
    expect(formatClock(Date.UTC(2025, 0, 15, 12, 1, 2, 345), { utc: true })).toBe('12:01:02.345');
    expect(formatClock(Date.UTC(2025, 0, 15, 3, 4, 5, 6), { utc: true })).toBe('03:04:05.006');
    expect(formatDateTime(Date.UTC(2025, 0, 5, 3, 4, 5), { utc: true })).toBe('2025-01-05 03:04:05');
    expect(formatDateTime(null)).toBe('-');
  });
});

const logRow = (over: Partial<LogRow> = {}): LogRow => ({
  id: 1,
  runId: 'r1',
  actionId: null,
  serverId: 'admin-1',
  stepIndex: 6,
  at: Date.UTC(2025, 0, 15, 12, 1, 2, 345),
  level: 'info',
  code: 'RG0111I',
  message: 'draining (2 s)',
  source: 'agent',
  ...over,
});

describe('formatLogLine', () => {
  it('prints time, code, server, 1-based step and message', () => {
    expect(formatLogLine(logRow(), { utc: true })).toBe('12:01:02.345 RG0111I admin-1 s7 draining (2 s)');
  });
  it('uses - for lines without a server or step', () => {
    expect(
      formatLogLine(
        logRow({ serverId: null, stepIndex: null, code: 'RG0010I', message: 'rollout started' }),
        { utc: true },
      ),
    ).toBe('12:01:02.345 RG0010I - - rollout started');
  });
  it('keeps a multi-line message on one line', () => {
    expect(formatLogLine(logRow({ message: 'a\nb\r\nc' }), { utc: true })).toBe(
      '12:01:02.345 RG0111I admin-1 s7 a ⏎ b ⏎ c',
    );
  });
  it('colours errors red and warnings yellow only when asked', () => {
    expect(formatLogLine(logRow({ level: 'error', code: 'RG0102E' }), { utc: true, color: true })).toContain(
      '\x1b[31mRG0102E\x1b[39m',
    );
    expect(formatLogLine(logRow({ level: 'warn', code: 'RG0051W' }), { utc: true, color: true })).toContain(
      '\x1b[33mRG0051W\x1b[39m',
    );
    expect(formatLogLine(logRow({ level: 'error', code: 'RG0102E' }), { utc: true })).not.toContain('\x1b[');
  });
});

const serverRow = (over: Partial<ServerRow> = {}): ServerRow => ({
  id: 'admin-1',
  cluster: 'prod',
  role: 'admin',
  hostname: 'admin-1.example',
  agentVersion: '0.1.0',
  capabilities: [],
  gateUrl: 'http://admin-1.example:7402/gate',
  status: 'connected',
  gateOpen: true,
  services: [
    { name: 'demo-app', installedEditions: ['1.0', '2.0'], activeEdition: '2.0', health: 'healthy' },
  ],
  lastHeartbeatAt: NOW - 2000,
  connectedAt: NOW - 60_000,
  ...over,
});

describe('renderServers', () => {
  it('prints one sorted row per server', () => {
    const out = renderServers(
      [
        serverRow({ id: 'stream-1', role: 'stream', status: 'lost', gateOpen: false, lastHeartbeatAt: null }),
        serverRow(),
      ],
      NOW,
    );
    expect(out.split('\n')).toEqual([
      'ID        CLUSTER  ROLE    STATUS     GATE    ACTIVE EDITION  HEARTBEAT',
      'admin-1   prod     admin   connected  open    demo-app 2.0    2s ago',
      'stream-1  prod     stream  lost       closed  demo-app 2.0    never',
    ]);
  });
  it('says what to do when there are none', () => {
    expect(renderServers([], NOW)).toMatch(/No servers have registered yet/);
  });
  it('lists every managed service of a server', () => {
    expect(activeEditions({ services: [] })).toBe('-');
    expect(
      activeEditions({
        services: [
          { name: 'a', installedEditions: [], activeEdition: '1', health: 'healthy' },
          { name: 'b', installedEditions: [], activeEdition: '', health: 'unknown' },
        ],
      }),
    ).toBe('a 1, b -');
  });
});

describe('formatDetails', () => {
  it('prints key=value pairs and cuts long ones', () => {
    expect(formatDetails({ reason: 'lunch', steps: 3, ok: true })).toBe('reason=lunch steps=3 ok=true');
    expect(formatDetails({ text: 'x'.repeat(100) }, 10)).toBe('text=xxxx…');
  });
});

// ── run view ──

function runView(
  over: { status?: RunView['run']['status']; failure?: string | null; currentStep?: number } = {},
): RunView {
  const status = over.status ?? 'running';
  const currentStep = over.currentStep ?? 1;
  const titles = [
    'Stop services on server group 1',
    'Stop services on server group 2',
    'Customer verification and sign-off',
  ];
  const steps = titles.map((title, index) => ({
    index,
    key: `k${index}`,
    kind: index === 2 ? ('sign-off' as const) : ('stop' as const),
    title,
    seedStep: index + 1,
    group: index === 2 ? null : index + 1,
    phase: 'service-at-risk' as const,
    performedBy: ['engineer' as const],
    servers: index === 2 ? [] : [`admin-${index + 1}`, `stream-${index + 1}`],
    ops: [],
    leavesRotation: [],
    rejoinsRotation: [],
    status:
      status === 'succeeded' || index < currentStep
        ? ('succeeded' as const)
        : index === currentStep
          ? over.failure
            ? ('failed' as const)
            : status === 'running' || status === 'waiting-approval'
              ? ('running' as const)
              : ('pending' as const)
          : ('pending' as const),
    attempt: index <= currentStep ? 1 : 0,
    startedAt: index <= currentStep ? NOW - 12_000 : null,
    finishedAt: index < currentStep ? NOW - 13_000 : null,
    error: index === currentStep && over.failure ? over.failure : null,
    actions: [],
  }));
  const done = steps.filter((s) => s.status === 'succeeded').length;
  return {
    run: {
      id: 'r1',
      kind: 'minor-upgrade',
      status,
      plan: {
        procedure: 'minor',
        cluster: 'prod',
        service: 'demo-app',
        toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 10 },
        groups: [],
        maxOutOfRotation: 2,
        window: { atRiskMinutes: 40, downtimeMinutes: 0, basis: '4 servers × 10 min' },
      },
      currentStep,
      failure: over.failure ?? null,
      createdBy: 'cli:alice@host',
      createdAt: NOW - 120_000,
      startedAt: NOW - 60_000,
      finishedAt: status === 'succeeded' ? NOW - 1000 : null,
      version: 3,
      scheduledAt: null,
      options: { onFailure: 'pause', windowEndsAt: null, rollbackAlertMs: 3_600_000, backupLabel: null },
      readiness: [],
      excluded: [],
      proposal: null,
      parentRunId: null,
    },
    steps,
    progress: { done, total: steps.length },
    outOfRotation:
      status === 'succeeded' ? [] : [{ serverId: 'admin-2', stepIndex: 1, closedAt: NOW - 12_000 }],
  };
}

describe('progressLine', () => {
  it('shows the bar, the count and what the run is doing', () => {
    expect(progressLine(runView())).toBe('[███░░░░░░░] 1/3 steps  running: Stop services on server group 2');
    expect(progressLine(runView({ status: 'succeeded', currentStep: 3 }))).toBe(
      '[██████████] 3/3 steps  all steps done',
    );
    expect(progressLine(runView({ status: 'pending', currentStep: 0 }))).toBe(
      '[░░░░░░░░░░] 0/3 steps  not started yet',
    );
    expect(progressLine(runView({ status: 'aborted' }))).toContain(
      'aborted at: Stop services on server group 2',
    );
  });
});

describe('renderRunView', () => {
  it('renders a running run', () => {
    expect(renderRunView(runView(), NOW, { utc: true }).split('\n')).toEqual([
      'Run r1  minor upgrade of demo-app to edition 2.0 on cluster prod',
      'Status: running  (started 1m 00s ago, by cli:alice@host)',
      '[██████░░░░░░░░░░░░░░] 1/3 steps  running: Stop services on server group 2',
      'Current step: 2/3 Stop services on server group 2 [running] (group 2, on admin-2, stream-2, for 12s)',
      'Out of rotation: admin-2 (since 12s, step 2)',
    ]);
  });

  it('renders a run paused on a failure with what to do next', () => {
    const out = renderRunView(runView({ status: 'paused', failure: 'stop timed out on stream-2' }), NOW, {
      utc: true,
    });
    expect(out).toContain('paused at: Stop services on server group 2');
    expect(out).toContain(
      'Current step: 2/3 Stop services on server group 2 [failed] (group 2, on admin-2, stream-2)',
    );
    expect(out).toContain('Failure: stop timed out on stream-2');
    // The step's error equals the run's failure: said once.
    expect(out.match(/stop timed out/g)).toHaveLength(1);
    expect(out).toContain('`rollgate upgrade resume r1`');
  });

  it('tells how to sign off when waiting for approval', () => {
    const out = renderRunView(runView({ status: 'waiting-approval', currentStep: 2 }), NOW, { utc: true });
    expect(out).toContain('waiting: Customer verification and sign-off');
    expect(out).toContain('rollgate upgrade signoff r1 --approve');
  });

  it('renders a finished run without a current step', () => {
    const out = renderRunView(runView({ status: 'succeeded', currentStep: 3 }), NOW, { utc: true });
    expect(out).toContain('Status: succeeded  (finished 2025-01-15 11:59:59 after 59s, by cli:alice@host)');
    expect(out).not.toContain('Current step');
    expect(out).toContain('Out of rotation: none');
  });
});

describe('renderAudit', () => {
  it('shows from where each change came, and the rest of the details beside it', () => {
    const text = renderAudit(
      [
        {
          at: 0,
          actor: 'alice',
          action: 'run.start',
          target: 'r-1',
          details: { from: '10.0.0.5', cluster: 'demo' },
        },
        { at: 0, actor: 'coordinator', action: 'run.rollback.start', target: 'r-2', details: {} },
      ],
      { color: false, utc: true },
    );
    const [header, first, second] = text.split('\n');
    expect(header).toMatch(/AT +ACTOR +ACTION +TARGET +FROM +DETAILS/);
    expect(first).toMatch(/alice +run\.start +r-1 +10\.0\.0\.5 +cluster=demo/);
    expect(second).toMatch(/coordinator +run\.rollback\.start +r-2 +—/);
  });
});
