// The Rollgate demo service: a dependency-free HTTP server that knows which edition it is.
//
// This file is copied verbatim into every edition archive (see package-editions.ts), so it must
// run with nothing but Node itself: no imports outside node:*, no TypeScript.
//
// Settings, first match wins: process env, then `rollgate.env.json` in the working directory (the
// operator's configuration the agent carries over to each edition), then the default.
//   PORT               port to listen on (default 8080)
//   HOST               address to bind (default: all interfaces)
//   SERVER_NAME        reported in GET / and /version (default: the host name)
//   STARTUP_DELAY_MS   wait this long before listening, to make slow starts visible (default 0)
//   SHUTDOWN_TIMEOUT_MS  after SIGTERM, give in-flight requests this long before exiting 1 (default 30000)
//   DATABASE_URL       postgres://… of the demo database (optional): /items and /apps read it
//   PG_BIN_DIR         directory of the `psql` to use (default: psql from PATH)
//   DEMO_TEST_USER, DEMO_TEST_PASSWORD  the account POST /login accepts (default demo / demo-password)
//   DEMO_FAIL_EDITION  failure injection: when it names this edition, exit 1 at start with a message
//
// The database is reached by spawning `psql` per request (a demo, not a production pattern): the
// edition archive carries no node_modules. Edition schema: 1 (1.0: items(id, name)) or 2 (2.0 and
// later, after its migrate.mjs: items.note). A schema-2 edition reads items.note, so on a database
// that was not migrated its /items and /apps answer 500 — visibly broken, as the seed warns.
//
// Endpoints:
//   GET /          {edition, server, pid}
//   GET /health    "ok" (does not touch the database)
//   GET /version   {edition, server}
//   GET /slow?ms=N answers after N ms
//   GET /login     a login form; POST /login (form or JSON: username, password) → 200 + session cookie
//   GET /apps      the applications (rows of items when a database is configured); needs the session
//   GET /admin     the admin page, showing the edition and server; needs the session
//   GET /items     {edition, items: [...]} from the database (503 without DATABASE_URL)
import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';

const here = new URL('.', import.meta.url);

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err && err.code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const editionFile = readJson(new URL('edition.json', here));
const edition = editionFile && typeof editionFile.name === 'string' ? editionFile.name : 'unknown';
/** Database schema this edition expects: 2 reads items.note (added by 2.0's migrate.mjs). */
const schema = editionFile && Number.isInteger(editionFile.schema) ? editionFile.schema : 1;
const fileConfig = readJson(join(process.cwd(), 'rollgate.env.json')) ?? {};

function setting(name, fallback) {
  const fromEnv = process.env[name];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const fromFile = fileConfig[name];
  if (fromFile !== undefined && fromFile !== '') return String(fromFile);
  return fallback;
}

const port = Number(setting('PORT', '8080'));
const host = setting('HOST', undefined);
const serverName = setting('SERVER_NAME', hostname());
const startupDelayMs = Number(setting('STARTUP_DELAY_MS', '0'));
const shutdownTimeoutMs = Number(setting('SHUTDOWN_TIMEOUT_MS', '30000'));
const databaseUrl = setting('DATABASE_URL', undefined);
const pgBinDir = setting('PG_BIN_DIR', undefined);
const testUser = setting('DEMO_TEST_USER', 'demo');
const testPassword = setting('DEMO_TEST_PASSWORD', 'demo-password');
const failEdition = setting('DEMO_FAIL_EDITION', undefined);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`demo-app: PORT must be an integer 0-65535, got ${JSON.stringify(setting('PORT'))}`);
  process.exit(2);
}
if (failEdition !== undefined && failEdition === edition) {
  console.error(
    `demo-app edition ${edition}: failing at start on purpose (DEMO_FAIL_EDITION=${failEdition}, failure injection)`,
  );
  process.exit(1);
}

const SESSION_COOKIE = 'demo_session';
// Stateless sessions: every server of the fleet shares the account settings, so a cookie issued by
// one server is valid on the others (the load balancer may send the next request anywhere).
const sessionKey = `demo-app:${testUser}:${testPassword}`;
const sign = (user) => createHmac('sha256', sessionKey).update(user).digest('base64url');

function sameText(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

function sessionUser(req) {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...rest] = part.trim().split('=');
    if (k !== SESSION_COOKIE) continue;
    const value = decodeURIComponent(rest.join('='));
    const dot = value.lastIndexOf('.');
    if (dot <= 0) return null;
    const user = value.slice(0, dot);
    return sameText(value.slice(dot + 1), sign(user)) ? user : null;
  }
  return null;
}

/** Runs SQL with psql and returns its stdout; rejects with psql's message. */
function psql(sql) {
  return new Promise((resolve, reject) => {
    const bin = pgBinDir ? join(pgBinDir, 'psql') : 'psql';
    const p = spawn(bin, ['-X', '-At', '-q', '-v', 'ON_ERROR_STOP=1', '-d', databaseUrl, '-c', sql], {
      env: { ...process.env, PGCONNECT_TIMEOUT: '5', PGAPPNAME: `demo-app ${edition} ${serverName}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${bin}: ${e.message}`));
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error((err.trim() || `psql exited with code ${code}`).split('\n')[0]));
    });
  });
}

