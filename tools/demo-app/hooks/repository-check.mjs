// Demo hook `repository-check`: the seed's pre-upgrade requirement "ensure the repository contains
// all the applications published" — every file a manifest lists must exist. Exit 0 when all are
// there; otherwise exit 1 naming each missing file.
//
// Usage: node repository-check.mjs [manifest]
// Env: DEMO_REPOSITORY_MANIFEST (the manifest, when not given as argument), DEMO_REPOSITORY_DIR
//      (what relative entries are relative to; default the manifest's directory).
// Manifest: one path per line; blank lines and lines starting with # are ignored.
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

const manifest = process.argv[2] || process.env.DEMO_REPOSITORY_MANIFEST;
if (!manifest) {
  console.error('repository-check: no manifest given (argument or DEMO_REPOSITORY_MANIFEST)');
  process.exit(2);
}
let text;
try {
  text = await readFile(manifest, 'utf8');
} catch (err) {
  console.error(
    `repository-check: cannot read the manifest ${manifest}: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(2);
}
const base = process.env.DEMO_REPOSITORY_DIR || dirname(resolve(manifest));
const entries = text
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const missing = [];
for (const entry of entries) {
  const file = isAbsolute(entry) ? entry : resolve(base, entry);
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) missing.push(entry);
}
if (missing.length > 0) {
  console.error(
    `repository-check: ${missing.length} of ${entries.length} published application files are missing from ${base}: ${missing.join(', ')}; put them back before upgrading`,
  );
  process.exit(1);
}
console.log(`repository-check: all ${entries.length} published application files are present in ${base}`);
