// The action journal: what makes "an agent never runs the same action id twice" true across lost
// connections and agent restarts.
//
// FORMAT — `<dataDir>/journal.jsonl`, append-only, one JSON object per line, never rewritten
// ("started" and "finished" lines are fsync'd as written; integration tests read the file to
// assert no id was started twice):
//
//   {"t":"started","id":"<actionId>","at":<ms epoch>,"ops":[<domain ActionOp>, ...]}
//       written (and fsync'd) BEFORE the agent replies ACCEPTED and before any op runs.
//       An action that failed validation is journaled too, with "ops": [] and "invalid": true.
//   {"t":"op","id":"<actionId>","index":<0-based op index>,"at":<ms>}
//       written as each op starts (not fsync'd by itself), so a restart can say which op was
//       interrupted.
//   {"t":"finished","id":"<actionId>","status":"SUCCEEDED"|"FAILED"|"CANCELLED","reason":"<text>",
//    "at":<ms>,"opIndex":<index of the op that failed / last op run>,"result":<ActionResult>?}
//       the final result; a RunAction with this id is answered from it and never run again.
//       "result" (optional) is what the action produced (ActionResult in @rollgate/domain, or a
//       list of them when several ops produced one); it travels as ActionUpdate.result_json, so a
//       resend after a reconnect carries the same evidence. It never holds a secret.
//
// Invariants: at most one "started" and at most one "finished" per id; "finished" follows
// "started". A "started" without "finished" found at open means the agent died mid-action: open()
// appends a "finished" FAILED ("agent restarted while this action was running ...; it was not
// re-run") instead of running it again. A torn last line (crash mid-write) is skipped with a warning.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describeOp, type ActionOp, type ActionResult } from '@rollgate/domain';

export type FinalStatus = 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface StartedRecord {
  t: 'started';
  id: string;
  at: number;
  ops: ActionOp[];
  invalid?: true;
}
export interface OpRecord {
  t: 'op';
  id: string;
  index: number;
  at: number;
}
export interface FinishedRecord {
  t: 'finished';
  id: string;
  status: FinalStatus;
  reason: string;
  at: number;
  opIndex: number;
  /** What the action produced (evidence), if anything; sent as ActionUpdate.result_json. */
  result?: ActionResult | ActionResult[];
}
export type JournalRecord = StartedRecord | OpRecord | FinishedRecord;

/** What the journal knows about one action id. */
export interface JournalEntry {
  started: StartedRecord;
  /** Index of the last op that started, if any. */
  lastOpIndex?: number;
  finished?: FinishedRecord;
}

export interface JournalOptions {
  /** File path, normally `<dataDir>/journal.jsonl`. */
  path: string;
  /** Clock; default Date.now. */
  now?: () => number;
  /** Told about torn lines and recovered actions; default: silent. */
  onWarning?: (msg: string, details: Record<string, unknown>) => void;
}

export interface Journal {
  get(id: string): JournalEntry | undefined;
  /** Durable (fsync'd) before it resolves. Throws if the id was already started. */
  appendStarted(id: string, ops: ActionOp[], invalid?: boolean): Promise<StartedRecord>;
  /** Written (not fsync'd) before it resolves: the next "finished" record makes it durable. */
  appendOp(id: string, index: number): Promise<void>;
  appendFinished(
    id: string,
    status: FinalStatus,
    reason: string,
    opIndex: number,
    result?: ActionResult | ActionResult[],
  ): Promise<FinishedRecord>;
  /** The newest `limit` finished results, newest last (for Hello.journaled). */
  recentFinished(limit?: number): FinishedRecord[];
  /** Results written at open() for actions a previous agent process left running. */
  readonly recovered: FinishedRecord[];
  close(): Promise<void>;
}

