import type { RunView } from '../api-types';
import type { CommandContext } from '../context';
import { renderRunView } from '../format';

/** A run command's answer: the run view as JSON with --json, else a headline and the rendered run. */
export function printRunView(
  ctx: CommandContext,
  view: RunView,
  json: boolean | undefined,
  headline: string,
): void {
  if (json) {
    ctx.out.json(view);
    return;
  }
  ctx.out.print(headline);
  ctx.out.print(renderRunView(view, ctx.now(), { color: ctx.out.color }));
}
