// `manager: "commands"` with a real control script (start/stop/status), run without a shell, with
// a timeout and capped output (issue 14 item 3).
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rollgate/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandsManager } from './commands';
import { OUTPUT_CAP, runArgv } from './run-argv';
import type { ServiceManager } from './service-manager';
import { freePort, waiter } from '@rollgate/test-kit';

const log = createLogger({ name: 'test', level: 'silent' });

// The operator's control script. `start` leaves the server in the background still holding the
// script's stdout: the agent must return at the script's exit, not wait for the pipe to close.
const CTL = `#!/bin/sh
pidfile="$STATE_DIR/web.pid"
case "$1" in
  start)
    echo "starting edition $ROLLGATE_EDITION from $ROLLGATE_EDITION_DIR"
    /usr/bin/python3 -u "$ROLLGATE_EDITION_DIR/server.py" &
    echo $! > "$pidfile"
    ;;
  stop)
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" && rm -f "$pidfile"
    exit 0
    ;;
  status)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "running pid $(cat "$pidfile")"; exit 0; fi
    echo "not running"; exit 3
    ;;
esac
`;

const SERVER_PY = `import http.server, os
edition = os.environ["ROLLGATE_EDITION"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("edition %s secret-seen %s\\n" % (edition, "DB_PASSWORD" in os.environ)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`;

const { waitFor } = waiter({ timeoutMs: 30_000, everyMs: 100 });

function get(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res(body));
    });
    req.on('error', rej);
    req.end();
  });
}

let dir: string;
let port: number;
let manager: ServiceManager;
let editionDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rg-commands-'));
  port = await freePort();
  const ctl = join(dir, 'ctl.sh');
  await writeFile(ctl, CTL);
  await chmod(ctl, 0o755);
  editionDir = join(dir, 'editions', 'web', '3.1');
  await mkdir(editionDir, { recursive: true });
  await writeFile(join(editionDir, 'server.py'), SERVER_PY);
  manager = createCommandsManager({
    service: 'web',
    control: { start: [ctl, 'start'], stop: [ctl, 'stop'], status: [ctl, 'status'], timeoutMs: 20_000 },
    dataDir: dir,
    baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    serviceEnv: { STATE_DIR: dir, PORT: String(port) },
    run: runArgv,
    log,
    watchMs: 0,
  });
});

afterAll(async () => {
  await manager?.stop(10_000).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe('commands manager with a real control script (issue 14 item 3)', () => {
  it('starts with the operator start command (edition in the environment) and reads status exit codes', async () => {
    expect(await manager.refresh()).toBe(false);
    expect(manager.lastStatus()).toEqual({ state: 'stopped', pid: null, detail: 'not running' });
    const rec = await manager.start({ edition: '3.1', dir: editionDir, env: { DB_PASSWORD: 'hunter2' } });
    expect(rec).toEqual({ pid: null, edition: '3.1' });
    expect(
      await waitFor('the service', async () => (await get(port)).startsWith('edition 3.1') && get(port)),
    ).toBe('edition 3.1 secret-seen True\n');
    expect(await manager.refresh()).toBe(true);
    expect(manager.lastStatus()?.detail).toMatch(/^running pid \d+$/);
    expect(manager.running()).toEqual({ pid: null, edition: '3.1' });
  });

  it('stops with the stop command; a second stop finds it already stopped', async () => {
    const r = await manager.stop(10_000);
    expect(r.alreadyStopped).toBe(false);
    expect(await manager.refresh()).toBe(false);
    expect(manager.running()).toBeUndefined();
    expect((await manager.stop(10_000)).alreadyStopped).toBe(true);
  });

  it('a failing start names the command, its exit and its last line', async () => {
    const bad = createCommandsManager({
      service: 'web',
      control: {
        start: ['/bin/sh', '-c', 'echo no licence file >&2; exit 7'],
        stop: ['/bin/true'],
        status: ['/bin/false'],
        timeoutMs: 5000,
      },
      dataDir: dir,
      baseEnv: {},
      serviceEnv: {},
      run: runArgv,
      log,
      watchMs: 0,
    });
    await expect(bad.start({ edition: '3.1', dir: editionDir, env: {} })).rejects.toThrow(
      'the start command (/bin/sh -c "echo no licence file >&2; exit 7") exited with code 7; its last output: no licence file; fix services[].control.start in the agent config or the program it runs',
    );
  });
});

describe('runArgv: no shell, a timeout, bounded output', () => {
  it('passes arguments as words, never through a shell', async () => {
    const r = await runArgv(['/bin/echo', '$HOME; rm -rf /tmp/x', '`id`'], { timeoutMs: 5000 });
    expect(r.stdout).toBe('$HOME; rm -rf /tmp/x `id`\n');
  });

  it('stops a command that outlives its timeout, and its children', async () => {
    const pidFile = join(dir, 'sleeper.pid');
    const r = await runArgv(['/bin/sh', '-c', `sleep 300 & echo $! > ${pidFile}; wait`], { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.code).not.toBe(0);
    // The grandchild (sleep) was in the command's process group: it goes too.
    const sleeper = Number((await readFile(pidFile, 'utf8')).trim());
    const alive = () => {
      try {
        process.kill(sleeper, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor('the grandchild to be gone', async () => !alive());
  });

  it('keeps only the end of a large output', async () => {
    const r = await runArgv(['/usr/bin/python3', '-c', 'print("x" * 1_000_000); print("the end")'], {
      timeoutMs: 20_000,
    });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeLessThanOrEqual(OUTPUT_CAP);
    expect(r.stdout.endsWith('the end\n')).toBe(true);
  });
});
