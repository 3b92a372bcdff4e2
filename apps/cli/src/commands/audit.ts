import type { CommandContext, JsonFlag } from '../context';
import { renderAudit } from '../format';

export async function auditCommand(ctx: CommandContext, flags: JsonFlag): Promise<number> {
  const events = await ctx.client.audit.list.query();
  if (flags.json) ctx.out.json(events);
  else ctx.out.print(renderAudit(events, { color: ctx.out.color }));
  return 0;
}
