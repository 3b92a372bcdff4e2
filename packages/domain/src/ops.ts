import { z } from 'zod';

/**
 * The ops an action runs on one server, in order. They mirror rollgate.agent.v1.ActionOp one for
 * one; the coordinator maps them onto the wire and the agent validates what it receives with
 * `actionOpSchema` before it runs anything.
 */
const service = z.string().min(1).max(64);
const ms = z
  .number()
  .int()
  .min(0)
  .max(24 * 3600 * 1000);

const label = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a label is 1-128 letters, digits, ".", "_" or "-"')
  .refine((s) => !s.includes('..'), 'a label must not contain ".."');
const commandName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const urlPath = z.string().startsWith('/').max(2048);
const probeName = z.string().min(1).max(128);

/**
 * One functionality test run from the test machine against the service through the load balancer
 * (the seed's "functionality tests": login, navigation, launching an application, admin version
 * numbers). Secrets never travel in a probe: a login names an account the test machine's agent
 * config holds (`testAccounts`), and a launch names a command configured there.
 */
export const functionalProbeSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('http'),
    name: probeName,
    path: urlPath,
    method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    bodyContains: z.string().max(4096).optional(),
    header: z.object({ name: z.string().min(1).max(256), contains: z.string().max(4096) }).optional(),
  }),
  z.object({
    kind: z.literal('login'),
    name: probeName,
    path: urlPath,
    format: z.enum(['form', 'json']).default('form'),
    /** An account from the test machine's agent config (`testAccounts`); never a password. */
    account: commandName,
    usernameField: z.string().min(1).max(64).default('username'),
    passwordField: z.string().min(1).max(64).default('password'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    bodyContains: z.string().max(4096).optional(),
  }),
  z.object({
    kind: z.literal('navigate'),
    name: probeName,
    pages: z.array(urlPath).min(1).max(100),
    expectStatus: z.number().int().min(100).max(599).default(200),
  }),
  z.object({
    kind: z.literal('launch'),
    name: probeName,
    /** A command configured on the test machine's agent (`testCommands`), run there. */
    command: commandName,
    timeoutMs: ms.default(60_000),
  }),
  z.object({
    kind: z.literal('version'),
    name: probeName,
    path: urlPath,
    /** The answer must name one of these editions (a JSON body's `field`, else the whole body). */
    expect: z.array(z.string().min(1).max(64)).min(1),
    field: z.string().min(1).max(64).optional(),
  }),
]);
export type FunctionalProbe = z.input<typeof functionalProbeSchema>;
export type FunctionalProbeResolved = z.output<typeof functionalProbeSchema>;

/** What an agent reports for a functionalTest op (ActionUpdate.result_json). */
export interface FunctionalTestResult {
  kind: 'functionalTest';
  baseUrl: string;
  probes: { name: string; kind: FunctionalProbe['kind']; ok: boolean; ms: number; detail: string }[];
  passed: number;
  failed: number;
}

/** What an agent reports for a backupFiles op. */
export interface BackupFilesResult {
  kind: 'backupFiles';
  /** Absolute path of the archive on the server, kept by the agent. */
  archive: string;
  bytes: number;
  sha256: string;
  entries: number;
  directories: string[];
}

/** What an agent reports for a dbBackup op. */
export interface DbBackupResult {
  kind: 'dbBackup';
  file: string;
  bytes: number;
  sha256: string;
  /** Rows per table in the source database when the dump was taken. */
  tables: Record<string, number>;
  /** Restored into a scratch database and the row counts matched. */
  verified: boolean;
  verifyMs: number;
}

/** What an agent reports for a dbRestore op. */
export interface DbRestoreResult {
  kind: 'dbRestore';
  file: string;
  tables: Record<string, number>;
}

/** What an agent reports for a command op (hooks: snapshot, repository check, schema upgrade). */
export interface CommandResult {
  kind: 'command';
  command: string;
  exitCode: number;
  /** The last lines of its output (at most 4 KiB). */
  outputTail: string;
  ms: number;
}

export type ActionResult =
  FunctionalTestResult | BackupFilesResult | DbBackupResult | DbRestoreResult | CommandResult;

