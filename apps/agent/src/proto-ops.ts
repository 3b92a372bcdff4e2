// Maps wire ActionOps (proto-loader output: camelCase fields, enums as strings, oneof name in
// `op`) onto domain ActionOps and validates them with the domain's actionOpSchema. Anything the
// schema refuses becomes a readable reason, never an exception that could crash the agent.
import { actionOpSchema, type ActionOp } from '@rollgate/domain';
import type { ActionOp__Output } from '@rollgate/protocol';

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
