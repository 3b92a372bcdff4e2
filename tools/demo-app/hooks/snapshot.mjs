// Demo hook `snapshot`: a STAND-IN for a hypervisor snapshot (the seed: "snapshots should be taken
// by the customer immediately prior to upgrade"). It copies this server's service directory — the
// agent's `<dataDir>/editions/<service>` with every installed edition and the `current` link — to
// `<DEMO_SNAPSHOT_DIR>/<SERVER_NAME>/<name>`, replacing an older snapshot of the same name.
// restore-snapshot.mjs puts it back. A real deployment would call its hypervisor's CLI here instead.
//
// Usage (the agent runs it as a service command): node snapshot.mjs [name]   (default name: pre-upgrade)
// Env: DEMO_SNAPSHOT_DIR (where snapshots go), DEMO_SNAPSHOT_SOURCE (the directory to snapshot),
//      SERVER_NAME (one snapshot directory per server). No dependencies beyond Node.
import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const name = process.argv[2] || 'pre-upgrade';
const snapshots = process.env.DEMO_SNAPSHOT_DIR;
const source = process.env.DEMO_SNAPSHOT_SOURCE;
const server = process.env.SERVER_NAME;
const missing = ['DEMO_SNAPSHOT_DIR', 'DEMO_SNAPSHOT_SOURCE', 'SERVER_NAME'].filter((k) => !process.env[k]);
if (missing.length > 0) {
  console.error(`snapshot: ${missing.join(', ')} not set in the service environment`);
  process.exit(2);
}
if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(server)) {
  console.error(
    `snapshot: snapshot name ${JSON.stringify(name)} or SERVER_NAME ${JSON.stringify(server)} is not a safe name`,
  );
  process.exit(2);
}

try {
  const from = resolve(source);
  if (!(await stat(from)).isDirectory()) throw new Error(`${from} is not a directory`);
  const parent = join(resolve(snapshots), server);
  const dest = join(parent, name);
  const tmp = `${dest}.tmp-${process.pid}`;
  await mkdir(parent, { recursive: true });
  await rm(tmp, { recursive: true, force: true });
  await cp(from, tmp, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  await rm(dest, { recursive: true, force: true });
  await rename(tmp, dest);
  console.log(
    `snapshot: ${from} saved as snapshot "${name}" of ${server} (${dest}) [stand-in for a hypervisor snapshot]`,
  );
} catch (err) {
  console.error(`snapshot: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
