// What an agent writes reaches people two ways: the operators' terminals (the `rollgate` CLI) and
// the customer's portal. A real coordinator (PostgreSQL, gRPC) and a hostile agent, a raw gRPC client
// on a plaintext stream (insecure fleet: what a compromised server's agent could send), whose
// failure reason, log lines and host name carry terminal escapes, C1 controls and bidi overrides.
// The CLI runs as a real process; the portal is the coordinator's own procedure.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ROOT, startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';
import {
  CAPABILITIES,
  loadAgentProtocol,
  type AgentMessage,
  type CoordinatorMessage__Output,
} from '@rollgate/protocol';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Every character a terminal could act on (tab and newline are text). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const REASON =
  'disk full\x1b[2J\x1b[H\x1b]0;all good\x07 on /srv/secret-volume \x9b31mC1\x9b0m \u202eexe.ssap\u202c\rOVERWRITE';
const LOG_LINE =
  'writing \x1b]8;;https://evil.example/\x1b\\a link\x1b]8;;\x1b\\ and \x1b[1A\x1b[K up a line';
const HOSTNAME = 'web-9\x1b]0;pwned\x07\x9d0;x\x9c';

function rollgate(fleet: Fleet, token: string, ...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['apps/cli/bin/rollgate.mjs', '--url', fleet.url, '--token', token, ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '' }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** A hostile agent for `id`: it fails every action it is sent, in its own words. */
function hostileAgent(fleet: Fleet, id: string, hostname: string) {
  const proto = loadAgentProtocol();
  const client = new proto.rollgate.agent.v1.AgentService(
    fleet.grpcAddress,
    grpc.credentials.createInsecure(),
  );
  const call = client.Connect();
  call.on('error', () => undefined);
  let seq = 0;
  const actions: string[] = [];
  call.on('data', (m: CoordinatorMessage__Output) => {
    if (m.body !== 'runAction' || !m.runAction) return;
    const actionId = m.runAction.actionId;
    actions.push(actionId);
    const at = Date.now();
    call.write({
      actionUpdate: { actionId, status: 'ACTION_STATUS_RUNNING', atMs: at },
    } satisfies AgentMessage);
    call.write({
      logs: {
        streamId: `${id}-stream`,
        lines: [
          { actionId, atMs: at, level: 'LOG_LEVEL_ERROR', code: 'RG0190I', message: LOG_LINE, seq: ++seq },
        ],
      },
    } satisfies AgentMessage);
    call.write({
      actionUpdate: { actionId, status: 'ACTION_STATUS_FAILED', reason: REASON, atMs: at + 1 },
    } satisfies AgentMessage);
  });
  call.write({
    hello: {
      agentId: id,
      agentVersion: '0.1.0',
      capabilities: [CAPABILITIES.opsV1, CAPABILITIES.logAck],
      hostname,
      cluster: 'hostile',
      role: 'web',
      gateUrl: '',
      gate: 'GATE_STATE_OPEN',
      services: [
        {
          name: 'demo-app',
          installedEditions: ['1.0'],
          activeEdition: '1.0',
          health: 'SERVICE_HEALTH_HEALTHY',
          port: 1,
        },
      ],
    },
  } satisfies AgentMessage);
  let beat = 0;
  const timer = setInterval(
    () =>
      call.write({
        heartbeat: { seq: ++beat, sentAtMs: Date.now(), gate: 'GATE_STATE_OPEN', runningActionIds: [] },
      } satisfies AgentMessage),
    150,
  );
  return {
    actions,
    close() {
      clearInterval(timer);
      call.cancel();
      client.close();
    },
  };
}

describe('agent-written text on its way to people', () => {
  let dir: string;
  let fleet: Fleet;
  let agents: ReturnType<typeof hostileAgent>[] = [];
  let runId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-agent-text-'));
    fleet = await startFleet({ dir, agents: [], insecure: true, heartbeatMs: 500 });
    agents = [hostileAgent(fleet, 'web-9', HOSTNAME), hostileAgent(fleet, 'web-8', 'web-8')];
    await waitFor(
      'both hostile agents connected',
      async () => {
        const servers = await fleet.api.servers.list.query({ cluster: 'hostile' });
        return servers.filter((s) => s.status === 'connected').length === 2;
      },
      30_000,
      200,
    );
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'hostile',
      app: 'demo-app',
      edition: '2.0',
    });
    runId = start.run.id;
    await waitFor(
      'the run to pause on the hostile failure',
      async () => {
        const v = await fleet.api.upgrade.status.query({ runId });
        return v.run.status === 'paused' && v.run.failure?.includes('disk full');
      },
      60_000,
      200,
    );
  }, 180_000);

  afterAll(async () => {
    for (const a of agents) a.close();
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('issue 17 item 9: rollgate prints a hostile failure reason, log line and host name without escapes or controls; --json parses', async () => {
    const token = fleet.admin.token;
    const status = await rollgate(fleet, token, 'upgrade', 'status', runId);
    expect(status.code).toBe(3); // paused
    expect(status.stdout).toContain('disk full');
    expect(status.stdout).toContain('on /srv/secret-volume C1 exe.ssapOVERWRITE');
    expect(status.stdout).not.toMatch(CONTROL);
    expect(status.stdout).not.toContain('all good'); // the OSC title went whole

    const logs = await rollgate(fleet, token, 'upgrade', 'logs', runId, '--code', 'RG0190I');
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('writing a link and  up a line');
    expect(logs.stdout).not.toMatch(CONTROL);
    expect(logs.stdout).not.toContain('evil.example');

    const servers = await rollgate(fleet, token, 'servers', '--cluster', 'hostile');
    expect(servers.stdout).toMatch(/web-9\s+hostile\s+web/);
    expect(servers.stdout).not.toMatch(CONTROL);

    // JSON keeps every character (escaped), parses, and a terminal shown it acts on none.
    const json = await rollgate(fleet, token, 'upgrade', 'status', runId, '--json');
    expect(json.stdout).not.toMatch(CONTROL);
    expect((JSON.parse(json.stdout) as { run: { failure: string } }).run.failure).toContain(REASON);
    const jsonLogs = await rollgate(fleet, token, 'upgrade', 'logs', runId, '--code', 'RG0190I', '--json');
    expect(jsonLogs.stdout).not.toMatch(CONTROL);
    expect((JSON.parse(jsonLogs.stdout) as { message: string }[]).map((l) => l.message)).toContain(LOG_LINE);
    const jsonServers = await rollgate(fleet, token, 'servers', '--cluster', 'hostile', '--json');
    expect(jsonServers.stdout).not.toMatch(CONTROL);
    const hosts = (JSON.parse(jsonServers.stdout) as { id: string; hostname?: string }[]).map(
      (s) => s.hostname,
    );
    expect(hosts).toContain(HOSTNAME);
  });

  it('issue 17 item 10: the portal shows a safe failure summary; a link revoked by the API and one by the CLI open nothing; audited; a viewer cannot revoke', async () => {
    const token = fleet.admin.token;
    const portal = (t: string) =>
      createTRPCClient<AppRouter>({ links: [httpLink({ url: `${fleet.url}/trpc` })] }).portal.view.query({
        token: t,
      });
    const viaApi = await fleet.api.upgrade.portalLink.mutate({ runId, recipient: 'Ann Lead', ttlHours: 24 });
    const created = await rollgate(
      fleet,
      token,
      'upgrade',
      'portal-link',
      'create',
      runId,
      '--recipient',
      'Bob Customer',
      '--json',
    );
    expect(created.code).toBe(0);
    const viaCli = JSON.parse(created.stdout) as { token: string; id: string };

    // The portal: step, role and a reason class; not one word of the agent's reason.
    const view = await portal(viaApi.token);
    expect(view.status).toBe('paused');
    expect(view.failure).toMatchObject({ roles: ['web'], step: { number: expect.any(Number) } });
    expect(view.failure!.summary).toMatch(/ \(at step \d+ \(.+\) on a web server\)$/);
    const shown = JSON.stringify(view);
    for (const word of ['disk full', 'secret-volume', 'exe.ssap', 'OVERWRITE', '\\u001b']) {
      expect(shown).not.toContain(word);
    }

    // A viewer sees the links but cannot revoke one.
    const viewer = await fleet.createUser('vera', 'viewer', 'viewer-password-123');
    const list = await rollgate(fleet, viewer.token, 'upgrade', 'portal-link', 'list', runId);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${viaApi.id}\\s+Ann Lead\\s+active`));
    const refused = await rollgate(fleet, viewer.token, 'upgrade', 'portal-link', 'revoke', runId, viaApi.id);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/needs the operator role/);
    expect((await portal(viaApi.token)).runId).toBe(runId);

    // Revoked through the API, and through the CLI: neither opens anything afterwards.
    const revoked = await fleet.api.upgrade.revokePortalLink.mutate({ runId, linkId: viaApi.id });
    expect(revoked).toMatchObject({ id: viaApi.id, state: 'revoked' });
    const byCli = await rollgate(fleet, token, 'upgrade', 'portal-link', 'revoke', runId, viaCli.id);
    expect(byCli.code).toBe(0);
    expect(byCli.stdout).toContain(`Revoked portal link ${viaCli.id} of run ${runId}`);
    for (const t of [viaApi.token, viaCli.token]) {
      const err = await portal(t).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TRPCClientError);
      expect((err as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
      expect((err as Error).message).toMatch(/withdrawn by your service provider/);
    }
    const after = await rollgate(fleet, token, 'upgrade', 'portal-link', 'list', runId, '--json');
    expect((JSON.parse(after.stdout) as { state: string }[]).map((l) => l.state)).toEqual([
      'revoked',
      'revoked',
    ]);

    const audit = await fleet.api.audit.list.query();
    const revokes = audit.filter((e) => e.action === 'run.portal-link.revoke' && e.target === runId);
    expect(revokes.map((e) => (e.details as { linkId: string }).linkId).sort()).toEqual(
      [viaApi.id, viaCli.id].sort(),
    );
    expect(revokes.every((e) => !JSON.stringify(e).includes(viaApi.token))).toBe(true);
  });
});
