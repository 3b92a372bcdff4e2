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
  }
}

/** Splits an id made by actionId(); null when it is not one (run ids never contain a dot). */
export function parseActionId(
  id: string,
): { runId: string; stepIndex: number; serverId: string; attempt: number } | null {
  const m = /^([^.]+)\.s(\d+)\.(.+)\.a(\d+)$/.exec(id);
  if (!m) return null;
  return { runId: m[1]!, stepIndex: Number(m[2]), serverId: m[3]!, attempt: Number(m[4]) };
}
