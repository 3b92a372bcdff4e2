// Demo hook `restore-snapshot`: a STAND-IN for reverting a hypervisor snapshot (the seed's rollback
// procedure 2). Puts back the copy snapshot.mjs made of this server's service directory: the
// directory is replaced as a whole (every installed edition and the `current` link return to what
// they were). Run it while the service is stopped. A real deployment would call its hypervisor's CLI.
//
// Usage: node restore-snapshot.mjs [name]   (default name: pre-upgrade)
// Env: DEMO_SNAPSHOT_DIR, DEMO_SNAPSHOT_SOURCE (the directory to restore), SERVER_NAME.
import { cp, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, basename } from 'node:path';

const name = process.argv[2] || 'pre-upgrade';
const missing = ['DEMO_SNAPSHOT_DIR', 'DEMO_SNAPSHOT_SOURCE', 'SERVER_NAME'].filter((k) => !process.env[k]);
if (missing.length > 0) {
  console.error(`restore-snapshot: ${missing.join(', ')} not set in the service environment`);
  process.exit(2);
}
const server = process.env.SERVER_NAME;
if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(server)) {
  console.error(
    `restore-snapshot: snapshot name ${JSON.stringify(name)} or SERVER_NAME ${JSON.stringify(server)} is not a safe name`,
  );
  process.exit(2);
}

try {
  const snap = join(resolve(process.env.DEMO_SNAPSHOT_DIR), server, name);
  const target = resolve(process.env.DEMO_SNAPSHOT_SOURCE);
  const st = await stat(snap).catch(() => null);
  if (!st?.isDirectory())
    throw new Error(
      `there is no snapshot "${name}" of ${server} (${snap}); take one with the snapshot command first`,
    );
  // Copy next to the target, then swap: the target is never half restored.
  const incoming = join(dirname(target), `.${basename(target)}.restore-${process.pid}`);
  const outgoing = join(dirname(target), `.${basename(target)}.old-${process.pid}`);
  await rm(incoming, { recursive: true, force: true });
  await cp(snap, incoming, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  const had = await stat(target).then(
    () => true,
    () => false,
  );
  if (had) await rename(target, outgoing);
  await rename(incoming, target);
  if (had) await rm(outgoing, { recursive: true, force: true });
  console.log(
    `restore-snapshot: ${target} restored from snapshot "${name}" of ${server} [stand-in for a hypervisor snapshot]`,
  );
} catch (err) {
  console.error(`restore-snapshot: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
