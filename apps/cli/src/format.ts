/**
 * Pure text rendering for the CLI: tables, the progress bar, log lines and the run view. No I/O, no
 * clock (the caller passes `now`), so everything here is unit-tested byte for byte.
 */
import { formatAge, formatBytes, formatDuration } from '@rollgate/domain';
import type { AuditRow, EditionRow, LogRow, RunRow, RunView, ServerRow, StepView } from './api-types';

// ── colour ──────────────────────────────────────────────────────────────────────────────────────

export interface Colors {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) =>
  s === '' ? s : `\x1b[${open}m${s}\x1b[${close}m`;
const identity = (s: string) => s;

/** ANSI colours when `enabled`, plain text otherwise (not a TTY, NO_COLOR, or --json). */
export function colors(enabled: boolean): Colors {
  if (!enabled) {
    return {
      bold: identity,
      dim: identity,
      red: identity,
      green: identity,
      yellow: identity,
      cyan: identity,
    };
  }
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  };
}

const ANSI = /\x1b\[[0-9;]*m/g;
const ANSI_SPLIT = /(\x1b\[[0-9;]*m)/;

/** Width of a string as a terminal shows it: ANSI colour codes take no room. */
export function visibleWidth(s: string): number {
  // Code points, not UTF-16 units, so '█' and '·' count as one column each.
  return [...s.replace(ANSI, '')].length;
}

/** Cuts a line to `width` visible columns, ending in '…'; resets colour if the line had any. */
export function truncate(s: string, width: number): string {
  if (width <= 0 || visibleWidth(s) <= width) return s;
  const reset = s.includes('\x1b[') ? '\x1b[0m' : '';
  let out = '';
  let seen = 0;
  for (const part of s.split(ANSI_SPLIT)) {
    if (part.startsWith('\x1b[')) {
      out += part;
      continue;
    }
    for (const ch of part) {
      if (seen === width - 1) return `${out}…${reset}`;
      out += ch;
      seen += 1;
    }
  }
  return out;
}

// ── text from elsewhere ─────────────────────────────────────────────────────────────────────────

/**
 * Escape sequences removed whole, so their parameters do not litter the line: CSI (ESC [ or the
 * 8-bit U+009B), and OSC/DCS/SOS/PM/APC strings (ESC ] P X ^ _, or U+009D U+0090 U+0098 U+009E
 * U+009F) with their terminator (BEL, ESC \ or U+009C); then any other two-character ESC sequence.
 * An unterminated string is not removed whole: its introducer goes with the other controls below
 * and the rest stays visible.
 */
const ESCAPE_SEQUENCE =
  /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)|\x1b[ -/]*[0-~]/g;
/**
 * What no terminal may receive from an agent: C0 controls but tab and newline (CR rewrites a line,
 * BS erases, ESC starts a sequence), DEL, the C1 controls U+0080-U+009F (U+009B is a CSI on many
 * terminals), and the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
 * U+2066-U+2069) that make text read differently from what it is.
 */
const UNSAFE_CHARS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE = new RegExp(`${ESCAPE_SEQUENCE.source}|${UNSAFE_CHARS.source}`, 'g');
/**
 * The colour codes `colors()` emits: the only sequences kept when colour is on. An agent's text
 * may then colour itself, but never move, clear, retitle, link or hide anything.
 */
const OWN_SGR = /^\x1b\[(?:0|1|2|22|31|32|33|36|39)m$/;

export interface TerminalTextOptions {
  /** Keep the colour codes this CLI emits (colour is on). Default false: remove every sequence. */
  keepColor?: boolean;
}

/**
 * Text as it may reach an operator's terminal: escape sequences and control characters (but tab
 * and newline) removed, so a service's output, a failure reason or a log line an agent sent can
 * neither move the cursor, retitle the window, clear the screen, plant a hyperlink nor reorder
 * what is shown. Every human-readable line goes through this (output.ts).
 */
export function terminalText(s: string, opts: TerminalTextOptions = {}): string {
  const keep = opts.keepColor ?? false;
  return s.replace(UNSAFE, (m) => (keep && OWN_SGR.test(m) ? m : ''));
}

/**
 * JSON as it may reach a terminal: JSON.stringify escapes C0 controls (ESC is \u001b) but writes
 * DEL, the C1 controls and the bidi overrides as they are. They can only occur inside strings, so
 * writing them as \u escapes keeps the document identical once parsed.
 */
export function terminalJson(json: string): string {
  return json.replace(
    /[\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

// ── tables ──────────────────────────────────────────────────────────────────────────────────────

export interface Column {
  header: string;
  /** Default 'left'; numbers read better right-aligned. */
  align?: 'left' | 'right';
}

export interface TableOptions {
  /** Colour the header (bold) when true. Default false. */
  color?: boolean;
  /** Spaces between columns. Default 2. */
  gap?: number;
}

/**
 * A plain table: one header line and one line per row, columns as wide as their widest cell.
 * Cells may carry colour codes; widths ignore them. Trailing spaces are trimmed so output diffs cleanly.
 */
export function renderTable(columns: Column[], rows: string[][], opts: TableOptions = {}): string {
  const gap = ' '.repeat(opts.gap ?? 2);
  const c = colors(opts.color ?? false);
  const widths = columns.map((col, i) =>
    Math.max(visibleWidth(col.header), ...rows.map((r) => visibleWidth(r[i] ?? ''))),
  );
  const line = (cells: string[]) =>
    columns
      .map((col, i) => {
        const cell = cells[i] ?? '';
        const pad = ' '.repeat((widths[i] ?? 0) - visibleWidth(cell));
        return col.align === 'right' ? pad + cell : cell + pad;
      })
      .join(gap)
      .trimEnd();
  return [c.bold(line(columns.map((col) => col.header))), ...rows.map(line)].join('\n');
}

// ── numbers and times ───────────────────────────────────────────────────────────────────────────

/**
 * `[██████░░░░]`: `done` of `total` as a bar of `width` cells. Rounds down, so the bar is only full
 * when everything is done.
 */
export function progressBar(done: number, total: number, width = 10): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.floor(ratio * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

export interface TimeOptions {
  /** Render in UTC instead of the local time zone (tests, and hosts in different zones). Default false. */
  utc?: boolean;
}

const two = (n: number) => String(n).padStart(2, '0');

/** `12:01:02.345`: log lines are read against each other, so milliseconds matter. */
export function formatClock(at: number, opts: TimeOptions = {}): string {
  const d = new Date(at);
  const [h, m, s, ms] = opts.utc
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${two(h)}:${two(m)}:${two(s)}.${String(ms).padStart(3, '0')}`;
}

/** `2025-11-22 12:01:02`, for tables where the day matters (runs, audit). */
export function formatDateTime(at: number | null | undefined, opts: TimeOptions = {}): string {
  if (at === null || at === undefined) return '-';
  const d = new Date(at);
  const [y, mo, da, h, mi, s] = opts.utc
    ? [
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCMinutes(),
        d.getUTCSeconds(),
      ]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${y}-${two(mo)}-${two(da)} ${two(h)}:${two(mi)}:${two(s)}`;
}

/**
 * Step numbers are shown 1-based (as in `describePlan`), while the API counts from 0. Every place
 * that shows or reads a step number goes through these two.
 */
export const stepNumber = (stepIndex: number) => stepIndex + 1;
export const stepIndexOf = (stepNumber: number) => stepNumber - 1;

// ── log lines ───────────────────────────────────────────────────────────────────────────────────

export interface LogLineOptions extends TimeOptions {
  color?: boolean;
}

/** `12:01:02.345 RG0111I admin-1 s7 draining (2 s)`; `-` where a line has no server or step. */
export function formatLogLine(log: LogRow, opts: LogLineOptions = {}): string {
  const c = colors(opts.color ?? false);
  const code = log.level === 'error' ? c.red(log.code) : log.level === 'warn' ? c.yellow(log.code) : log.code;
  const step = log.stepIndex === null ? '-' : `s${stepNumber(log.stepIndex)}`;
  // One log line is one terminal line: a multi-line message (service output) must not break the columns.
  const message = log.message.replace(/\r?\n/g, ' ⏎ ');
  return `${c.dim(formatClock(log.at, opts))} ${code} ${log.serverId ?? '-'} ${step} ${message}`;
}

// ── servers, editions, runs, audit ──────────────────────────────────────────────────────────────

export interface ListOptions extends TimeOptions {
  color?: boolean;
}

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T) => {
    // Code-unit order: the same fleet prints the same way whatever the locale.
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

/** `demo-app 2.0` per managed service (a server may run several), or `-`. */
export function activeEditions(server: Pick<ServerRow, 'services'>): string {
  if (server.services.length === 0) return '-';
  return server.services.map((s) => `${s.name} ${s.activeEdition || '-'}`).join(', ');
}

export function renderServers(servers: ServerRow[], now: number, opts: ListOptions = {}): string {
  if (servers.length === 0)
    return 'No servers have registered yet. Start an agent pointed at this coordinator.';
  const c = colors(opts.color ?? false);
  const status = (s: ServerRow['status']) =>
    s === 'connected' ? c.green(s) : s === 'lost' ? c.yellow(s) : c.red(s);
  const rows = [...servers]
    .sort(byKey((s) => `${s.cluster}\u0000${s.id}`))
    .map((s) => [
      s.id,
      s.cluster,
      s.role,
      status(s.status),
      s.gateOpen ? 'open' : c.yellow('closed'),
      activeEditions(s),
      formatAge(s.lastHeartbeatAt, now),
    ]);
  return renderTable(
    [
      { header: 'ID' },
      { header: 'CLUSTER' },
      { header: 'ROLE' },
      { header: 'STATUS' },
      { header: 'GATE' },
      { header: 'ACTIVE EDITION' },
      { header: 'HEARTBEAT' },
    ],
    rows,
    opts,
  );
}

export function renderEditions(editions: EditionRow[], opts: ListOptions = {}): string {
  if (editions.length === 0) return 'No editions uploaded yet. Upload one with `rollgate edition upload`.';
  const rows = [...editions]
    .sort(byKey((e) => `${e.app}\u0000${e.name}`))
    .map((e) => [
      e.app,
      e.name,
      e.size > 0 ? formatBytes(e.size) : '?',
      e.sha256.slice(0, 12),
      e.fetchBy === 'agents' ? 'agents' : 'coordinator',
      e.dbUpgradeCommand ?? '-',
      formatDateTime(e.createdAt, opts),
      e.createdBy,
      e.description ?? '',
    ]);
  return renderTable(
    [
      { header: 'APP' },
      { header: 'EDITION' },
      { header: 'SIZE', align: 'right' },
      { header: 'SHA256' },
      { header: 'FETCHED BY' },
      { header: 'DB UPGRADE' },
      { header: 'UPLOADED' },
      { header: 'BY' },
      { header: 'DESCRIPTION' },
    ],
    rows,
    opts,
  );
}

export function colorStatus(status: RunView['run']['status'], c: Colors): string {
  switch (status) {
    case 'succeeded':
      return c.green(status);
    case 'failed':
    case 'aborted':
      return c.red(status);
    case 'paused':
    case 'waiting-approval':
      return c.yellow(status);
    case 'running':
      return c.cyan(status);
    default:
      return status;
  }
}

export function renderRuns(runs: RunRow[], opts: ListOptions = {}): string {
  if (runs.length === 0) return 'No runs yet. Start one with `rollgate upgrade start`.';
  const c = colors(opts.color ?? false);
  const rows = runs.map((r) => [
    r.id,
    colorStatus(r.status, c),
    r.cluster,
    r.app,
    r.edition,
    `${Math.min(stepNumber(r.currentStep), r.steps)}/${r.steps}`,
    formatDateTime(r.createdAt, opts),
    formatDateTime(r.finishedAt, opts),
    r.createdBy,
  ]);
  return renderTable(
    [
      { header: 'RUN' },
      { header: 'STATUS' },
      { header: 'CLUSTER' },
      { header: 'APP' },
      { header: 'EDITION' },
      { header: 'STEP', align: 'right' },
      { header: 'CREATED' },
      { header: 'FINISHED' },
      { header: 'BY' },
    ],
    rows,
    opts,
  );
}

/** Audit details as `key=value` pairs, short enough for one table cell. */
export function formatDetails(details: Record<string, unknown>, max = 80): string {
  const text = Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function renderAudit(events: AuditRow[], opts: ListOptions = {}): string {
  if (events.length === 0) return 'The audit log is empty.';
  return renderTable(
    [
      { header: 'AT' },
      { header: 'ACTOR' },
      { header: 'ACTION' },
      { header: 'TARGET' },
      { header: 'FROM' },
      { header: 'DETAILS' },
    ],
    events.map((e) => {
      const { from, ...rest } = e.details as { from?: unknown };
      return [
        formatDateTime(e.at, opts),
        e.actor,
        e.action,
        e.target,
        typeof from === 'string' ? from : '—',
        formatDetails(rest),
      ];
    }),
    opts,
  );
}

// ── the run view ────────────────────────────────────────────────────────────────────────────────

/** The step the run is on: the one running, else the one it will start next (null once past the end). */
export function currentStep(view: RunView): StepView | null {
  return view.steps.find((s) => s.status === 'running') ?? view.steps[view.run.currentStep] ?? null;
}

function stepLabel(view: RunView): string {
  const step = currentStep(view);
  const title = step ? step.title : '';
  switch (view.run.status) {
    case 'pending':
      return 'not started yet';
    case 'running':
      return step ? `running: ${title}` : 'running';
    case 'paused':
      return step ? `paused at: ${title}` : 'paused';
    case 'waiting-approval':
      return step ? `waiting: ${title}` : 'waiting for sign-off';
    case 'succeeded':
      return 'all steps done';
    case 'failed':
      return step ? `failed at: ${title}` : 'failed';
    case 'aborted':
      return step ? `aborted at: ${title}` : 'aborted';
  }
}

/** `[██████░░░░] 7/16 steps  running: Stop services on server group 2` */
export function progressLine(view: RunView, width = 10): string {
  const { done, total } = view.progress;
  return `${progressBar(done, total, width)} ${done}/${total} steps  ${stepLabel(view)}`;
}

export interface RunViewOptions extends TimeOptions {
  color?: boolean;
  /** Width of the progress bar in cells. Default 20. */
  barWidth?: number;
}

/**
 * The progress view shared by `upgrade status`, `--watch` and `upgrade start --wait`: what the run
 * is doing, how far it is, which servers are out of rotation right now, and what to do next when it
 * is waiting for someone.
 */
export function renderRunView(view: RunView, now: number, opts: RunViewOptions = {}): string {
  const c = colors(opts.color ?? false);
  const { run } = view;
  const plan = run.plan;
  const lines: string[] = [];
  lines.push(
    `${c.bold(`Run ${run.id}`)}  ${plan.procedure} upgrade of ${plan.service} to edition ${plan.toEdition.name} on cluster ${plan.cluster}`,
  );
  const timing =
    run.finishedAt !== null
      ? `finished ${formatDateTime(run.finishedAt, opts)} after ${formatDuration(run.finishedAt - (run.startedAt ?? run.createdAt))}`
      : run.startedAt !== null
        ? `started ${formatAge(run.startedAt, now)}`
        : `created ${formatAge(run.createdAt, now)}`;
  lines.push(`Status: ${colorStatus(run.status, c)}  (${timing}, by ${run.createdBy})`);
  lines.push(progressLine(view, opts.barWidth ?? 20));

  const step = run.status === 'succeeded' ? null : currentStep(view);
  if (step) {
    const where = [
      ...(step.group === null ? [] : [`group ${step.group}`]),
      ...(step.servers.length > 0 ? [`on ${step.servers.join(', ')}`] : []),
      ...(step.startedAt !== null && step.status === 'running'
        ? [`for ${formatDuration(now - step.startedAt)}`]
        : []),
      ...(step.attempt > 1 ? [`attempt ${step.attempt}`] : []),
    ];
    lines.push(
      `Current step: ${stepNumber(step.index)}/${view.steps.length} ${step.title} [${step.status}]` +
        (where.length > 0 ? ` (${where.join(', ')})` : ''),
    );
  }

  const out = view.outOfRotation;
  lines.push(
    out.length === 0
      ? 'Out of rotation: none'
      : `Out of rotation: ${out.map((o) => `${c.yellow(o.serverId)} (since ${formatDuration(now - o.closedAt)}, step ${stepNumber(o.stepIndex)})`).join(', ')}`,
  );

  const failedSteps = view.steps.filter((s) => s.status === 'failed' && s.error);
  if (run.failure) lines.push(c.red(`Failure: ${run.failure}`));
  for (const s of failedSteps) {
    if (s.error !== run.failure) lines.push(c.red(`Step ${stepNumber(s.index)} failed: ${s.error}`));
  }

  // Say what to do next when the run waits for a person; the commands are copy-pasteable.
  if (run.status === 'paused') {
    lines.push(
      `Next: fix the cause, then \`rollgate upgrade resume ${run.id}\`, or \`rollgate upgrade abort ${run.id} --reason …\``,
    );
  } else if (run.status === 'waiting-approval') {
    lines.push(
      `Next: the customer verifies the service, then \`rollgate upgrade signoff ${run.id} --approve\` (or --reject --comment …)`,
    );
  }
  return lines.join('\n');
}
