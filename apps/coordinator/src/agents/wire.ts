import type { ActionOp, ActionStatus } from '@rollgate/domain';
import type { ActionOp as WireOp, ActionStatus__Output, ServiceHealth__Output } from '@rollgate/protocol';
import type { ServerInventoryService } from '@rollgate/engine';

/** Maps a domain op onto the wire (rollgate.agent.v1.ActionOp); one arm per op. */
export function toWireOp(op: ActionOp): WireOp {
  switch (op.op) {
    case 'gate':
      return { gate: { state: op.state === 'open' ? 'GATE_STATE_OPEN' : 'GATE_STATE_CLOSED' } };
    case 'drain':
      return { drain: { service: op.service, maxWaitMs: op.maxWaitMs, minWaitMs: op.minWaitMs ?? 0 } };
    case 'stop':
      return { stop: { service: op.service, timeoutMs: op.timeoutMs } };
    case 'install':
      return {
        install: {
          service: op.service,
          edition: op.edition,
          sha256: op.sha256,
          size: op.size,
          ...(op.url ? { url: op.url } : {}),
        },
      };
    case 'activate':
      return { activate: { service: op.service, edition: op.edition } };
    case 'configure':
      return { configure: { service: op.service, edition: op.edition, env: op.env } };
    case 'start':
      return { start: { service: op.service } };
    case 'waitHealthy':
      return { waitHealthy: { service: op.service, timeoutMs: op.timeoutMs } };
    case 'probe':
      return {
        probe: {
          service: op.service,
          path: op.path,
          expectStatus: op.expectStatus,
          expectBodyContains: op.expectBodyContains,
          timeoutMs: op.timeoutMs,
        },
      };
    case 'command':
      return { command: { service: op.service, command: op.command, timeoutMs: op.timeoutMs } };
    case 'backupFiles':
      return { backupFiles: { service: op.service, label: op.label } };
    case 'dbBackup':
      return {
        dbBackup: { service: op.service, label: op.label, verify: op.verify, timeoutMs: op.timeoutMs },
      };
    case 'dbRestore':
      return { dbRestore: { service: op.service, label: op.label, timeoutMs: op.timeoutMs } };
    case 'functionalTest':
      return {
        functionalTest: {
          baseUrl: op.baseUrl,
          probesJson: JSON.stringify(op.probes),
          timeoutMs: op.timeoutMs,
        },
      };
    case 'uninstall':
      return { uninstall: { service: op.service } };
    case 'startBeside':
      return {
        startBeside: {
          service: op.service,
          edition: op.edition,
          timeoutMs: op.timeoutMs,
          env: { ...op.env },
        },
      };
    case 'stopBeside':
      return { stopBeside: { service: op.service, timeoutMs: op.timeoutMs } };
  }
}

/** Agent-reported status → engine status; null for values the engine does not act on. */
export function fromWireStatus(
  s: ActionStatus__Output,
): Exclude<ActionStatus, 'pending' | 'dispatched'> | null {
  switch (s) {
    case 'ACTION_STATUS_ACCEPTED':
      return 'accepted';
    case 'ACTION_STATUS_RUNNING':
      return 'running';
    case 'ACTION_STATUS_SUCCEEDED':
      return 'succeeded';
    case 'ACTION_STATUS_FAILED':
      return 'failed';
    case 'ACTION_STATUS_CANCELLED':
      return 'cancelled';
    default:
      return null;
  }
}

export function fromWireHealth(h: ServiceHealth__Output): ServerInventoryService['health'] {
  switch (h) {
    case 'SERVICE_HEALTH_HEALTHY':
      return 'healthy';
    case 'SERVICE_HEALTH_UNHEALTHY':
      return 'unhealthy';
    case 'SERVICE_HEALTH_STOPPED':
      return 'stopped';
    default:
      return 'unknown';
  }
}

export function fromWireLevel(l: string): 'debug' | 'info' | 'warn' | 'error' {
  switch (l) {
    case 'LOG_LEVEL_DEBUG':
      return 'debug';
    case 'LOG_LEVEL_WARN':
      return 'warn';
    case 'LOG_LEVEL_ERROR':
      return 'error';
    default:
      return 'info';
  }
}
