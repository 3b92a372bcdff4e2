// Made once per integration run, before its first file, and shared by every fleet of the run
// (docs/adr/0048): a stopped embedded PostgreSQL cluster that each coordinator copies instead of
// running initdb, and the coordinator and agent bundles (`npm run build`'s) that fleets run instead
// of compiling the sources under tsx in every process. A variable already set is kept; set empty,
// that part is off (e.g. ROLLGATE_TEST_AGENT_BUNDLE= runs the agents under tsx).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedTemplate } from '@rollgate/db';
import { buildAll, type Target } from './tools/build/build.mjs';

export default async function setup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-int-run-'));
  // As root the embedded PostgreSQL runs as the postgres user, which must reach the template.
  await chmod(dir, 0o755);
  const env = process.env;
  const template = join(dir, 'pg-template');
  const targets: Target[] = [];
  if (env.ROLLGATE_TEST_COORDINATOR_BUNDLE === undefined) targets.push('coordinator');
  if (env.ROLLGATE_TEST_AGENT_BUNDLE === undefined) targets.push('agent');
  await Promise.all([
    env.ROLLGATE_TEST_PG_TEMPLATE === undefined &&
      createEmbeddedTemplate(template).then(() => (env.ROLLGATE_TEST_PG_TEMPLATE = template)),
    targets.length > 0 &&
      buildAll({ outDir: dir, targets }).then((built) => {
        if (built.coordinator) env.ROLLGATE_TEST_COORDINATOR_BUNDLE = built.coordinator.bundle;
        if (built.agent) env.ROLLGATE_TEST_AGENT_BUNDLE = built.agent.bundle;
      }),
  ]);
  return () => rm(dir, { recursive: true, force: true });
}
