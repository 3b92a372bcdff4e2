import type { ActionResult, GateRecord, PlanStep } from '@rollgate/domain';
import type { ActionRecord, Clock, RunRecord } from './ports';
import type { Emit } from './run-log';
import { withGate } from './run-records';

/** A one-line summary of what a step's actions produced, for the run's log. */
export function evidenceLine(results: (ActionResult | null)[]): string | null {
  const parts: string[] = [];
  for (const r of results) {
    if (!r) continue;
    if (r.kind === 'functionalTest') {
      const ms = r.probes.reduce((t, p) => t + p.ms, 0);
      parts.push(`${r.passed}/${r.passed + r.failed} probes passed via ${r.baseUrl} in ${ms} ms`);
    } else if (r.kind === 'backupFiles') {
      parts.push(`${r.archive} (${r.bytes} bytes, sha256 ${r.sha256.slice(0, 12)}…)`);
    } else if (r.kind === 'dbBackup') {
      parts.push(
        `${r.file} (${r.bytes} bytes, ${Object.keys(r.tables).length} tables, ${r.verified ? `verified by a test restore in ${r.verifyMs} ms` : 'not verified'})`,
      );
    } else if (r.kind === 'dbRestore') {
      parts.push(`restored from ${r.file} (${Object.keys(r.tables).length} tables)`);
    } else if (r.kind === 'command') {
      parts.push(`${r.command} exited ${r.exitCode} after ${r.ms} ms`);
    }
  }
  return parts.length > 0 ? parts.join('; ') : null;
}

export interface EvidenceContext {
  clock: Clock;
  emit: Emit;
}

/** What a step that succeeded proved: the run's patch (its readiness gate met) and its log lines. */
export interface StepEvidence {
  /** Written with the step's completion (one transaction, docs/adr/0050). */
  runPatch: Pick<Partial<RunRecord>, 'readiness'>;
  /** Logs the evidence; called once the completion is committed. */
  announce: () => void;
}

export type EvidenceOf = (run: RunRecord, planStep: PlanStep, actions: ActionRecord[]) => StepEvidence;

export function createEvidenceOf({ clock, emit }: EvidenceContext): EvidenceOf {
  return function evidenceOf(run, planStep, actions) {
    const line = evidenceLine(actions.flatMap((a) => a.results));
    const record: GateRecord | null = planStep.gate
      ? {
          gate: planStep.gate,
          required: run.readiness.find((g) => g.gate === planStep.gate)?.required ?? true,
          status: 'met',
          evidence: {
            step: planStep.key,
            actions: actions.map((a) => ({
              id: a.id,
              server: a.serverId,
              status: a.status,
              results: a.results,
            })),
          },
          by: 'rollgate',
          at: clock.now(),
        }
      : null;
    return {
      runPatch: record ? { readiness: withGate(run, record) } : {},
      announce() {
        const at = { stepIndex: planStep.index };
        if (planStep.kind === 'test') {
          emit(run.id, 'testsPassed', `${planStep.title}${line ? `: ${line}` : ''}`, at);
        } else if (line && (planStep.kind === 'prepare' || planStep.kind === 'db-restore')) {
          emit(run.id, 'backupRecorded', `${planStep.title}: ${line}`, at);
        }
        if (record) emit(run.id, 'gateMet', `${record.gate}${line ? `: ${line}` : ''}`, at);
      },
    };
  };
}
