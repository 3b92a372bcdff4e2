// Parsers for what HAProxy's runtime API prints: `show stat` (CSV), `show servers state` (space
// separated, versioned) and the framing of a non-interactive exchange (one blank line after each
// command's output). Pure functions, so they are unit-tested against outputs captured from a real
// HAProxy 2.6 (src/fixtures/).

/** A server's administrative state: the operator's (or agent's) intent, independent of health. */
export type HaproxyAdminState = 'ready' | 'drain' | 'maint';

/** A server's operational state from `show servers state` (srv_op_state 0..3). */
export type HaproxyOpState = 'stopped' | 'starting' | 'running' | 'stopping';

/**
 * `show stat`'s status column reduced to one word. HAProxy prints variants ("UP 1/2" while going
 * down, "DOWN 1/2" while coming up, "DRAIN (agent)", "MAINT (via be/s)", "MAINT (resolution)",
 * "no check"); the exact text is kept in `statusText`.
 */
export type HaproxyStatus = 'UP' | 'DOWN' | 'DRAIN' | 'MAINT' | 'NOLB' | 'NOCHECK' | 'OTHER';

/** One server row of `show stat`. */
export interface ServerStatRow {
  backend: string;
  name: string;
  status: HaproxyStatus;
  /** The status column as HAProxy prints it, e.g. "UP 1/2" or "DRAIN (agent)". */
  statusText: string;
  /** Sessions currently on the server (scur): a drained server is idle when this is 0. */
  scur: number;
  /** Sessions ever sent to the server (stot): a counter that stops growing once no new request goes there. */
  stot: number;
  /** Requests waiting in the server's queue (qcur). */
  qcur: number;
  /** Seconds since the last session was assigned to the server; null when never. */
  lastsess: number | null;
  /** Effective weight (0 while draining or during slowstart ramp-up near its start). */
  weight: number;
  /** Last health check result code, e.g. "L7OK", "L7STS", "L4CON"; "" when checks are off or paused. */
  checkStatus: string;
  checkDesc: string;
  /** Last agent-check result code; "" without agent-check. */
  agentStatus: string;
  agentDesc: string;
  /** "host:port" the traffic goes to. */
  address: string;
}

/** One server row of `show servers state`. */
export interface ServerStateRow {
  backendId: number;
  backend: string;
  id: number;
  name: string;
  address: string;
  /** Traffic port; null when HAProxy prints none. */
  port: number | null;
  opState: HaproxyOpState;
  /** srv_admin_state bit field (see ADMIN_FLAGS). */
  adminFlags: number;
  adminState: HaproxyAdminState;
  /** Why the admin state is what it is, from the flags, e.g. ["forced drain"]. Empty when ready. */
  adminReasons: string[];
  /** Weight set by the user/agent (srv_uweight) and the configured one (srv_iweight). */
  userWeight: number;
  initialWeight: number;
  secondsSinceLastChange: number;
  /** Health check counter: 0 = DOWN, >= rise = UP (srv_check_health). */
  checkHealth: number;
  /** 0 when the server has no agent-check. */
  agentPort: number;
}

/** srv_admin_state bits of HAProxy 2.6 (src/server-t.h `enum srv_admin`). */
export const ADMIN_FLAGS = {
  forcedMaint: 0x01,
  inheritedMaint: 0x02,
  configMaint: 0x04,
  forcedDrain: 0x08,
  inheritedDrain: 0x10,
  resolutionMaint: 0x20,
  hostnameSetFromCli: 0x40,
} as const;

const MAINT_MASK =
  ADMIN_FLAGS.forcedMaint |
  ADMIN_FLAGS.inheritedMaint |
  ADMIN_FLAGS.configMaint |
  ADMIN_FLAGS.resolutionMaint;
const DRAIN_MASK = ADMIN_FLAGS.forcedDrain | ADMIN_FLAGS.inheritedDrain;

const OP_STATES: Record<string, HaproxyOpState> = {
  '0': 'stopped',
  '1': 'starting',
  '2': 'running',
  '3': 'stopping',
};

/** Admin state from srv_admin_state; maintenance wins over drain, as in HAProxy itself. */
export function adminStateFromFlags(flags: number): HaproxyAdminState {
  if (flags & MAINT_MASK) return 'maint';
  if (flags & DRAIN_MASK) return 'drain';
  return 'ready';
}

function adminReasons(flags: number): string[] {
  const out: string[] = [];
  if (flags & ADMIN_FLAGS.forcedMaint) out.push('forced maint (runtime API or agent)');
  if (flags & ADMIN_FLAGS.inheritedMaint) out.push('maint inherited from a tracked server');
  if (flags & ADMIN_FLAGS.configMaint) out.push('disabled in the configuration');
  if (flags & ADMIN_FLAGS.resolutionMaint) out.push('maint: address resolution failed');
  if (flags & ADMIN_FLAGS.forcedDrain) out.push('forced drain (runtime API or agent)');
  if (flags & ADMIN_FLAGS.inheritedDrain) out.push('drain inherited from a tracked server');
  return out;
}

