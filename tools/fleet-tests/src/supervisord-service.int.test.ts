// Issue 14 item 3 on a whole fleet: a coordinator, two real agents and HAProxy, the service (the
// fleet tests' Python service) run by a REAL supervisord, not by the agent. Each program's command
// and directory go through the agent's `current` link. An edition rollout and a back-out go through
// supervisorctl; kill -9 of a program: supervisord restarts it and the agent reports the restart.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  behindHaproxy,
  runSucceeded,
  startFleet,
  waitFor,
  type Fleet,
  type FleetAgent,
  type FleetHaproxy,
} from '@rollgate/demo-fleet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServiceEditions } from './editions';

const run = promisify(execFile);
const CLUSTER = 'sv';
const SERVICE = 'shop';

let dir: string;
let conf: string;
let supervisord: ChildProcess | undefined;
let fleet: Fleet;
let lb: FleetHaproxy;

const program = (a: FleetAgent) => `${SERVICE}-${a.id}`;
const ctl = (...args: string[]) =>
  run('supervisorctl', ['-c', conf, ...args]).catch((e: { stdout?: string }) => e);

interface AgentStatusView {
  services: {
    name: string;
    state: string;
    pid: number | null;
    manager: { kind: string; says: string | null; restarts: number };
  }[];
}
async function agentStatus(a: FleetAgent): Promise<AgentStatusView['services'][number] | undefined> {
  const res = await fetch(`http://127.0.0.1:${a.gatePort}/status`);
  return ((await res.json()) as AgentStatusView).services.find((s) => s.name === SERVICE);
}
async function served(a: FleetAgent): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${a.servicePort}/`);
  return ((await res.json()) as { edition: string }).edition;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rg-sv-fleet-'));
  const programs = join(dir, 'supervisor', 'programs');
  await mkdir(programs, { recursive: true });
  conf = join(dir, 'supervisor', 'supervisord.conf');
  const sock = join(dir, 'supervisor', 'supervisor.sock');
  await writeFile(
    conf,
    [
      '[unix_http_server]',
      `file=${sock}`,
      '[supervisord]',
      `logfile=${join(dir, 'supervisor', 'supervisord.log')}`,
      `pidfile=${join(dir, 'supervisor', 'supervisord.pid')}`,
      `childlogdir=${join(dir, 'supervisor')}`,
      'nodaemon=true',
      '[rpcinterface:supervisor]',
      'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
      '[supervisorctl]',
      `serverurl=unix://${sock}`,
      '[include]',
      `files=${programs}/*.ini`,
      '',
    ].join('\n'),
  );
  supervisord = spawn('supervisord', ['-n', '-c', conf], { stdio: 'ignore' });
  await waitFor(
    'supervisord to answer',
    async () => /^\d+$/.test(((await ctl('pid')) as { stdout?: string }).stdout?.trim() ?? ''),
    30_000,
    200,
  );

  const editions = await buildServiceEditions(join(dir, 'editions'), ['1.0', '2.0']);
  fleet = await startFleet({
    dir: join(dir, 'fleet'),
    heartbeatMs: 500,
    insecure: true,
    agents: [1, 2].map((n) => ({ id: `app-${n}`, role: 'app', cluster: CLUSTER })),
    service: {
      name: SERVICE,
      editions,
      start: { command: 'python3', args: ['server.py'] },
      env: (a) => ({ SERVER_NAME: a.id, ROLE: a.role }),
    },
    // The operator's side: a supervisord program per server, then the agent told to use it.
    agentConfig: (a, config) => {
      const current = join(a.dataDir, 'editions', SERVICE, 'current');
      writeFileSync(
        join(programs, `${program(a)}.ini`),
        [
          `[program:${program(a)}]`,
          `command=/usr/bin/python3 -u ${join(current, 'server.py')}`,
          `directory=${current}`,
          `environment=PORT="${a.servicePort}",SERVER_NAME="${a.id}",ROLE="${a.role}"`,
          'autostart=false',
          'autorestart=true',
          'startsecs=1',
          'startretries=20',
          'stopwaitsecs=5',
          'redirect_stderr=true',
          `stdout_logfile=${join(dir, 'supervisor', `${program(a)}.log`)}`,
          '',
        ].join('\n'),
      );
      execFileSync('supervisorctl', ['-c', conf, 'update']);
      const [svc, ...rest] = config.services as Record<string, unknown>[];
      const { start: _start, ...managed } = svc!;
      return {
        ...config,
        services: [
          { ...managed, manager: 'supervisor', supervisor: { program: program(a), configFile: conf } },
          ...rest,
        ],
      };
    },
  });
  lb = await behindHaproxy(fleet, {
    cluster: CLUSTER,
    lb: { readmitTimeoutMs: 10_000, drainageIntervalSec: 1 },
  });
}, 240_000);

