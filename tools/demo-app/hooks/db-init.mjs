// Demo hook `db-init`: creates and seeds the demo application's 1.0 schema — items(id serial
// primary key, name text not null) with a few rows. Idempotent: an existing table is kept, and rows
// are only seeded into an empty table.
//
// Env (or rollgate.env.json in the working directory): DATABASE_URL (required), PG_BIN_DIR
// (directory of psql; default psql from PATH). Dependency-free: it spawns psql.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let fileConfig = {};
try {
  fileConfig = JSON.parse(readFileSync(join(process.cwd(), 'rollgate.env.json'), 'utf8'));
} catch {
  /* no operator config here */
}
const setting = (name) => process.env[name] || (fileConfig[name] ? String(fileConfig[name]) : undefined);
const url = setting('DATABASE_URL');
const binDir = setting('PG_BIN_DIR');
if (!url) {
  console.error('db-init: DATABASE_URL is not set; configure the service database first');
  process.exit(2);
}

const sql = `
CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO items (name)
  SELECT n FROM unnest(ARRAY['Calculator', 'Spreadsheet', 'Paint', 'Text editor']) WITH ORDINALITY AS s(n, i)
  WHERE NOT EXISTS (SELECT 1 FROM items)
  ORDER BY i;
SELECT count(*) FROM items;
`;
const psql = binDir ? join(binDir, 'psql') : 'psql';
const p = spawn(
  psql,
  ['-X', '-At', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-d', url, '-f', '-'],
  {
    env: { ...process.env, PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'demo-app db-init' },
    stdio: ['pipe', 'pipe', 'pipe'],
  },
);
let out = '';
let err = '';
p.stdout.on('data', (c) => (out += c));
p.stderr.on('data', (c) => (err += c));
p.once('error', (e) => {
  console.error(`db-init: cannot run ${psql}: ${e.message} (install postgresql-client-15 or set PG_BIN_DIR)`);
  process.exit(3);
});
p.once('close', (code) => {
  if (code === 0) {
    console.log(`db-init: schema 1.0 ready (${out.trim()} items)`);
    process.exit(0);
  }
  console.error(`db-init: failed: ${err.trim() || `psql exited with code ${code}`}`);
  process.exit(1);
});
p.stdin.end(sql);
