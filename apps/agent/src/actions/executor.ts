// Runs RunActions exactly once. The journal is consulted and written BEFORE anything happens:
//   finished in the journal → reply the recorded result, run nothing;
//   started, not finished   → it is running (or queued) now: reply RUNNING;
//   unknown                 → journal "started" (fsync), reply ACCEPTED, run the ops in order
//                             (RUNNING as the first starts; each op's start and end are log lines).
// Actions run one at a time, in arrival order: two actions interleaving stop/start on the same
// service would leave it in an unknown state.
import { describeOp, editionUrlForLogs, MSG, type ActionOp, type ActionResult } from '@rollgate/domain';
import type { Logger } from '@rollgate/logger';
import { errorMessage, type SyncLater } from '../lib/fs-util';
import type { FinalStatus, FinishedRecord, Journal } from './journal';
import type { ShipLevel } from '../coordinator/log-shipper';
import { OpError, type OpRunner } from './op-result';
import type { MappedOps } from '../coordinator/wire';

/** Thrown (as an AbortSignal reason) when the coordinator or a shutdown cancels an action. */
export class ActionCancelled extends Error {
  override name = 'ActionCancelled';
}

export type ActionStatusName = 'ACCEPTED' | 'RUNNING' | FinalStatus;

/** What the executor reports about an action (wire.ts maps it onto ActionUpdate). */
export interface ActionReport {
  actionId: string;
  status: ActionStatusName;
  reason: string;
  atMs: number;
  opIndex: number;
  /**
   * Terminal reports only: every result the action's ops produced, in op order (empty: none).
   * Absent on ACCEPTED and RUNNING.
   */
  results?: ActionResult[];
}

/** A RunAction as the executor takes it: its ids and its ops, mapped and validated at the edge. */
export interface ActionRequest {
  actionId: string;
  runId: string;
  stepIndex: number;
  attempt: number;
  ops: MappedOps;
}

export function toUpdate(
  actionId: string,
  status: ActionStatusName,
  reason: string,
  atMs: number,
  opIndex: number,
): ActionReport {
  return { actionId, status, reason, atMs, opIndex };
}

/** The journal keeps one result as itself and several as a list; a report lists them all. */
function asList(r: ActionResult | ActionResult[] | undefined): ActionResult[] {
  if (r === undefined) return [];
  return Array.isArray(r) ? r : [r];
}

/** A terminal report from the journal: the same reason and results every time it is sent. */
export function finishedToUpdate(f: FinishedRecord): ActionReport {
  return { ...toUpdate(f.id, f.status, f.reason, f.at, f.opIndex), results: asList(f.result) };
}

/** One result is journaled as itself; several (ops of one action) as a list in op order. */
function combine(results: ActionResult[]): ActionResult | ActionResult[] | undefined {
  if (results.length === 0) return undefined;
  return results.length === 1 ? results[0] : results;
}

export interface ExecutorOptions {
  journal: Journal;
  runOp: OpRunner;
  /** Delivers an update to the coordinator (the caller queues it while disconnected). */
  sendUpdate: (u: ActionReport) => void;
  /** A progress line for the log shipper. */
  ship: (level: ShipLevel, code: string, message: string, actionId: string) => void;
  log: Logger;
  /** Clock; default Date.now. */
  now?: () => number;
}

interface Running {
  id: string;
  ops: ActionOp[];
  opIndex: number;
  /** The last op index whose start is in the journal (-1: none yet). */
  journaled: number;
  controller: AbortController;
}

export interface Executor {
  /** Handles one RunAction; never throws (a bad action becomes a FAILED update). */
  handleRunAction(msg: ActionRequest): Promise<void>;
  /** Cancels a queued action, or the running one at its next op boundary (killing a running child). */
  cancel(actionId: string, reason: string): void;
  /** Ids started and not finished: the running one first, then the queued ones. */
  activeIds(): string[];
  current(): { actionId: string; opIndex: number; op: string } | undefined;
  /** Cancels everything (agent shutdown) and resolves when the journal has the results. */
  shutdown(reason: string, graceMs?: number): Promise<void>;
}

/**
 * The fsyncs an action's ops handed over (docs/adr/0050): `settle` waits for all of them and
 * says why the first one failed, if one did.
 */