afterAll(async () => {
  await lb?.stop();
  await fleet?.stop();
  if (supervisord && supervisord.exitCode === null) {
    await ctl('shutdown');
    await waitFor(
      'supervisord to exit',
      async () => supervisord!.exitCode !== null || supervisord!.signalCode !== null,
      20_000,
      200,
    ).catch(() => supervisord!.kill('SIGKILL'));
  }
  await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('issue 14 item 3: a fleet whose service runs under a real supervisord', () => {
  it("issue 14 item 3: the agents started 1.0 through supervisorctl and report supervisord's view", async () => {
    for (const a of fleet.agents) {
      expect(((await ctl('status', program(a))) as { stdout: string }).stdout).toMatch(/RUNNING\s+pid \d+/);
      expect(await served(a)).toBe('1.0');
      const s = await waitFor(
        `${a.id} healthy`,
        async () => {
          const st = await agentStatus(a);
          return st?.state === 'healthy' ? st : null;
        },
        30_000,
        200,
      );
      expect(s.manager.kind).toBe('supervisor');
      expect(s.manager.says).toMatch(/^RUNNING pid \d+/);
    }
  });

  it('issue 14 item 3: an edition rollout and a back-out go through supervisord', async () => {
    const view = await fleet.api.editions.rollout.mutate({
      app: SERVICE,
      cluster: CLUSTER,
      edition: '2.0',
      groupSize: 1,
    });
    await runSucceeded(fleet, view.run.id, 180_000);
    for (const a of fleet.agents) expect(await served(a)).toBe('2.0');
    const lines = await fleet.api.upgrade.logs.query({ runId: view.run.id, limit: 5000 });
    for (const a of fleet.agents) {
      expect(
        lines.some(
          (l) =>
            l.message.includes(`stopping ${SERVICE}`) &&
            l.message.includes(`supervisorctl stop ${program(a)}`),
        ),
      ).toBe(true);
      expect(lines.some((l) => l.message.includes(`edition 2.0: supervisorctl start ${program(a)}`))).toBe(
        true,
      );
    }

    await fleet.waitConnected();
    const back = await fleet.api.editions.backout.mutate({ app: SERVICE, cluster: CLUSTER, groupSize: 1 });
    expect(back.run.plan.toEdition.name).toBe('1.0');
    await runSucceeded(fleet, back.run.id, 180_000);
    for (const a of fleet.agents) expect(await served(a)).toBe('1.0');
  });

  it('issue 14 item 3: kill -9 of the program: supervisord restarts it and the agent reports the restart', async () => {
    const a = fleet.agents[0]!;
    const victim = Number(((await ctl('pid', program(a))) as { stdout: string }).stdout.trim());
    expect(victim).toBeGreaterThan(0);
    process.kill(victim, 'SIGKILL');
    const after = await waitFor(
      `${a.id} to report the restart`,
      async () => {
        const st = await agentStatus(a);
        return st && st.manager.restarts >= 1 && st.state === 'healthy' && st.pid !== victim ? st : null;
      },
      60_000,
      200,
    );
    expect(after.manager.restarts).toBe(1);
    expect(after.pid).toBeGreaterThan(0);
    expect(after.manager.says).toMatch(new RegExp(`^RUNNING pid ${after.pid},`));
    // supervisord calls it RUNNING after startsecs; the new process answers when it has bound.
    expect(
      await waitFor('the restarted program to serve', async () => served(a).catch(() => null), 30_000, 200),
    ).toBe('1.0');
    // The other server was not touched.
    expect((await agentStatus(fleet.agents[1]!))?.manager.restarts).toBe(0);
  });
});
