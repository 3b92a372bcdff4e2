// `rollgate edition install|activate|rollout|backout|status`: the edition manager's scripting verbs
// with the seed's rolloutEdition parameters. Each starts a run and can follow it with --wait.
import type { RunView } from '../api-types';
import type { CommandContext, JsonFlag } from '../context';
import { renderRunView } from '../format';
import { watchRun } from './status';

export interface EditionVerbFlags extends JsonFlag {
  app: string;
  cluster: string;
  edition?: string;
  /** grouped (default) or atomic. */
  strategy?: 'grouped' | 'atomic';
  /** soft (default) or hard. */
  reset?: 'soft' | 'hard';
  /** Servers per group (grouped); default 1. */
  groupSize?: number;
  /** Seconds; default the cluster's, else 30. */
  drainageInterval?: number;
  /** Simple activation only: go ahead although it stops every server. */
  acceptDowntime?: boolean;
  /** Follow the run until it ends. */
  wait?: boolean;
  /** Validation: servers that run the edition beside their current instance; default 1. */
  cloneSize?: number;
}

const rolloutParams = (f: EditionVerbFlags) => ({
  ...(f.strategy ? { strategy: f.strategy } : {}),
  ...(f.reset ? { reset: f.reset } : {}),
  ...(f.groupSize !== undefined ? { groupSize: f.groupSize } : {}),
  ...(f.drainageInterval !== undefined ? { drainageIntervalSec: f.drainageInterval } : {}),
});

async function started(
  ctx: CommandContext,
  view: RunView,
  flags: EditionVerbFlags,
  what: string,
): Promise<number> {
  if (flags.json && !flags.wait) ctx.out.json(view);
  if (!flags.json) {
    ctx.out.print(`${what}: run ${view.run.id} (${view.progress.total} steps).`);
    if (view.run.plan.rollout?.fastPath) {
      ctx.out.print(
        `Fast path: edition ${view.run.plan.toEdition.name} is still installed on every server; nothing is downloaded.`,
      );
    }
    if (!flags.wait) ctx.out.print(renderRunView(view, ctx.now(), { color: ctx.out.color }));
  }
  return flags.wait ? watchRun(ctx, view.run.id, { json: flags.json }) : 0;
}

export async function editionInstallCommand(ctx: CommandContext, flags: EditionVerbFlags): Promise<number> {
  const view = await ctx.client.editions.install.mutate({
    app: flags.app,
    cluster: flags.cluster,
    edition: flags.edition!,
  });
  return started(
    ctx,
    view,
    flags,
    `Distributing ${flags.app} ${flags.edition} to cluster ${flags.cluster} (not activated)`,
  );
}

export async function editionActivateCommand(ctx: CommandContext, flags: EditionVerbFlags): Promise<number> {
  const view = await ctx.client.editions.activate.mutate({
    app: flags.app,
    cluster: flags.cluster,
    edition: flags.edition!,
    acceptDowntime: flags.acceptDowntime === true,
    ...(flags.drainageInterval !== undefined ? { drainageIntervalSec: flags.drainageInterval } : {}),
  });
  return started(
    ctx,
    view,
    flags,
    `Simple activation of ${flags.edition} on cluster ${flags.cluster} (WITH DOWNTIME)`,
  );
}

export async function editionRolloutCommand(ctx: CommandContext, flags: EditionVerbFlags): Promise<number> {
  const view = await ctx.client.editions.rollout.mutate({
    app: flags.app,
    cluster: flags.cluster,
    edition: flags.edition!,
    ...rolloutParams(flags),
  });
  const ro = view.run.plan.rollout;
  return started(
    ctx,
    view,
    flags,
    `Rolling out ${flags.edition} on cluster ${flags.cluster} (${ro?.strategy}${ro?.strategy === 'grouped' ? `, groups of ${ro.groupSize}` : ''}, ${ro?.reset} reset, drainage ${ro?.drainageIntervalSec} s)`,
  );
}

export async function editionValidateCommand(ctx: CommandContext, flags: EditionVerbFlags): Promise<number> {
  const view = await ctx.client.editions.validate.mutate({
    app: flags.app,
    cluster: flags.cluster,
    edition: flags.edition!,
    ...(flags.cloneSize !== undefined ? { cloneSize: flags.cloneSize } : {}),
  });
  const clone = view.run.plan.groups[0]?.servers.map((s) => s.id).join(', ') ?? '';
  const code = await started(
    ctx,
    view,
    flags,
    `Validating ${flags.edition} on a clone of cluster ${flags.cluster} (beside ${clone})`,
  );
  if (!flags.json && code === 0) {
    ctx.out.print(
      `Send pilot requests to it: rollgate lb routes set --cluster ${flags.cluster} --rule header:x-pilot:yes=${flags.edition}; move everyone with: rollgate edition rollout --app ${flags.app} --cluster ${flags.cluster} --edition ${flags.edition}`,
    );
  }
  return code;
}

export async function editionDeactivateCommand(
  ctx: CommandContext,
  flags: EditionVerbFlags,
): Promise<number> {
  const view = await ctx.client.editions.deactivate.mutate({
    app: flags.app,
    cluster: flags.cluster,
    edition: flags.edition!,
  });
  return started(
    ctx,
    view,
    flags,
    `Deactivating ${flags.edition} on cluster ${flags.cluster} (its validation clone stops)`,
  );
}

export async function editionBackoutCommand(ctx: CommandContext, flags: EditionVerbFlags): Promise<number> {
  const view = await ctx.client.editions.backout.mutate({
    app: flags.app,
    cluster: flags.cluster,
    ...(flags.edition ? { edition: flags.edition } : {}),
    ...rolloutParams(flags),
  });
  return started(
    ctx,
    view,
    flags,
    `Backing out cluster ${flags.cluster} to edition ${view.run.plan.toEdition.name}`,
  );
}

export async function editionStatusCommand(ctx: CommandContext, flags: EditionVerbFlags): Promise<number> {
  const rows = await ctx.client.editions.status.query({
    app: flags.app,
    ...(flags.cluster ? { cluster: flags.cluster } : {}),
  });
  if (flags.json) {
    ctx.out.json(rows);
    return 0;
  }
  // The seed's edition metadata: name, base or not, and the state per deployment target.
  ctx.out.print(
    `${'EDITION'.padEnd(14)} ${'BASE'.padEnd(5)} ${'TARGET'.padEnd(16)} ${'STATE'.padEnd(10)} ACTIVE/INSTALLED`,
  );
  for (const r of rows) {
    const targets =
      r.targets.length > 0
        ? r.targets
        : [{ cluster: '—', state: 'INACTIVE', activeOn: 0, installedOn: 0, servers: 0 }];
    for (const t of targets) {
      ctx.out.print(
        `${r.edition.padEnd(14)} ${(r.base ? 'yes' : '').padEnd(5)} ${t.cluster.padEnd(16)} ${t.state.padEnd(10)} ${t.activeOn}/${t.installedOn} of ${t.servers}`,
      );
    }
  }
  return 0;
}
