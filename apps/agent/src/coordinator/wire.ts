// The agent's wire edge (issue 15 item 4): every generated protocol type (proto-loader output:
// camelCase fields, enums as strings, the oneof's name in `op`/`body`) is mapped here to the
// agent's own types and back, and nowhere else; the executor, the ops and the rest read plain
// domain objects. The transport (connection.ts, agent-service-client.ts) carries the wire types
// and agent.ts hands them to these functions.
//
// Inbound ops are validated with the domain's actionOpSchema; anything it refuses becomes a
// readable reason, never an exception that could crash the agent.
import { actionOpSchema, type ActionOp } from '@rollgate/domain';
import type {
  ActionOp__Output,
  ActionUpdate,
  ArtifactChunk__Output,
  CoordinatorMessage__Output,
  GateState,
  LogLine,
  RunAction__Output,
  ServiceInventory,
} from '@rollgate/protocol';
import type { ActionReport, ActionRequest } from '../actions/executor';
import type { ServiceHealthView } from '../rotation/gate';
import type { ShippedLine, ShipLevel } from './log-shipper';
import type { GateWish } from '../rotation/state-store';

export type MappedOps = { ok: true; ops: ActionOp[] } | { ok: false; index: number; reason: string };

/** Every op kind this agent runs, for the "unknown kind" message. */
export const SUPPORTED_OP_KINDS = [
  'gate',
  'drain',
  'stop',
  'install',
  'activate',
  'configure',
  'start',
  'waitHealthy',
  'probe',
  'command',
  'backupFiles',
  'dbBackup',
  'dbRestore',
  'functionalTest',
  'uninstall',
  'startBeside',
  'stopBeside',
] as const;

/** A wire op that cannot even be turned into a candidate (e.g. probes_json is not JSON). */
class CandidateError extends Error {}

function parseProbes(json: string | undefined): unknown {
  if (json === undefined || json.trim() === '') {
    throw new CandidateError('functionalTest has no probes (probes_json is empty); list at least one probe');
  }
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new CandidateError(
      `functionalTest probes_json is not valid JSON (${(err as Error).message}); the coordinator must send a JSON list of FunctionalProbe`,
    );
  }
}

function gateState(s: unknown): unknown {
  if (s === 'GATE_STATE_OPEN' || s === 1) return 'open';
  if (s === 'GATE_STATE_CLOSED' || s === 2) return 'closed';
  return s === 'GATE_STATE_UNSPECIFIED' || s === 0 || s === undefined ? 'unspecified' : s;
}

/** Wire op → the plain object actionOpSchema expects (not yet validated). */
export function protoOpToCandidate(op: ActionOp__Output): Record<string, unknown> | undefined {
  switch (op.op) {
    case 'gate':
      return { op: 'gate', state: gateState(op.gate?.state) };
    case 'drain':
      return { op: 'drain', ...op.drain };
    case 'stop':
      return { op: 'stop', ...op.stop };
    case 'install': {
      // proto3's empty string is "unset": the edition then comes from the coordinator.
      const { url, ...rest } = op.install ?? { url: '' };
      return { op: 'install', ...rest, ...(url ? { url } : {}) };
    }
    case 'activate':
      return { op: 'activate', ...op.activate };
    case 'configure':
      return { op: 'configure', ...op.configure, env: { ...(op.configure?.env ?? {}) } };
    case 'start':
      return { op: 'start', ...op.start };
    case 'waitHealthy':
      return { op: 'waitHealthy', ...op.waitHealthy };
    case 'probe':
      return { op: 'probe', ...op.probe };
    case 'command':
      return { op: 'command', ...op.command };
    case 'backupFiles':
      return { op: 'backupFiles', ...op.backupFiles };
    case 'dbBackup':
      return { op: 'dbBackup', ...op.dbBackup };
    case 'dbRestore':
      return { op: 'dbRestore', ...op.dbRestore };
    case 'functionalTest':
      return {
        op: 'functionalTest',
        baseUrl: op.functionalTest?.baseUrl,
        probes: parseProbes(op.functionalTest?.probesJson),
        timeoutMs: op.functionalTest?.timeoutMs,
      };
    case 'uninstall':
      return { op: 'uninstall', ...op.uninstall };
    case 'startBeside':
      return { op: 'startBeside', ...op.startBeside, env: { ...(op.startBeside?.env ?? {}) } };
    case 'stopBeside':
      return { op: 'stopBeside', ...op.stopBeside };
    default:
      return undefined;
  }
}