export const actionOpSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('gate'), state: z.enum(['open', 'closed']) }),
  z.object({ op: z.literal('drain'), service, maxWaitMs: ms, minWaitMs: ms.optional() }),
  z.object({ op: z.literal('stop'), service, timeoutMs: ms }),
  z.object({
    op: z.literal('install'),
    service,
    edition: z.string().min(1).max(64),
    sha256: z.string().regex(/^[a-f0-9]{64}$/),
    size: z.number().int().min(0),
    /**
     * Only on the wire, never in a plan: the operator's URL when agents fetch the edition
     * themselves (docs/adr/0039). The coordinator adds it when it dispatches the op.
     */
    url: z.string().max(4000).optional(),
  }),
  z.object({ op: z.literal('activate'), service, edition: z.string().min(1).max(64) }),
  z.object({
    op: z.literal('configure'),
    service,
    edition: z.string().min(1).max(64),
    env: z.record(z.string(), z.string()),
  }),
  z.object({ op: z.literal('start'), service }),
  z.object({ op: z.literal('waitHealthy'), service, timeoutMs: ms }),
  z.object({
    op: z.literal('probe'),
    service,
    path: z.string().startsWith('/'),
    expectStatus: z.number().int().min(100).max(599),
    expectBodyContains: z.string(),
    timeoutMs: ms,
  }),
  z.object({ op: z.literal('command'), service, command: z.string().min(1).max(64), timeoutMs: ms }),
  /** Archive the service's configured backup directories; the agent keeps the archive. */
  z.object({ op: z.literal('backupFiles'), service, label }),
  /** Dump the service's database (pg_dump, or its configured command); with verify, prove it restores. */
  z.object({ op: z.literal('dbBackup'), service, label, verify: z.boolean(), timeoutMs: ms }),
  /** Restore the service's database from the backup with this label. */
  z.object({ op: z.literal('dbRestore'), service, label, timeoutMs: ms }),
  /** Run functionality tests from this server (the test machine) against baseUrl. */
  z.object({
    op: z.literal('functionalTest'),
    baseUrl: z.string().url().max(2048),
    probes: z.array(functionalProbeSchema).min(1).max(200),
    timeoutMs: ms,
  }),
  /** Remove every installed edition and the runtime state of a stopped service (rebuild). */
  z.object({ op: z.literal('uninstall'), service }),
  /**
   * Configure an edition (carrying the configuration over, with `env` overrides) and start it as a
   * second instance on the service's beside port; succeed once it is healthy there.
   */
  z.object({
    op: z.literal('startBeside'),
    service,
    edition: z.string().min(1).max(64),
    env: z.record(z.string(), z.string()),
    timeoutMs: ms,
  }),
  /** Stop the service's second instance. */
  z.object({ op: z.literal('stopBeside'), service, timeoutMs: ms }),
]);

export type ActionOp = z.infer<typeof actionOpSchema>;
export type ActionOpKind = ActionOp['op'];

/** Deterministic action id: the same (run, step, server, attempt) always yields the same id. */
export function actionId(runId: string, stepIndex: number, serverId: string, attempt: number): string {
  return `${runId}.s${stepIndex}.${serverId}.a${attempt}`;
}

/** Short human description of an op, for logs and the UI. */
export function describeOp(op: ActionOp): string {
  switch (op.op) {
    case 'gate':
      return op.state === 'closed' ? 'close gate (leave rotation)' : 'open gate (rejoin rotation)';
    case 'drain':
      return `drain ${op.service} (up to ${Math.round(op.maxWaitMs / 1000)} s)`;
    case 'stop':
      return `stop ${op.service}`;
    case 'install':
      return `install ${op.service} edition ${op.edition}`;
    case 'activate':
      return `activate ${op.service} edition ${op.edition}`;
    case 'configure':
      return `configure ${op.service} edition ${op.edition}`;
    case 'start':
      return `start ${op.service}`;
    case 'waitHealthy':
      return `wait until ${op.service} is healthy`;
    case 'probe':
      return `probe ${op.service} ${op.path} (expect ${op.expectStatus})`;
    case 'command':
      return `run ${op.service} command ${op.command}`;
    case 'backupFiles':
      return `back up ${op.service} files (${op.label})`;
    case 'dbBackup':
      return `back up ${op.service} database (${op.label}${op.verify ? ', verified by a test restore' : ''})`;
    case 'dbRestore':
      return `restore ${op.service} database from ${op.label}`;
    case 'functionalTest':
      return `functionality tests via ${op.baseUrl} (${op.probes.map((p) => p.name).join(', ')})`;
    case 'uninstall':
      return `uninstall every edition of ${op.service}`;
    case 'startBeside':
      return `start ${op.service} ${op.edition} beside the running instance (up to ${Math.round(op.timeoutMs / 1000)} s to be healthy)`;
    case 'stopBeside':
      return `stop the second instance of ${op.service}`;
  }
}

/** Splits an id made by actionId(); null when it is not one (run ids never contain a dot). */
export function parseActionId(
  id: string,
): { runId: string; stepIndex: number; serverId: string; attempt: number } | null {
  // At most 9 digits: the step index and attempt are stored as 32-bit integers, and an id an agent
  // echoes back is input like any other (a longer number once made every later log batch fail).
  const m = /^([^.]+)\.s(\d{1,9})\.(.+)\.a(\d{1,9})$/.exec(id);
  if (!m) return null;
  return { runId: m[1]!, stepIndex: Number(m[2]), serverId: m[3]!, attempt: Number(m[4]) };
}