/**
 * Splits the answer to a `cmd1;cmd2;...` exchange into one output per command. In non-interactive
 * mode HAProxy ends every command's output with an empty line, so a command that prints nothing
 * (a successful `set server`) answers a lone "\n".
 */
export function splitResponses(text: string): string[] {
  const lines = text.split('\n');
  // The text ends with "\n": the piece after it is empty and belongs to no command.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  let current: string[] = [];
  for (const line of lines) {
    if (line === '') {
      out.push(current.join('\n'));
      current = [];
    } else {
      current.push(line);
    }
  }
  // Output cut short (no final blank line): keep what came, it is still the command's answer.
  if (current.length > 0) out.push(current.join('\n'));
  return out;
}

function int(v: string | undefined, fallback = 0): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  return Number.isFinite(n) ? n : fallback;
}

export function normaliseStatus(text: string): HaproxyStatus {
  const t = text.trim();
  if (t.toLowerCase() === 'no check') return 'NOCHECK';
  const word = t.split(/[\s(]/, 1)[0]?.toUpperCase() ?? '';
  switch (word) {
    case 'UP':
    case 'DOWN':
    case 'DRAIN':
    case 'MAINT':
    case 'NOLB':
      return word;
    default:
      return 'OTHER';
  }
}

/**
 * Parses `show stat` CSV into server rows (FRONTEND and BACKEND aggregate rows are skipped). Columns
 * are found by name from the "# pxname,svname,..." header, so later HAProxy versions that append
 * columns still parse. Throws when the text is not a `show stat` answer.
 */
export function parseShowStat(text: string): ServerStatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const headerLine = lines[0];
  if (!headerLine?.startsWith('# pxname,')) {
    throw new Error(
      `not a "show stat" answer (expected a "# pxname,svname,..." header line, got ${JSON.stringify((headerLine ?? '').slice(0, 80))})`,
    );
  }
  const header = headerLine.slice(2).split(',');
  const col = new Map(header.map((name, i) => [name, i]));
  const rows: ServerStatRow[] = [];
  for (const line of lines.slice(1)) {
    // No column contains a comma in 2.6 (descriptions are sanitised by HAProxy), so split is safe.
    const f = line.split(',');
    const get = (name: string): string | undefined => {
      const i = col.get(name);
      return i === undefined ? undefined : f[i];
    };
    const svname = get('svname') ?? '';
    if (svname === 'FRONTEND' || svname === 'BACKEND') continue;
    const statusText = get('status') ?? '';
    const lastsess = int(get('lastsess'), -1);
    rows.push({
      backend: get('pxname') ?? '',
      name: svname,
      status: normaliseStatus(statusText),
      statusText,
      scur: int(get('scur')),
      stot: int(get('stot')),
      qcur: int(get('qcur')),
      lastsess: lastsess < 0 ? null : lastsess,
      weight: int(get('weight')),
      checkStatus: (get('check_status') ?? '').replace(/^\* /, ''),
      checkDesc: get('check_desc') ?? '',
      agentStatus: (get('agent_status') ?? '').replace(/^\* /, ''),
      agentDesc: get('agent_desc') ?? '',
      address: get('addr') ?? '',
    });
  }
  return rows;
}

/**
 * Parses `show servers state` (format version 1): a version line, a "# be_id be_name ..." header,
 * then one space-separated row per server. Columns are found by name from the header.
 */
export function parseServersState(text: string): ServerStateRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const version = lines[0]?.trim();
  const headerLine = lines[1];
  if (version !== '1' || !headerLine?.startsWith('# be_id ')) {
    throw new Error(
      `not a "show servers state" answer in format 1 (expected "1" then a "# be_id be_name ..." header, got ${JSON.stringify(lines.slice(0, 2).join(' | ').slice(0, 80))})`,
    );
  }
  const header = headerLine.slice(2).trim().split(/\s+/);
  const col = new Map(header.map((name, i) => [name, i]));
  return lines.slice(2).map((line) => {
    const f = line.trim().split(/\s+/);
    const get = (name: string): string | undefined => {
      const i = col.get(name);
      return i === undefined ? undefined : f[i];
    };
    const flags = int(get('srv_admin_state'));
    const port = int(get('srv_port'), -1);
    return {
      backendId: int(get('be_id')),
      backend: get('be_name') ?? '',
      id: int(get('srv_id')),
      name: get('srv_name') ?? '',
      address: get('srv_addr') ?? '',
      port: port < 0 ? null : port,
      opState: OP_STATES[get('srv_op_state') ?? ''] ?? 'stopped',
      adminFlags: flags,
      adminState: adminStateFromFlags(flags),
      adminReasons: adminReasons(flags),
      userWeight: int(get('srv_uweight')),
      initialWeight: int(get('srv_iweight')),
      secondsSinceLastChange: int(get('srv_time_since_last_change')),
      checkHealth: int(get('srv_check_health')),
      agentPort: int(get('srv_agent_port')),
    };
  });
}
