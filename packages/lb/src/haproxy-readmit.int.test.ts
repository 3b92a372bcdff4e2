// Re-admission at the speed of evidence against a REAL HAProxy (issue 18, docs/adr/0025): a server
// parked in maint while its service is stopped is not health-checked (never marked DOWN), and once
// its restarted service answers, `health up` + `state ready` put it UP in the very exchange that
// sends them, without the `rise` checks a plain `state ready` waits for. The service is a stdlib
// Node HTTP server with its own health path, behind a hand-written configuration whose rise is
// long (10 checks 300 ms apart), so waiting for checks could not be mistaken for the exchange.
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitResponses } from './haproxy-parse';
import { createHaproxyRuntime, type HaproxyRuntime } from './haproxy-runtime';
import { freePort, startHaproxy, type HaproxyProcess } from './testing';
import { waiter } from '@rollgate/test-kit';

const BE = 'be_app';
let hp: HaproxyProcess;
let rt: HaproxyRuntime;
let fePort: number;
const ports: Record<string, number> = {};
const services = new Map<string, Server>();
/** What each server's agent-check answers (Rollgate's agent: "drain up" while its gate is closed). */
const agentSays: Record<string, string> = {};
const agents: TcpServer[] = [];
const agentPorts: Record<string, number> = {};

/** HAProxy's agent-check protocol: connect, read one line, close. */
async function startAgent(name: string): Promise<void> {
  const s = createTcpServer((sock) => {
    // HAProxy closes its side as soon as it has the line: a reset then is no failure.
    sock.on('error', () => undefined);
    sock.end(`${agentSays[name] ?? 'ready up'}\n`);
  });
  await new Promise<void>((r) => s.listen(agentPorts[name], '127.0.0.1', r));
  agents.push(s);
}

/** The service: 200 on /healthz and its name on any other path. */
async function startService(name: string): Promise<void> {
  const s = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end(req.url === '/healthz' ? 'ok\n' : `${name}\n`);
  });
  await new Promise<void>((r) => s.listen(ports[name], '127.0.0.1', r));
  services.set(name, s);
}

async function stopService(name: string): Promise<void> {
  const s = services.get(name)!;
  services.delete(name);
  s.closeAllConnections();
  await new Promise<void>((r) => s.close(() => r()));
}

const { waitFor } = waiter({ timeoutMs: 20_000, everyMs: 25, diagnostics: () => hp.output().slice(-2000) });

/** Column values of one server from a `show stat` answer. */
function statOf(csv: string, server: string): Record<string, string> {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]!.slice(2).split(',');
  const row = lines.slice(1).find((l) => l.split(',')[1] === server);
  if (!row) throw new Error(`no ${server} in:\n${csv}`);
  const f = row.split(',');
  return Object.fromEntries(header.map((h, i) => [h, f[i] ?? '']));
}

/** Runs commands and a `show stat` in ONE exchange; returns the stat of `server` as the exchange ended. */
async function inOneExchange(commands: string[], server: string) {
  const answers = splitResponses(await rt.raw([...commands, `show stat ${BE} 4 -1`].join(';')));
  const stat = answers.at(-1)!;
  for (const [i, c] of commands.entries()) expect(answers[i]?.trim() ?? '', c).toBe('');
  return statOf(stat, server);
}

async function stat(server: string) {
  return statOf(await rt.raw(`show stat ${BE} 4 -1`), server);
}

