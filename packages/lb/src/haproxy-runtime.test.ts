// The runtime client against a fake HAProxy CLI on a unix socket (answers captured from HAProxy 2.6):
// framing, error messages, and that a multi-server change with a typo changes nothing.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHaproxyRuntime, HaproxyRuntimeError } from './haproxy-runtime';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const STATE = `${fixture('show-servers-state.txt')}\n`; // as on the wire: output + blank line
const STAT = `${fixture('show-stat.csv')}\n`;

let dir: string;
let socketPath: string;
let server: Server;
const received: string[] = [];
/** What the fake answers to one command (without the framing blank line); null = never answer. */
let answer: (cmd: string) => string | null;

function defaultAnswer(cmd: string): string | null {
  if (cmd.startsWith('show servers state rollgate_demo')) return STATE.slice(0, -1);
  if (cmd.startsWith('show servers state')) return "Can't find backend.\n";
  if (cmd.startsWith('show stat rollgate_demo')) return STAT.slice(0, -1);
  if (cmd.startsWith('show stat')) return 'No such proxy.\n';
  const m = /^set server ([^/]+)\/(\S+) state (\S+)$/.exec(cmd);
  if (m) {
    if (m[1] !== 'rollgate_demo') return 'No such backend.\n';
    if (!STATE.includes(` ${m[2]} `)) return 'No such server.\n';
    return '';
  }
  return `Unknown command: '${cmd}'\n`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-rt-'));
  socketPath = join(dir, 'admin.sock');
  server = createServer((c) => {
    let buf = '';
    c.on('error', () => {});
    c.on('data', (d) => {
      buf += d.toString();
      if (!buf.endsWith('\n')) return;
      const line = buf.slice(0, -1);
      received.push(line);
      let out = '';
      for (const cmd of line.split(';')) {
        const a = answer(cmd.trim());
        if (a === null) return; // hang: the client must time out
        out += `${a}\n`;
      }
      c.end(out);
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  received.length = 0;
  answer = defaultAnswer;
});

const rt = () => createHaproxyRuntime({ socketPath, timeoutMs: 500 });

describe('createHaproxyRuntime', () => {
  it('setState sends one "set server" line and resolves on the empty answer', async () => {
    await rt().setState('rollgate_demo', 'admin-1', 'drain');
    expect(received).toEqual(['set server rollgate_demo/admin-1 state drain']);
  });

  it('turns "No such backend." / "No such server." into errors that name them and say what to check', async () => {
    await expect(rt().setState('rollgate_prod', 'admin-1', 'drain')).rejects.toThrow(
      'HAProxy has no backend "rollgate_prod": check the backend name against haproxy.cfg ("show backend" on the runtime API lists them)',
    );
    await expect(rt().setState('rollgate_demo', 'admin-9', 'maint')).rejects.toThrow(
      'HAProxy backend "rollgate_demo" has no server "admin-9": check the server name against haproxy.cfg ("show servers state rollgate_demo" lists them)',
    );
  });

  it('setStates sends every change in ONE exchange, joined by ";", in the given order', async () => {
    await rt().setStates([
      { backend: 'rollgate_demo', server: 'stream-1', state: 'ready' },
      { backend: 'rollgate_demo', server: 'admin-1', state: 'drain' },
    ]);
    expect(received).toEqual([
      'show servers state rollgate_demo',
      'set server rollgate_demo/stream-1 state ready;set server rollgate_demo/admin-1 state drain',
    ]);
  });

  it('setStates with an unknown server changes nothing and names every problem', async () => {
    const err = await rt()
      .setStates([
        { backend: 'rollgate_demo', server: 'admin-1', state: 'drain' },
        { backend: 'rollgate_demo', server: 'admin-9', state: 'drain' },
        { backend: 'nope', server: 'x', state: 'drain' },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HaproxyRuntimeError);
    expect((err as Error).message).toMatch(/^no server state was changed: /);
    expect((err as Error).message).toContain('has no server "admin-9"');
    expect((err as Error).message).toContain('HAProxy has no backend "nope"');
    expect(received).toEqual(['show servers state rollgate_demo;show servers state nope']);
  });

  it('reports which changes were applied when HAProxy refuses one after the check', async () => {
    answer = (cmd) => (cmd.endsWith('admin-2 state drain') ? 'Permission denied\n' : defaultAnswer(cmd));
    await expect(
      rt().setStates([
        { backend: 'rollgate_demo', server: 'admin-1', state: 'drain' },
        { backend: 'rollgate_demo', server: 'admin-2', state: 'drain' },
      ]),
    ).rejects.toThrow(
      /permission denied; the stats socket must be at "level admin".*\(applied: rollgate_demo\/admin-1 drain\)/,
    );
  });

  it('refuses names and states that could inject a command, without connecting', async () => {
    await expect(rt().setState('be;shutdown sessions', 's1', 'drain')).rejects.toThrow(
      /invalid HAProxy backend name "be;shutdown sessions"/,
    );
    await expect(rt().setState('be', 's1\nx', 'drain')).rejects.toThrow(/invalid HAProxy server name/);
    await expect(rt().setState('be', 's1', 'down' as 'drain')).rejects.toThrow(
      'invalid server state "down": expected "ready", "drain" or "maint"',
    );
    await expect(rt().raw('show info\nshow stat')).rejects.toThrow(/must be one line/);
    expect(received).toEqual([]);
  });

  it('serverStats reads show stat and show servers state in one exchange and merges them', async () => {
    const stats = await rt().serverStats('rollgate_demo');
    expect(received).toEqual(['show stat rollgate_demo 4 -1;show servers state rollgate_demo']);
    expect(stats.map((s) => [s.name, s.status, s.adminState, s.opState, s.scur])).toEqual([
      ['admin-1', 'UP', 'ready', 'running', 1],
      ['admin-2', 'DRAIN', 'drain', 'running', 0],
      ['stream-1', 'MAINT', 'maint', 'stopped', 0],
      ['stream-2', 'DOWN', 'ready', 'stopped', 0],
      ['stream-3', 'DRAIN', 'drain', 'running', 0],
      ['stream-4', 'DOWN', 'ready', 'stopped', 0],
    ]);
    await expect(rt().serverStats('nope')).rejects.toThrow('HAProxy has no backend "nope"');
  });

  it('serversState and raw', async () => {
    expect((await rt().serversState('rollgate_demo')).map((s) => s.name)).toHaveLength(6);
    await expect(rt().serversState('nope')).rejects.toThrow('HAProxy has no backend "nope"');
    expect(await rt().raw('set server rollgate_demo/admin-1 state ready')).toBe('');
    expect(await rt().raw('show servers state nope')).toBe("Can't find backend.\n");
  });

  it('says what to check when the socket is missing or HAProxy does not answer', async () => {
    const missing = createHaproxyRuntime({ socketPath: join(dir, 'none.sock') });
    await expect(missing.setState('rollgate_demo', 'admin-1', 'drain')).rejects.toThrow(
      `cannot reach the HAProxy runtime API at unix:${join(dir, 'none.sock')}: no socket at ${join(dir, 'none.sock')}; is HAProxy running, and does the global section of haproxy.cfg have "stats socket ${join(dir, 'none.sock')} mode 600 level admin"?`,
    );
    answer = () => null;
    await expect(rt().raw('show info')).rejects.toThrow(/did not answer "show info" within 500 ms/);
    expect(() => createHaproxyRuntime({})).toThrow(/needs socketPath/);
  });
});
