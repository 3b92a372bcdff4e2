// Made once per integration run, before its first file, and shared by every fleet of the run
// (docs/adr/0048): a stopped embedded PostgreSQL cluster that each coordinator copies instead of
// running initdb, and the agent bundle that agents run instead of compiling the sources under tsx.
// A variable already set is kept (empty: that part is off, e.g. ROLLGATE_TEST_AGENT_BUNDLE= to run
// agents under tsx).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedTemplate } from '@rollgate/db';
import { buildAgentBundle } from './tools/agent-bundle/build.mjs';

export default async function setup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-int-run-'));
  // As root the embedded PostgreSQL runs as the postgres user, which must reach the template.
  await chmod(dir, 0o755);
  const template = join(dir, 'pg-template');
  await Promise.all([
    process.env.ROLLGATE_TEST_PG_TEMPLATE === undefined
      ? createEmbeddedTemplate(template).then(() => (process.env.ROLLGATE_TEST_PG_TEMPLATE = template))
      : null,
    process.env.ROLLGATE_TEST_AGENT_BUNDLE === undefined
      ? buildAgentBundle({ outDir: join(dir, 'agent') }).then(
          (b) => (process.env.ROLLGATE_TEST_AGENT_BUNDLE = b.bundle),
        )
      : null,
  ]);
  return () => rm(dir, { recursive: true, force: true });
}
