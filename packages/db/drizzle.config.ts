import Module, { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineConfig } from 'drizzle-kit';

// drizzle-kit loads this file as CommonJS (esbuild-register), so `import.meta.url` is empty here;
// __dirname is what it provides. Paths are anchored to this file so `npm run db:generate` (repo
// root) and `npx drizzle-kit generate` (packages/db) write to the same place.
const here = typeof __dirname === 'string' ? __dirname : path.resolve('packages/db');

// npm installed drizzle-orm under packages/db/node_modules (not hoisted), where drizzle-kit at the
// repo root cannot see it: it then stops with "Please install latest version of drizzle-orm".
// Until the install hoists it, let drizzle-kit's requires and imports of drizzle-orm fall back to
// this package's copy (the same copy the schema uses, so its `is(table, PgTable)` checks match).
type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
const mod = Module as unknown as { _resolveFilename: ResolveFilename };
const original = mod._resolveFilename;
mod._resolveFilename = function (request, parent, isMain, options) {
  try {
    return original.call(this, request, parent, isMain, options);
  } catch (err) {
    if (request !== 'drizzle-orm' && !request.startsWith('drizzle-orm/')) throw err;
    return original.call(this, request, parent, isMain, { paths: [here] });
  }
};
register(pathToFileURL(path.join(here, 'scripts/drizzle-orm-resolve-hook.mjs')).href);

// drizzle-kit prefixes `./` to the paths it reads snapshots from, so they must be relative to the
// working directory, not absolute.
const fromCwd = (p: string) => path.relative(process.cwd(), path.join(here, p)) || '.';

export default defineConfig({
  dialect: 'postgresql',
  schema: fromCwd('src/schema.ts'),
  out: fromCwd('migrations'),
  strict: true,
  verbose: true,
});
