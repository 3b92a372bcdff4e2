import { z } from 'zod';
import type { ActionOpKind, ActionResult } from './ops';

/**
 * What an agent may report as an action's result (ActionUpdate.result_json), one schema per op
 * kind that produces one (docs/adr/0018). An agent is trusted with its own server only: a result
 * is evidence the operator and the engine read (a "verified" backup before a migration), so every
 * field is typed and every string, list and map is bounded — a result cannot grow the database or
 * an operator's screen without limit.
 */

/** result_json longer than this is refused before it is parsed. */
export const MAX_RESULT_JSON_CHARS = 256 * 1024;
/** An action with several result-producing ops reports a list, in op order; at most this many. */
export const MAX_RESULTS_PER_ACTION = 32;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ms = z
  .number()
  .min(0)
  .max(7 * 86_400_000);
const path = z.string().min(1).max(4096);
const sha256 = z.string().regex(/^[a-f0-9]{64}$/, 'sha256 must be 64 lowercase hex characters');
/** Table name → row count: at most 4096 tables, names as long as PostgreSQL's qualified ones. */
const tables = z
  .record(z.string().min(1).max(256), count)
  .refine((t) => Object.keys(t).length <= 4096, 'at most 4096 tables');

export const functionalTestResultSchema = z.strictObject({
  kind: z.literal('functionalTest'),
  baseUrl: z.string().max(2048),
  probes: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(128),
        kind: z.enum(['http', 'login', 'navigate', 'launch', 'version']),
        ok: z.boolean(),
        ms,
        detail: z.string().max(8192),
      }),
    )
    .max(200),
  passed: z.number().int().min(0).max(200),
  failed: z.number().int().min(0).max(200),
});

export const backupFilesResultSchema = z.strictObject({
  kind: z.literal('backupFiles'),
  archive: path,
  bytes: count,
  sha256,
  entries: count,
  directories: z.array(path).max(256),
});

export const dbBackupResultSchema = z.strictObject({
  kind: z.literal('dbBackup'),
  file: path,
  bytes: count,
  sha256,
  tables,
  verified: z.boolean(),
  verifyMs: ms,
});

export const dbRestoreResultSchema = z.strictObject({
  kind: z.literal('dbRestore'),
  file: path,
  tables,
});

export const commandResultSchema = z.strictObject({
  kind: z.literal('command'),
  command: z.string().min(1).max(64),
  exitCode: z.number().int().min(-1024).max(1024),
  /** The agent keeps the last 4 KiB; characters, so a multi-byte tail still fits. */
  outputTail: z.string().max(8192),
  ms,
});

export const actionResultSchema = z.discriminatedUnion('kind', [
  functionalTestResultSchema,
  backupFilesResultSchema,
  dbBackupResultSchema,
  dbRestoreResultSchema,
  commandResultSchema,
]);

/** The op kinds that produce a result, each with the one result kind it may produce. */
export const RESULT_KIND_OF_OP: Partial<Record<ActionOpKind, ActionResult['kind']>> = {
  functionalTest: 'functionalTest',
  backupFiles: 'backupFiles',
  dbBackup: 'dbBackup',
  dbRestore: 'dbRestore',
  command: 'command',
};

// The schemas and the domain's result types describe the same objects: a drift fails the build.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const sameResults: Same<z.output<typeof actionResultSchema>, ActionResult> = true;
void sameResults;

export type ParsedActionResult = { ok: true; results: ActionResult[] } | { ok: false; why: string };

/**
 * ActionUpdate.result_json → every result the action's ops produced, in op order (an agent sends
 * one as itself and several as a list), or why it is refused. Every element is validated.
 */
export function parseActionResultJson(json: string): ParsedActionResult {
  if (json.length > MAX_RESULT_JSON_CHARS) {
    return { ok: false, why: `the result is ${json.length} characters, over ${MAX_RESULT_JSON_CHARS}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { ok: false, why: 'the result is not JSON' };
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0 || list.length > MAX_RESULTS_PER_ACTION) {
    return { ok: false, why: `a result list holds 1 to ${MAX_RESULTS_PER_ACTION} results` };
  }
  const results: ActionResult[] = [];
  for (const [i, item] of list.entries()) {
    const r = actionResultSchema.safeParse(item);
    if (!r.success) {
      const where = list.length > 1 ? `result ${i + 1}: ` : '';
      const issues = r.error.issues
        .slice(0, 3)
        .map((x) => `${x.path.join('.') || '(result)'}: ${x.message}`)
        .join('; ');
      return { ok: false, why: `${where}${issues}` };
    }
    results.push(r.data);
  }
  return { ok: true, results };
}
