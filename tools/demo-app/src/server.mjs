// The Rollgate demo service: a dependency-free HTTP server that knows which edition it is.
//
// This file is copied verbatim into every edition archive (see package-editions.ts), so it must
// run with nothing but Node itself: no imports outside node:*, no TypeScript.
//
// Settings, first match wins: process env, then `rollgate.env.json` in the working directory (the
// operator's configuration the agent carries over to each edition), then the default.
//   PORT               port to listen on (default 8080)
//   HOST               address to bind (default: all interfaces)
//   SERVER_NAME        reported in GET / (default: the host name)
//   STARTUP_DELAY_MS   wait this long before listening, to make slow starts visible (default 0)
//   SHUTDOWN_TIMEOUT_MS  after SIGTERM, give in-flight requests this long before exiting 1 (default 30000)
//
// Endpoints: GET / → {edition, server, pid}; GET /health → "ok"; GET /slow?ms=N → answers after N ms.
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
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`demo-app: PORT must be an integer 0-65535, got ${JSON.stringify(setting('PORT'))}`);
  process.exit(2);
}

let shuttingDown = false;

const server = createServer((req, res) => {
  // While shutting down, tell keep-alive clients to reconnect elsewhere after this answer, so the
  // socket closes as soon as the response is written instead of lingering idle.
  if (shuttingDown) res.setHeader('connection', 'close');
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (url.pathname === '/slow') {
    const ms = Math.max(0, Math.min(Number(url.searchParams.get('ms') ?? '1000') || 0, 600_000));
    setTimeout(() => {
      if (shuttingDown) res.setHeader('connection', 'close');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ edition, server: serverName, pid: process.pid, sleptMs: ms }));
    }, ms);
    return;
  }
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ edition, server: serverName, pid: process.pid }));
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
});

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
