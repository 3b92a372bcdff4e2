// The demo-app's database upgrade (the seed's "database upgrade command"), shipped in the archive
// of every schema-2 edition (2.0 and later) and run by the agent as the `db-upgrade` command, with
// the active edition's directory as the working directory.
//
// In ONE transaction: adds items.note, creates rollgate_demo_migrations and records this run there
// (one row per run, so a test can prove the command ran exactly once). Needs the 1.0 schema (run
// db-init first). Exit 0 on success; otherwise exit ≠ 0 with a message naming the cause.
//
// Settings from env, then rollgate.env.json in the working directory: DATABASE_URL (required),
// PG_BIN_DIR (directory of psql; default psql from PATH). Dependency-free: it spawns psql.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

const fileConfig = readJson(join(process.cwd(), 'rollgate.env.json')) ?? {};
const setting = (name) => process.env[name] || (fileConfig[name] ? String(fileConfig[name]) : undefined);
const edition = readJson(new URL('edition.json', import.meta.url))?.name ?? 'unknown';
const url = setting('DATABASE_URL');
const binDir = setting('PG_BIN_DIR');

if (!url) {
  console.error('demo-app migrate: DATABASE_URL is not set; configure the service database first');
  process.exit(2);
}

const sql = `
DO $$ BEGIN
  IF to_regclass('public.items') IS NULL THEN
    RAISE EXCEPTION 'table items does not exist: this database was never initialised (run the db-init command first)';
  END IF;
END $$;
ALTER TABLE items ADD COLUMN IF NOT EXISTS note text;
CREATE TABLE IF NOT EXISTS rollgate_demo_migrations (
  id serial PRIMARY KEY,
  edition text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rollgate_demo_migrations (edition) VALUES ('${edition.replace(/'/g, "''")}');
SELECT count(*) FROM rollgate_demo_migrations;
`;

const psql = binDir ? join(binDir, 'psql') : 'psql';
// --single-transaction + ON_ERROR_STOP: either every statement applies or none does.
const p = spawn(
  psql,
  ['-X', '-At', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-d', url, '-f', '-'],
  {
    env: { ...process.env, PGCONNECT_TIMEOUT: '10', PGAPPNAME: `demo-app migrate ${edition}` },
    stdio: ['pipe', 'pipe', 'pipe'],
  },
);
let out = '';
let err = '';
p.stdout.on('data', (c) => (out += c));
p.stderr.on('data', (c) => (err += c));
p.once('error', (e) => {
  console.error(
    `demo-app migrate: cannot run ${psql}: ${e.message} (install postgresql-client-15 or set PG_BIN_DIR)`,
  );
  process.exit(3);
});
p.once('close', (code) => {
  if (code === 0) {
    console.log(
      `demo-app migrate: schema upgraded for edition ${edition} (migration runs recorded: ${out.trim()})`,
    );
    process.exit(0);
  }
  const why = err.trim() || `psql exited with code ${code}`;
  const unreachable = code === 2 || /connection to server|could not connect|Connection refused/i.test(why);
  console.error(
    unreachable
      ? `demo-app migrate: cannot reach the database, nothing changed: ${why}`
      : `demo-app migrate: the migration failed and was rolled back: ${why}`,
  );
  process.exit(1);
});
p.stdin.end(sql);