/** Validates every op of a RunAction; the first bad one names its index and what is wrong. */
export function mapProtoOps(ops: ActionOp__Output[]): MappedOps {
  if (ops.length === 0) return { ok: false, index: 0, reason: 'the action has no ops; nothing to run' };
  const out: ActionOp[] = [];
  for (const [index, op] of ops.entries()) {
    let candidate: Record<string, unknown> | undefined;
    try {
      candidate = protoOpToCandidate(op);
    } catch (err) {
      if (!(err instanceof CandidateError)) throw err;
      return {
        ok: false,
        index,
        reason: `op ${index + 1} of ${ops.length} (${op.op}) is invalid: ${err.message}`,
      };
    }
    if (!candidate) {
      return {
        ok: false,
        index,
        reason: `op ${index + 1} of ${ops.length} has no known kind (${JSON.stringify(op.op ?? null)}); this agent supports ${SUPPORTED_OP_KINDS.join(', ')} — upgrade the agent or fix the plan`,
      };
    }
    const parsed = actionOpSchema.safeParse(candidate);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'op'}: ${i.message}`)
        .join('; ');
      return {
        ok: false,
        index,
        reason: `op ${index + 1} of ${ops.length} (${String(candidate.op)}) is invalid: ${problems}`,
      };
    }
    out.push(parsed.data);
  }
  return { ok: true, ops: out };
}

/** RunAction → what the executor runs: the ids, and the ops mapped and validated (or why not). */
export function fromWireRunAction(m: RunAction__Output): ActionRequest {
  return {
    actionId: m.actionId,
    runId: m.runId,
    stepIndex: m.stepIndex,
    attempt: m.attempt,
    ops: mapProtoOps(m.ops ?? []),
  };
}

/**
 * An executor report → ActionUpdate. Its results travel as result_json: one result as itself,
 * several (the ops of one action) as a list in op order, which the coordinator keeps whole.
 */
export function toWireUpdate(r: ActionReport): ActionUpdate {
  return {
    actionId: r.actionId,
    status: `ACTION_STATUS_${r.status}`,
    reason: r.reason,
    atMs: r.atMs,
    opIndex: r.opIndex,
    ...(r.results === undefined
      ? {}
      : {
          resultJson:
            r.results.length === 0 ? '' : JSON.stringify(r.results.length === 1 ? r.results[0] : r.results),
        }),
  };
}

/** What the coordinator asks of this agent, in the agent's words. */
export type CoordinatorCommand =
  | { kind: 'runAction'; request: ActionRequest }
  | { kind: 'logAck'; streamId: string; upToSeq: number }
  | { kind: 'cancelAction'; actionId: string; reason: string }
  | { kind: 'setGate'; wish: GateWish; reason: string }
  | { kind: 'ignored'; why: string };

export function fromWireMessage(m: CoordinatorMessage__Output): CoordinatorCommand {
  if (m.body === 'runAction' && m.runAction) {
    return { kind: 'runAction', request: fromWireRunAction(m.runAction) };
  }
  if (m.body === 'logAck' && m.logAck) {
    return { kind: 'logAck', streamId: m.logAck.streamId, upToSeq: Number(m.logAck.upToSeq) };
  }
  if (m.body === 'cancelAction' && m.cancelAction) {
    return { kind: 'cancelAction', actionId: m.cancelAction.actionId, reason: m.cancelAction.reason };
  }
  if (m.body === 'setGate' && m.setGate) {
    const wish = fromWireGate(m.setGate.state);
    return wish
      ? { kind: 'setGate', wish, reason: m.setGate.reason }
      : { kind: 'ignored', why: `SetGate without a state (${String(m.setGate.state)})` };
  }
  return { kind: 'ignored', why: `unknown coordinator message ${String(m.body)}` };
}

/** A wire gate state → the wish it expresses; undefined for "unspecified" (no wish). */
export function fromWireGate(s: unknown): GateWish | undefined {
  if (s === 'GATE_STATE_OPEN') return 'open';
  if (s === 'GATE_STATE_CLOSED') return 'closed';
  return undefined;
}

export function toWireGate(wish: GateWish): GateState {
  return wish === 'open' ? 'GATE_STATE_OPEN' : 'GATE_STATE_CLOSED';
}

const HEALTH: Record<ServiceHealthView['state'], ServiceInventory['health']> = {
  healthy: 'SERVICE_HEALTH_HEALTHY',
  unhealthy: 'SERVICE_HEALTH_UNHEALTHY',
  stopped: 'SERVICE_HEALTH_STOPPED',
  unknown: 'SERVICE_HEALTH_UNSPECIFIED',
};

/** One service as this agent sees it (Hello and HealthReport carry it). */
export interface ServiceView {
  name: string;
  installedEditions: string[];
  /** null: no edition active yet. */
  activeEdition: string | null;
  health: ServiceHealthView['state'];
  activeConnections: number;
  port: number;
  /** 0: no beside port configured. */
  besidePort: number;
  /** '' : no second instance running. */
  besideEdition: string;
  healthPath: string;
  healthPort: number;
}

export function toWireInventory(v: ServiceView): ServiceInventory {
  return { ...v, activeEdition: v.activeEdition ?? '', health: HEALTH[v.health] };
}

const LEVEL: Record<ShipLevel, LogLine['level']> = {
  debug: 'LOG_LEVEL_DEBUG',
  info: 'LOG_LEVEL_INFO',
  warn: 'LOG_LEVEL_WARN',
  error: 'LOG_LEVEL_ERROR',
};

export function toWireLogLines(lines: readonly ShippedLine[]): LogLine[] {
  return lines.map((l) => ({ ...l, level: LEVEL[l.level] }));
}

/** A piece of an edition streamed by the coordinator (FetchArtifact). */
export interface ArtifactPiece {
  data: Buffer;
  offset: number;
  totalSize: number;
  /** The coordinator's label for the artifact; '' when unlabelled. */
  sha256: string;
}

export async function* fromWireArtifactChunks(
  chunks: AsyncIterable<ArtifactChunk__Output>,
): AsyncIterable<ArtifactPiece> {
  for await (const c of chunks)
    yield { data: c.data, offset: Number(c.offset), totalSize: Number(c.totalSize), sha256: c.sha256 };
}
