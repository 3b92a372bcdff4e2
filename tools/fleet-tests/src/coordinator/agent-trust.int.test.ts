// Issue 17 items 1 and 3, played by an attacker (docs/adr/0018): a test client holding a VALID
// certificate for one server of the demo fleet (real coordinator, real PostgreSQL, real agents)
// forges results for another server's action, says Hello as another cluster, enrols as a live
// server and downloads editions it has no business with. Each must be refused and audited, and
// the run and its actions must be left exactly as they were.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { enrolmentProofPayload, parseJoinToken } from '@rollgate/domain';
import { cliNodeArgs, ROOT, startFleet, waitFor, type Fleet, type FleetAgent } from '@rollgate/demo-fleet';
import {
  loadAgentProtocol,
  type AgentMessage,
  type CoordinatorMessage__Output,
  type Hello,
} from '@rollgate/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
/** The victim's drain waits this long for the session the test holds open: the window to attack in. */
const DRAIN_SEC = 120;

type Status = { runningAction: { actionId: string; op: string } | null };

interface Identity {
  serverId: string;
  keyPem: string;
  certPem: string;
  caPem: string;
}

describe('issue 17: an agent is trusted with its own server only', () => {
  let dir: string;
  let fleet: Fleet;
  let victim: FleetAgent;
  let session: Socket | undefined;
  let caPem: string;
  /** Enrolled in the victim's cluster (demo), as a compromised server of that customer would be. */
  let evil: Identity;
  /** Enrolled in another cluster. */
  let far: Identity;
  const clients: grpc.Client[] = [];

  /** POST to the enrolment port, trusting the fleet's CA. */
  function post(path: string, body: unknown) {
    const [host, port] = fleet.enrolAddress.split(':');
    return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = request(
        {
          host,
          port: Number(port),
          path,
          method: 'POST',
          ca: caPem,
          headers: { 'content-type': 'application/json' },
          agent: false,
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
          );
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }

  async function token(cluster: string, serverId?: string) {
    const t = await fleet.api.agents.createJoinToken.mutate({
      ttlSeconds: 600,
      cluster,
      ...(serverId ? { serverId } : {}),
    });
    return parseJoinToken(t.token)!;
  }

  /** Enrols `serverId` as an agent would (a new key, its proof of possession). */
  async function enrol(serverId: string, cluster: string) {
    const t = await token(cluster);
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicKeyPem = k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const nonce = randomBytes(16).toString('base64url');
    const signature = sign(
      'sha256',
      Buffer.from(enrolmentProofPayload({ serverId, publicKeyPem, nonce })),
      k.privateKey,
    ).toString('base64');
    const res = await post('/v1/enrol', {
      serverId,
      tokenId: t.id,
      secret: t.secret,
      publicKeyPem,
      nonce,
      signature,
    });
    return { res, keyPem: k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  }

  async function enrolled(serverId: string, cluster: string): Promise<Identity> {
    const { res, keyPem } = await enrol(serverId, cluster);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { serverId, keyPem, certPem: res.body.certPem as string, caPem: res.body.caCertPem as string };
  }

  function client(id: Identity) {
    const proto = loadAgentProtocol();
    const c = new proto.rollgate.agent.v1.AgentService(
      fleet.grpcAddress,
      grpc.credentials.createSsl(Buffer.from(id.caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem)),
    );
    clients.push(c);
    return c;
  }

  /** A Connect stream saying Hello as `id`; resolves once welcomed or refused. */
  async function connect(id: Identity, hello: Partial<Hello> = {}) {
    const call = client(id).Connect(new grpc.Metadata());
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    const welcomed = new Promise<boolean>((resolve) => {
      call.on('data', (m: CoordinatorMessage__Output) => m.body === 'welcome' && resolve(true));
      void status.then(() => resolve(false));
    });
    const msg: AgentMessage = {
      hello: {
        agentId: id.serverId,
        cluster: 'demo',
        role: 'intruder',
        hostname: 'attacker',
        agentVersion: '0.1.0',
        gateUrl: 'http://127.0.0.1:1/gate',
        ...hello,
      },
    };
    call.write(msg);
    return { call, welcomed: await welcomed, status };
  }

  async function fetchArtifact(id: Identity, sha256: string, agentId = id.serverId) {
    return new Promise<{ code: string; details: string; bytes: number }>((resolve) => {
      const s = client(id).FetchArtifact({ sha256, agentId });
      let bytes = 0;
      s.on('data', (c: { data: Buffer }) => (bytes += c.data.length));
      s.on('error', (err: grpc.ServiceError) =>
        resolve({ code: grpc.status[err.code] ?? String(err.code), details: err.details, bytes }),
      );
      s.on('end', () => resolve({ code: 'OK', details: '', bytes }));
    });
  }

  const audit = async (action: string) =>
    (await fleet.api.audit.list.query()).filter((e) => e.action === action);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-agent-trust-'));
    fleet = await startFleet({ dir, heartbeatMs: 500 });
    victim = fleet.agents.find((a) => a.id === 'admin-1')!;
    caPem = await readFile(join(dir, 'coordinator', 'agent-ca', 'ca.crt'), 'utf8');
    evil = await enrolled('evil-1', 'demo');
    far = await enrolled('far-1', 'elsewhere');
  });

  afterAll(async () => {
    session?.destroy();
    for (const c of clients) c.close();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('issue 17 item 1: forged FAILED/SUCCEEDED for another server, for an undispatched action and via Hello.journaled are refused and audited; the run is untouched', async () => {
    // The victim's drain waits for this client session: its action stays running while we attack.
    session = createConnection({ host: '127.0.0.1', port: victim.servicePort });
    session.on('error', () => undefined);
    await new Promise((r) => session!.once('connect', r));
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      drainageIntervalSec: DRAIN_SEC,
      signOff: false,
    });
    const runId = start.run.id;
    const stopStep = start.steps.find(
      (s) => s.kind === 'stop' && s.phase !== 'preparation' && s.leavesRotation.includes(victim.id),
    )!;
    const target = `${runId}.s${stopStep.index}.${victim.id}.a1`;
    const notYet = `${runId}.s${stopStep.index + 1}.${victim.id}.a1`;
    await waitFor(
      `${victim.id} to be draining`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${victim.gatePort}/status`);
        const s = (await res.json()) as Status;
        return s.runningAction?.actionId === target && s.runningAction.op.startsWith('drain') ? s : null;
      },
      90_000,
      50,
    );
    // The run, its step and the victim's action (the step's other servers go on meanwhile).
    const snapshot = async () => {
      const v = await fleet.api.upgrade.status.query({ runId });
      const all = v.steps.flatMap((s) => s.actions);
      const a = all.find((x) => x.id === target)!;
      return {
        run: [v.run.status, v.run.currentStep, v.run.failure ?? null],
        step: v.steps[stopStep.index]!.status,
        target: [a.status, a.error, a.results, a.finishedAt],
        notYet: all.some((x) => x.id === notYet),
      };
    };
    // The agent has reported its drain op as running; compare against the state once the
    // coordinator has that report too, not a moment before it (then "nothing moved" means it).
    const before = await waitFor(
      `${target} recorded as running`,
      async () => {
        const s = await snapshot();
        return s.target[0] === 'running' ? s : null;
      },
      30_000,
      50,
    );
    expect(before.run[0]).toBe('running');
    expect(before.notYet).toBe(false);
    const refusedBefore = (await audit('agents.update-refused')).length;

    const attacker = await connect(evil);
    expect(attacker.welcomed).toBe(true);
    const forge = (actionId: string, status: string, extra: Record<string, unknown> = {}) =>
      attacker.call.write({
        actionUpdate: { actionId, status, reason: 'disk on fire', atMs: Date.now(), ...extra },
      } as AgentMessage);
    forge(target, 'ACTION_STATUS_FAILED');
    forge(target, 'ACTION_STATUS_SUCCEEDED', {
      resultJson: JSON.stringify({
        kind: 'dbBackup',
        file: '/x.dump',
        bytes: 1,
        sha256: 'a'.repeat(64),
        tables: { t: 1 },
        verified: true,
        verifyMs: 1,
      }),
    });
    forge(notYet, 'ACTION_STATUS_SUCCEEDED');
    // A malformed result of a known kind (a dbBackup without its checksum, a huge file name).
    forge(target, 'ACTION_STATUS_SUCCEEDED', {
      resultJson: JSON.stringify({ kind: 'dbBackup', file: 'f'.repeat(10_000), verified: true }),
    });
    attacker.call.end();
    // Hello's journal reaches the same check: a new stream of the same (valid) certificate.
    const journal = await connect(evil, {
      journaled: [
        { actionId: target, status: 'ACTION_STATUS_FAILED', reason: 'from the journal', atMs: Date.now() },
      ],
    });
    expect(journal.welcomed).toBe(true);

    const refused = await waitFor(
      'five refusals in the audit log',
      async () => {
        const r = await audit('agents.update-refused');
        return r.length >= refusedBefore + 5 ? r.slice(0, r.length - refusedBefore) : null;
      },
      20_000,
      50,
    );
    const whys = refused.map((e) => ({
      actor: e.actor,
      target: e.target,
      via: e.details.via,
      why: String(e.details.why),
    }));
    expect(whys).toContainEqual({
      actor: 'agent:evil-1',
      target,
      via: 'journal',
      why: `action ${target} belongs to server ${victim.id}, not to evil-1`,
    });
    expect(
      whys.filter((w) => w.target === target && w.via === 'update' && /belongs to server/.test(w.why)),
    ).toHaveLength(2);
    expect(whys).toContainEqual({
      actor: 'agent:evil-1',
      target: notYet,
      via: 'update',
      why: `there is no action ${notYet}`,
    });
    expect(whys.find((w) => /the result is refused/.test(w.why))?.why).toMatch(/sha256|file/);
    journal.call.end();

    // Nothing moved: the run, its step and every action are as they were.
    expect(await snapshot()).toEqual(before);
    const log = await fleet.api.upgrade.status.query({ runId });
    expect(JSON.stringify(log)).not.toContain('disk on fire');

    // The real agent's own report is still taken: let the drain end; its action succeeds.
    session.destroy();
    session = undefined;
    await waitFor(
      `${victim.id}'s real result to be taken`,
      async () => {
        const v = await fleet.api.upgrade.status.query({ runId });
        const a = v.steps[stopStep.index]!.actions.find((x) => x.id === target);
        return a?.status === 'succeeded' ? a : null;
      },
      90_000,
      100,
    );
    await fleet.api.upgrade.abort.mutate({ runId, reason: 'test over' }).catch(() => undefined);
  });

  it('issue 17 item 3: a join token without a cluster is refused at creation (API and CLI)', async () => {
    await expect(
      fleet.api.agents.createJoinToken.mutate({ ttlSeconds: 60 } as unknown as {
        ttlSeconds: number;
        cluster: string;
      }),
    ).rejects.toThrow(/cluster/);
    const cli = run(
      process.execPath,
      cliNodeArgs(['--url', fleet.url, '--token', fleet.admin.token, 'agents', 'token', 'create']),
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } },
    );
    const err = (await cli.then(
      () => null,
      (e: unknown) => e,
    )) as { code: number; stderr: string } | null;
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain('a join token must name the cluster its agent joins');
    expect(err?.stderr).toContain('--cluster');
  });

  it('issue 17 item 3: enrolling with a fresh token as a live server id is refused; the real agent keeps its stream', async () => {
    const live = () => fleet.api.servers.list.query({}).then((l) => l.find((s) => s.id === victim.id)!);
    const before = await live();
    expect(before.status).toBe('connected');
    const { res } = await enrol(victim.id, 'demo');
    expect(res.status).toBe(409);
    expect(String(res.body.error)).toContain(`rollgate agents revoke ${victim.id}`);
    const refusal = (await audit('agents.enrol-refused')).find((e) => e.target === victim.id);
    expect(refusal?.details.why).toBe('server id enrolled and live');
    // Still the same stream, and it keeps talking after the attempt.
    const after = Date.now();
    const now = await waitFor(
      `a heartbeat of ${victim.id} after the attempt`,
      async () => {
        const s = await live();
        return (s.lastHeartbeatAt ?? 0) > after ? s : null;
      },
      20_000,
      100,
    );
    expect(now.status).toBe('connected');
    expect(now.connectedAt).toBe(before.connectedAt);
    // A token naming a server id enrols that id only.
    const named = await token('demo', 'spare-1');
    expect(named.id).toBeTruthy();
  });

  it('issue 17 item 3: a Hello naming another cluster (or role) than the pinned one is refused and audited', async () => {
    const other = await connect(evil, { cluster: 'other' });
    expect(other.welcomed).toBe(false);
    const st = await other.status;
    expect(st.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(st.details).toContain('server "evil-1" is pinned to cluster "demo" but Hello says "other"');
    const role = await connect(evil, { role: 'admin' });
    expect(role.welcomed).toBe(false);
    expect((await role.status).details).toContain('pinned to role "intruder"');
    const audited = (await audit('agents.hello-refused')).filter((e) => e.target === 'evil-1');
    expect(audited.map((e) => e.details.cluster)).toEqual(expect.arrayContaining(['other']));
    expect(audited.length).toBeGreaterThanOrEqual(2);
    const servers = await fleet.api.servers.list.query({});
    expect(servers.find((s) => s.id === 'evil-1')?.cluster).toBe('demo');
    expect(servers.some((s) => s.cluster === 'other')).toBe(false);
  });

  it("issue 17 item 3: FetchArtifact of another cluster's edition is refused; after revoke it is refused for the revocation", async () => {
    const edition = (await fleet.api.editions.list.query({})).find((e) => e.name === '2.0')!;
    const farFetch = await fetchArtifact(far, edition.sha256);
    expect(farFetch).toMatchObject({ code: 'PERMISSION_DENIED', bytes: 0 });
    expect(farFetch.details).toContain('no action of server "far-1" installs');
    // Claiming to be a server that has the edition planned does not help: the certificate decides.
    const claimed = await fetchArtifact(far, edition.sha256, victim.id);
    expect(claimed.details).toContain('no action of server "far-1"');

    await fleet.api.agents.revoke.mutate({ serverId: 'far-1' });
    const revoked = await fetchArtifact(far, edition.sha256);
    expect(revoked).toMatchObject({ code: 'PERMISSION_DENIED', bytes: 0 });
    expect(revoked.details).toContain('this agent was revoked');
    // And its Hello (the same check, at every connect), audited like any refused Hello.
    const hello = await connect(far, { cluster: 'elsewhere' });
    expect(hello.welcomed).toBe(false);
    expect((await hello.status).details).toContain('this agent was revoked');
    expect((await audit('agents.hello-refused')).some((e) => e.target === 'far-1')).toBe(true);
  });
});
