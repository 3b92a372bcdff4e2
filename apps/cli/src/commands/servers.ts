import type { CommandContext, JsonFlag } from '../context';
import { renderServers } from '../format';

export interface ServersFlags extends JsonFlag {
  /** Only servers of this cluster. Default: all clusters. */
  cluster?: string;
}

export async function serversCommand(ctx: CommandContext, flags: ServersFlags): Promise<number> {
  const servers = await ctx.client.servers.list.query(flags.cluster ? { cluster: flags.cluster } : {});
  if (flags.json) ctx.out.json(servers);
  else ctx.out.print(renderServers(servers, ctx.now(), { color: ctx.out.color }));
  return 0;
}