async function healthy(name: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${ports[name]}/healthz`);
    return res.status === 200;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  fePort = await freePort();
  for (const n of ['s1', 's2', 's3']) ports[n] = await freePort();
  for (const n of ['s1', 's2', 's3']) agentPorts[n] = await freePort();
  for (const n of ['s1', 's2', 's3']) await startService(n);
  for (const n of ['s1', 's2', 's3']) await startAgent(n);
  hp = await startHaproxy({
    config: ({ socketPath }) =>
      [
        'global',
        `  stats socket ${socketPath} mode 600 level admin`,
        'defaults',
        '  mode http',
        '  timeout connect 2s',
        '  timeout client 10s',
        '  timeout server 10s',
        'frontend fe_app',
        `  bind 127.0.0.1:${fePort}`,
        `  default_backend ${BE}`,
        `backend ${BE}`,
        '  option httpchk GET /healthz',
        '  default-server check inter 300 fall 2 rise 10',
        ...['s1', 's2', 's3'].map(
          (n) =>
            `  server ${n} 127.0.0.1:${ports[n]} agent-check agent-port ${agentPorts[n]} agent-inter 200`,
        ),
        '',
      ].join('\n'),
  });
  rt = createHaproxyRuntime({ socketPath: hp.socketPath, timeoutMs: 5000 });
  // Every server UP before the test (HAProxy may start them waiting for rise).
  await rt.raw(['s1', 's2', 's3'].map((n) => `set server ${BE}/${n} health up`).join(';'));
  await waitFor('UP', async () => (await stat('s1')).status === 'UP' && (await stat('s3')).status === 'UP');
}, 60_000);

afterAll(async () => {
  await hp?.stop();
  for (const n of [...services.keys()]) await stopService(n);
  for (const a of agents) a.close();
});

describe('re-admission on a real HAProxy (issue 18 item 1)', () => {
  it('an agent-check answer takes a server out of maint: parking must hold its agent-checks', async () => {
    // What the engine did before it held them: drain, the gate closes, then maint.
    await rt.raw(`set server ${BE}/s2 state drain`);
    agentSays.s2 = 'drain up';
    await rt.raw(`set server ${BE}/s2 state maint`);
    expect((await stat('s2')).status).toBe('MAINT');
    await waitFor('s2 out of maint by its agent', async () => /^DRAIN/.test((await stat('s2')).status ?? ''));
    agentSays.s2 = 'ready up';
    await rt.raw(`set server ${BE}/s2 state ready`);
    await waitFor('s2 back UP', async () => (await stat('s2')).status === 'UP');
  });

  it('a server parked in maint whose service was stopped and restarted is UP in the exchange that sends health up and state ready; a drained one is marked DOWN and waits for rise without health up', async () => {
    // s1 is parked (the engine's choreography); s3 only drained (the old one), as the control.
    const s1FailsBefore = Number((await stat('s1')).chkfail);
    // The gates close: the agents answer "drain" from now on.
    agentSays.s1 = 'drain up';
    agentSays.s3 = 'drain up';
    await rt.raw(`set server ${BE}/s1 state drain;set server ${BE}/s3 state drain`);
    await rt.raw(`disable agent ${BE}/s1;set server ${BE}/s1 state maint`);
    await stopService('s1');
    await stopService('s3');
    // The drained server's stopped service is health-checked and marked DOWN ...
    await waitFor('s3 DOWN by its checks', async () => (await stat('s3')).status === 'DOWN');
    // ... while the parked one, stopped as long, was never checked: no failed check, still MAINT.
    const parked = await stat('s1');
    expect(parked.status).toBe('MAINT');
    expect(Number(parked.chkfail)).toBe(s1FailsBefore);

    await startService('s1');
    await startService('s3');
    // The agent's waitHealthy: the service answers its own health check.
    await waitFor('s1 healthy', () => healthy('s1'));
    await waitFor('s3 healthy', () => healthy('s3'));

    // The control: `state ready` alone leaves the DOWN server DOWN until `rise` checks pass.
    expect((await inOneExchange([`set server ${BE}/s3 state ready`], 's3')).status).toMatch(/^DOWN/);

    // The gates open (the start action's last op): the agents answer "ready" again.
    agentSays.s1 = 'ready up';
    agentSays.s3 = 'ready up';
    // The parked server: UP as the exchange that re-admits it ends (10 checks at 300 ms could not
    // have passed within one exchange).
    // In the order the readmit sends: ready first, then health up, which leaves it at full health.
    const s1 = await inOneExchange(
      [`set server ${BE}/s1 state ready`, `set server ${BE}/s1 health up`],
      's1',
    );
    expect(s1.status).toBe('UP');
    await rt.raw(`enable agent ${BE}/s1`);
    // The same for the DOWN one once its health is set up, in the order the readmit sends.
    const s3 = await inOneExchange(
      [`set server ${BE}/s3 state ready`, `set server ${BE}/s3 health up`],
      's3',
    );
    expect(s3.status).toBe('UP');

    // And it serves: requests through the frontend reach s1 again (round robin over three).
    const answers = new Set<string>();
    for (let i = 0; i < 9; i++) {
      const res = await fetch(`http://127.0.0.1:${fePort}/`);
      expect(res.status).toBe(200);
      answers.add((await res.text()).trim());
    }
    expect(answers).toContain('s1');
    expect(answers).toContain('s3');
  });
});