/** The reason recorded for an action a previous agent process was running when it died. */
export function interruptedReason(entry: JournalEntry): string {
  const i = entry.lastOpIndex;
  const op = i === undefined ? undefined : entry.started.ops[i];
  if (i === undefined || op === undefined) {
    return "agent restarted before this action's first op ran; it was not re-run";
  }
  return `agent restarted while this action was running (op ${i + 1} of ${entry.started.ops.length}: ${describeOp(op)}); it was not re-run`;
}

/** Opens (creating if needed) and replays the journal, settling actions a crash left unfinished. */
export async function openJournal(opts: JournalOptions): Promise<Journal> {
  const now = opts.now ?? Date.now;
  const warn = opts.onWarning ?? (() => {});
  await mkdir(dirname(opts.path), { recursive: true });

  const entries = new Map<string, JournalEntry>();
  const finishedOrder: FinishedRecord[] = [];
  let text = '';
  try {
    text = await readFile(opts.path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const lines = text.split('\n');
  lines.forEach((line, n) => {
    if (line.trim() === '') return;
    let rec: JournalRecord;
    try {
      rec = JSON.parse(line) as JournalRecord;
    } catch {
      warn('journal line is not valid JSON; skipped (a crash mid-write leaves at most one)', { line: n + 1 });
      return;
    }
    if (rec.t === 'started') entries.set(rec.id, { started: rec });
    else if (rec.t === 'op') {
      const e = entries.get(rec.id);
      if (e) e.lastOpIndex = rec.index;
    } else if (rec.t === 'finished') {
      const e = entries.get(rec.id);
      if (e) e.finished = rec;
      finishedOrder.push(rec);
    }
  });

  const fh: FileHandle = await open(opts.path, 'a');
  // A torn last line has no newline: start the next record on a fresh line so it stays parseable.
  // Awaited here: a disk that refuses it fails the open, not a later append (nor nobody).
  if (text.length > 0 && !text.endsWith('\n')) await fh.appendFile('\n');
  let chain: Promise<unknown> = Promise.resolve();

  function append(rec: JournalRecord, sync = true): Promise<void> {
    const next = chain.then(async () => {
      await fh.appendFile(`${JSON.stringify(rec)}\n`);
      if (sync) await fh.sync();
    });
    chain = next.catch(() => {});
    return next;
  }

  const journal: Journal = {
    get: (id) => entries.get(id),
    async appendStarted(id, ops, invalid) {
      if (entries.has(id)) throw new Error(`action ${id} is already in the journal; it must not start twice`);
      const rec: StartedRecord = invalid
        ? { t: 'started', id, at: now(), ops, invalid: true }
        : { t: 'started', id, at: now(), ops };
      entries.set(id, { started: rec });
      await append(rec);
      return rec;
    },
    async appendOp(id, index) {
      const e = entries.get(id);
      if (e) e.lastOpIndex = index;
      // Not fsync'd on its own (every op of every rollout waits on this): it only names the op a
      // restart interrupted, and the next "finished" record's fsync makes it durable too. After a
      // power loss the name may be an earlier op's; the action is FAILED and not re-run either way.
      await append({ t: 'op', id, index, at: now() }, false);
    },
    async appendFinished(id, status, reason, opIndex, result) {
      const e = entries.get(id);
      if (!e) throw new Error(`action ${id} finished without being started`);
      if (e.finished) return e.finished;
      const rec: FinishedRecord =
        result === undefined
          ? { t: 'finished', id, status, reason, at: now(), opIndex }
          : { t: 'finished', id, status, reason, at: now(), opIndex, result };
      e.finished = rec;
      finishedOrder.push(rec);
      await append(rec);
      return rec;
    },
    recentFinished(limit = 200) {
      return finishedOrder.slice(-limit);
    },
    recovered: [],
    async close() {
      await chain;
      await fh.close();
    },
  };

  for (const [id, e] of entries) {
    if (e.finished) continue;
    const reason = interruptedReason(e);
    warn('action was running when the agent stopped; marked FAILED, not re-run', { actionId: id, reason });
    journal.recovered.push(await journal.appendFinished(id, 'FAILED', reason, e.lastOpIndex ?? 0));
  }
  return journal;
}