function deferredSyncs(): { later: SyncLater; settle: () => Promise<string | undefined> } {
  const pending: Promise<void>[] = [];
  let failure: string | undefined;
  return {
    later: (sync) => {
      // Caught at once: a rejection must not wait for settle() to be handled.
      pending.push(sync.catch((err: unknown) => void (failure ??= errorMessage(err))));
    },
    settle: async () => {
      await Promise.all(pending);
      return failure;
    },
  };
}

export function createExecutor(opts: ExecutorOptions): Executor {
  const now = opts.now ?? Date.now;
  const { journal, log } = opts;
  const queued = new Map<string, { ops: ActionOp[]; cancelled?: string }>();
  let running: Running | undefined;
  let chain: Promise<void> = Promise.resolve();

  async function finish(
    id: string,
    status: FinalStatus,
    reason: string,
    opIndex: number,
    results: ActionResult[] = [],
  ): Promise<void> {
    let rec: FinishedRecord;
    const result = combine(results);
    try {
      rec = await journal.appendFinished(id, status, reason, opIndex, result);
    } catch (err) {
      // The result cannot be made durable; still tell the coordinator what happened.
      log.error({ actionId: id, err: errorMessage(err) }, 'could not journal the action result');
      opts.sendUpdate({ ...toUpdate(id, status, reason, now(), opIndex), results });
      return;
    }
    log.info({ actionId: id, status, reason, opIndex }, 'action finished');
    opts.sendUpdate(finishedToUpdate(rec));
  }

  async function run(id: string, ops: ActionOp[]): Promise<void> {
    const q = queued.get(id);
    queued.delete(id);
    if (q?.cancelled !== undefined) {
      await finish(id, 'CANCELLED', `cancelled before it ran: ${q.cancelled}`, 0);
      return;
    }
    const controller = new AbortController();
    running = { id, ops, opIndex: 0, journaled: -1, controller };
    const ship = (level: ShipLevel, code: string, message: string) => opts.ship(level, code, message, id);
    const results: ActionResult[] = [];
    const syncs = deferredSyncs();
    // The result is journaled (and sent) only once what the ops changed is durable.
    const end = async (status: FinalStatus, reason: string, opIndex: number) => {
      const failure = await syncs.settle();
      if (failure !== undefined && status === 'SUCCEEDED') {
        status = 'FAILED';
        reason = `the agent could not make the action's changes durable: ${failure}; check the agent's disk`;
      }
      await finish(id, status, reason, opIndex, results);
    };
    // The seed's "processing server" line: this server starts its part of the step.
    ship(
      'info',
      MSG.processingServer.code,
      `${MSG.processingServer.text}: ${ops.map((op) => op.op).join(', ')}`,
    );
    try {
      for (const [i, op] of ops.entries()) {
        const label = `op ${i + 1}/${ops.length}: ${describeOp(op)}`;
        if (controller.signal.aborted) {
          await end('CANCELLED', `${cancelReason(controller.signal)} (before ${label})`, i);
          return;
        }
        running.opIndex = i;
        await journal.appendOp(id, i);
        running.journaled = i;
        // RUNNING once, as the action starts: the coordinator stores nothing of a later op's index
        // (each op's start and end are log lines), and every update costs it a read while the
        // server is out of rotation (docs/adr/0056). A repeated RunAction still hears the current op.
        if (i === 0) opts.sendUpdate(toUpdate(id, 'RUNNING', '', now(), i));
        ship('info', MSG.opStarted.code, `${MSG.opStarted.text}: ${label}`);
        const started = performance.now();
        try {
          const outcome = await opts.runOp(op, {
            actionId: id,
            signal: controller.signal,
            log: ship,
            syncLater: syncs.later,
          });
          const summary = typeof outcome === 'string' ? outcome : outcome.summary;
          if (typeof outcome !== 'string' && outcome.result) results.push(outcome.result);
          ship(
            'info',
            MSG.opSucceeded.code,
            `${MSG.opSucceeded.text}: ${label} — ${summary} (${Math.round(performance.now() - started)} ms)`,
          );
        } catch (err) {
          if (err instanceof OpError && err.result) results.push(err.result);
          if (controller.signal.aborted) {
            const reason = `${cancelReason(controller.signal)} (during ${label})`;
            ship('warn', MSG.opFailed.code, `op cancelled: ${label}`);
            await end('CANCELLED', reason, i);
            return;
          }
          const reason = `${errorMessage(err)} (${label})`;
          ship('error', MSG.opFailed.code, `${MSG.opFailed.text}: ${reason}`);
          await end('FAILED', reason, i);
          return;
        }
      }
      await end('SUCCEEDED', '', ops.length - 1);
    } catch (err) {
      // Only journal I/O can land here (op errors are handled above).
      log.error({ actionId: id, err: errorMessage(err) }, 'action aborted by an agent error');
      await end(
        'FAILED',
        `agent error while running the action: ${errorMessage(err)}; check the agent's disk and log`,
        running?.opIndex ?? 0,
      );
    } finally {
      running = undefined;
    }
  }

  function cancelReason(signal: AbortSignal): string {
    return signal.reason instanceof ActionCancelled ? signal.reason.message : 'cancelled';
  }

  const executor: Executor = {
    async handleRunAction(msg) {
      const id = msg.actionId;
      if (!id) {
        log.warn({ runId: msg.runId }, 'RunAction without action_id ignored');
        opts.sendUpdate(
          toUpdate(
            '',
            'FAILED',
            'RunAction has no action_id; the agent cannot run it exactly once',
            now(),
            0,
          ),
        );
        return;
      }
      const known = journal.get(id);
      if (known?.finished) {
        log.info(
          { actionId: id, status: known.finished.status },
          'action already finished; answering from the journal',
        );
        opts.sendUpdate(finishedToUpdate(known.finished));
        return;
      }
      if (known) {
        const opIndex = running?.id === id ? running.opIndex : 0;
        opts.sendUpdate(toUpdate(id, queued.has(id) ? 'ACCEPTED' : 'RUNNING', '', now(), opIndex));
        return;
      }
      const mapped = msg.ops;
      try {
        if (!mapped.ok) {
          log.warn({ actionId: id, reason: mapped.reason }, 'action refused: invalid ops');
          await journal.appendStarted(id, [], true);
          opts.ship('error', MSG.opFailed.code, `action refused: ${mapped.reason}`, id);
          await finish(id, 'FAILED', mapped.reason, mapped.index);
          return;
        }
        // An edition's URL may carry a signature: the journal keeps its origin and path only
        // (docs/adr/0039); it is only read back to report an interrupted action, never re-run.
        await journal.appendStarted(
          id,
          mapped.ops.map((op) =>
            op.op === 'install' && op.url ? { ...op, url: editionUrlForLogs(op.url) } : op,
          ),
        );
      } catch (err) {
        log.error({ actionId: id, err: errorMessage(err) }, 'could not journal the action; not running it');
        opts.sendUpdate(
          toUpdate(
            id,
            'FAILED',
            `the agent could not write its journal (${errorMessage(err)}); nothing was run — check the agent's disk, then retry`,
            now(),
            0,
          ),
        );
        return;
      }
      log.info(
        {
          actionId: id,
          runId: msg.runId,
          stepIndex: msg.stepIndex,
          attempt: msg.attempt,
          ops: mapped.ops.length,
        },
        'action accepted',
      );
      opts.sendUpdate(toUpdate(id, 'ACCEPTED', '', now(), 0));
      queued.set(id, { ops: mapped.ops });
      chain = chain
        .then(() => run(id, mapped.ops))
        .catch((err: unknown) => log.error({ actionId: id, err: errorMessage(err) }, 'action runner failed'));
    },

    cancel(actionId, reason) {
      const text = reason ? `cancelled: ${reason}` : 'cancelled by the coordinator';
      const q = queued.get(actionId);
      if (q) {
        q.cancelled = text;
        log.info({ actionId, reason }, 'queued action cancelled');
        return;
      }
      if (running?.id === actionId) {
        log.info({ actionId, reason, opIndex: running.opIndex }, 'cancelling running action');
        running.controller.abort(new ActionCancelled(text));
        return;
      }
      log.debug({ actionId }, 'cancel for an action that is not running; ignored');
    },

    activeIds() {
      return [...(running ? [running.id] : []), ...queued.keys()];
    },

    current() {
      if (!running) return undefined;
      // An op is reported once journaled: what /status says runs is what a restart would name.
      const op = running.journaled === running.opIndex ? running.ops[running.opIndex] : undefined;
      return { actionId: running.id, opIndex: running.opIndex, op: op ? describeOp(op) : '' };
    },

    async shutdown(reason, graceMs = 10_000) {
      for (const id of queued.keys()) executor.cancel(id, reason);
      if (running) executor.cancel(running.id, reason);
      const done = chain;
      await Promise.race([done, new Promise((r) => setTimeout(r, graceMs).unref())]);
    },
  };
  return executor;
}
