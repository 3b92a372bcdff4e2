// A coordinator's data directory seeded from the run's PostgreSQL cluster template (made once per
// integration run by vitest.int.setup.ts, docs/adr/0048), so a test's createDb adopts a copy
// instead of running initdb: seconds of a busy machine's time per database.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * Copies the cluster template as a coordinator's data directory before its first start; `cp -a`
 * because, as root, the cluster's files belong to the postgres user and must stay so. As root the
 * copy must also be where that user can reach it, else the coordinator would not use it (it keeps
 * such a cluster under @rollgate/db's fallback root): a directory made by mkdtemp (0700) inside
 * the system temp directory is given o+x (traverse, not list); a directory elsewhere that the
 * postgres user cannot traverse gets no copy. True when copied; false without a template
 * (undefined or ''), for a directory that holds a cluster already, or one the postgres user cannot
 * reach: createDb then runs initdb as it would without one.
 */
export async function seedFromTemplate(template: string | undefined, dataDir: string): Promise<boolean> {
  if (!template) return false;
  if (await exists(join(dataDir, 'pg-state.json'))) return false;
  if (process.getuid?.() === 0 && !(await traversableByOthers(dirname(resolve(dataDir))))) return false;
  await mkdir(dataDir, { recursive: true });
  const cp = spawn('cp', ['-a', `${template}/.`, dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  cp.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = (await once(cp, 'exit')) as [number | null];
  if (code !== 0) {
    throw new Error(`could not copy the PostgreSQL template ${template} to ${dataDir}: ${err.trim()}`);
  }
  return true;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** Whether every directory from `dir` up to / lets others traverse it (granting it inside tmpdir). */
async function traversableByOthers(dir: string): Promise<boolean> {
  const tmp = resolve(tmpdir());
  for (let d = resolve(dir); ; d = dirname(d)) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) {
      if (!d.startsWith(`${tmp}/`) || st.uid !== process.getuid?.()) return false;
      await chmod(d, (st.mode & 0o7777) | 0o001);
    }
    if (d === dirname(d)) return true;
  }
}