/** The items as this edition's schema has them (schema 2 needs the migrated column items.note). */
async function items() {
  const cols = schema >= 2 ? 'id, name, note' : 'id, name';
  const out = await psql(
    `SELECT coalesce(json_agg(t ORDER BY t.id), '[]'::json) FROM (SELECT ${cols} FROM items) t`,
  );
  return JSON.parse(out || '[]');
}

const STATIC_APPS = [
  { id: 1, name: 'Calculator' },
  { id: 2, name: 'Spreadsheet' },
];

function readBody(req, limit = 16 * 1024) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      body += c;
      if (body.length > limit) {
        reject(new Error('request body too large'));
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(value)}\n`);
}

const escapeHtml = (s) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );

function html(res, status, title, inner) {
  res
    .writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
    .end(
      `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${inner}</body></html>\n`,
    );
}

async function login(req, res) {
  let fields = {};
  try {
    const body = await readBody(req);
    const type = String(req.headers['content-type'] ?? '');
    if (type.includes('application/json')) fields = JSON.parse(body || '{}');
    else fields = Object.fromEntries(new URLSearchParams(body));
  } catch (err) {
    json(res, 400, {
      error: `cannot read the login form: ${err instanceof Error ? err.message : String(err)}`,
    });
    return;
  }
  const ok =
    typeof fields.username === 'string' &&
    typeof fields.password === 'string' &&
    sameText(fields.username, testUser) &&
    sameText(fields.password, testPassword);
  if (!ok) {
    json(res, 401, { error: 'wrong username or password' });
    return;
  }
  const value = encodeURIComponent(`${testUser}.${sign(testUser)}`);
  res.setHeader('set-cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax`);
  json(res, 200, { ok: true, user: testUser, edition, server: serverName });
}

async function handle(req, res, url) {
  if (url.pathname === '/login' && req.method === 'POST') return login(req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  switch (url.pathname) {
    case '/health':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    case '/slow': {
      const ms = Math.max(0, Math.min(Number(url.searchParams.get('ms') ?? '1000') || 0, 600_000));
      setTimeout(() => {
        if (shuttingDown) res.setHeader('connection', 'close');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ edition, server: serverName, pid: process.pid, sleptMs: ms }));
      }, ms);
      return;
    }
    case '/':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ edition, server: serverName, pid: process.pid }));
      return;
    case '/version':
      json(res, 200, { edition, server: serverName });
      return;
    case '/login':
      html(
        res,
        200,
        'Demo login',
        '<form method="post" action="/login"><input name="username"><input name="password" type="password"><button>Log in</button></form>',
      );
      return;
    case '/items':
      if (!databaseUrl) {
        json(res, 503, { error: 'no database configured (set DATABASE_URL)', edition });
        return;
      }
      json(res, 200, { edition, server: serverName, items: await items() });
      return;
    case '/apps': {
      if (!sessionUser(req)) {
        json(res, 401, { error: 'log in first (POST /login)' });
        return;
      }
      const apps = databaseUrl ? await items() : STATIC_APPS;
      html(
        res,
        200,
        'Applications',
        `<ul>${apps.map((a) => `<li data-id="${escapeHtml(a.id)}">${escapeHtml(a.name)}${a.note ? ` — ${escapeHtml(a.note)}` : ''}</li>`).join('')}</ul><p>edition ${escapeHtml(edition)}</p>`,
      );
      return;
    }
    case '/admin': {
      const user = sessionUser(req);
      if (!user) {
        json(res, 401, { error: 'log in first (POST /login)' });
        return;
      }
      html(
        res,
        200,
        'Demo admin',
        `<p>Edition: <span id="edition">${escapeHtml(edition)}</span></p><p>Server: ${escapeHtml(serverName)}</p><p>Signed in as ${escapeHtml(user)}</p>`,
      );
      return;
    }
    default:
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

let shuttingDown = false;

const server = createServer((req, res) => {
  // While shutting down, tell keep-alive clients to reconnect elsewhere after this answer, so the
  // socket closes as soon as the response is written instead of lingering idle.
  if (shuttingDown) res.setHeader('connection', 'close');
  const url = new URL(req.url ?? '/', 'http://localhost');
  handle(req, res, url).catch((err) => {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`demo-app edition ${edition}: ${req.method} ${url.pathname} failed: ${message}`);
    if (!res.headersSent) json(res, 500, { error: message, edition });
    else res.end();
  });
});

// Longer than any load balancer keeps an idle connection to us (HAProxy's pool-purge-delay, an
// ALB's 60 s): the balancer, not this server, closes idle keep-alive connections, so it never sends
// a request into a connection this side is closing (Node's default is 5 s).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`demo-app edition ${edition}: ${signal} received, finishing in-flight requests`);
  // close() stops accepting and calls back once every connection is gone; idle keep-alive sockets
  // would hold it open forever, so close those now (busy ones close after their response).
  server.close(() => {
    console.log(`demo-app edition ${edition}: stopped`);
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => {
    console.error(
      `demo-app edition ${edition}: requests still running after ${shutdownTimeoutMs} ms, exiting`,
    );
    process.exit(1);
  }, shutdownTimeoutMs).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

setTimeout(() => {
  server.listen(port, host, () => {
    const addr = server.address();
    const boundPort = addr && typeof addr === 'object' ? addr.port : port;
    console.log(
      `demo-app edition ${edition} listening on port ${boundPort} (server ${serverName}, pid ${process.pid})`,
    );
  });
}, startupDelayMs);
