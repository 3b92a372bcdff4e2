// Agent identity (docs/adr/0013) with real processes over loopback: a coordinator (mTLS, its own
// CA, 20 s agent certificates), agents as their own processes (the run's bundle, else the
// sources), the `rollgate` CLI, and raw gRPC/HTTPS clients for what an agent would never do on
// its own.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { enrolmentProofPayload, formatJoinToken, parseJoinToken } from '@rollgate/domain';
import {
  appNodeArgs,
  cliNodeArgs,
  freePort,
  ROOT,
  startFleet,
  waitFor,
  type Fleet,
} from '@rollgate/demo-fleet';
import { loadAgentProtocol, type AgentMessage, type CoordinatorMessage__Output } from '@rollgate/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const LIFETIME_MS = 20_000;
const RATE_LIMIT = 8;

/** A new key pair and its proof of possession, as an agent makes them. */
function newKeyProof(serverId: string) {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const nonce = randomBytes(16).toString('base64url');
  const signature = sign(
    'sha256',
    Buffer.from(enrolmentProofPayload({ serverId, publicKeyPem, nonce })),
    k.privateKey,
  ).toString('base64');
  return {
    keyPem: k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    body: { publicKeyPem, nonce, signature },
  };
}

interface TestAgent {
  id: string;
  proc: ChildProcess;
  dataDir: string;
  output: () => string;
  exited: Promise<number | null>;
}

describe('agent identity: enrolment, mTLS, renewal, revocation', () => {
  let dir: string;
  let fleet: Fleet;
  let insecureFleet: Fleet | undefined;
  const started: TestAgent[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-enrol-'));
    fleet = await startFleet({
      dir: join(dir, 'secure'),
      agents: [],
      editions: [],
      heartbeatMs: 500,
      coordinatorEnv: {
        ROLLGATE_AGENT_CERT_LIFETIME_MS: String(LIFETIME_MS),
        ROLLGATE_IDENTITY_RECHECK_MS: '500',
        ROLLGATE_ENROL_RATE_LIMIT: String(RATE_LIMIT),
      },
    });
  });

  afterAll(async () => {
    for (const a of started) a.proc.kill('SIGKILL');
    await fleet?.stop();
    await insecureFleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** `rollgate …` as the fleet's administrator, against `f`. */
  async function cli(f: Fleet, ...args: string[]) {
    const { stdout } = await run(
      process.execPath,
      cliNodeArgs(['--url', f.url, '--token', f.admin.token, ...args]),
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } },
    );
    return stdout;
  }

  async function newToken(f: Fleet, ttl = '10m', cluster = 'enrol'): Promise<string> {
    const out = JSON.parse(
      await cli(f, 'agents', 'token', 'create', '--ttl', ttl, '--cluster', cluster, '--json'),
    ) as {
      token: string;
    };
    return out.token;
  }

  async function startAgent(
    f: Fleet,
    id: string,
    o: { token?: string; insecure?: boolean; cluster?: string } = {},
  ): Promise<TestAgent> {
    const dataDir = join(dir, 'agents', id);
    await mkdir(dataDir, { recursive: true });
    const configPath = join(dir, 'agents', `${id}.json`);
    await writeFile(
      configPath,
      JSON.stringify({
        agentId: id,
        cluster: o.cluster ?? 'enrol',
        role: 'web',
        coordinator: {
          address: f.grpcAddress,
          enrolAddress: f.enrolAddress,
          ...(o.insecure ? { insecure: true } : {}),
        },
        dataDir,
        gate: { host: '127.0.0.1', port: await freePort() },
        // Nothing to start: the service has no edition; the agent's stream is what is tested.
        services: [
          { name: 'noop', port: await freePort(), start: { command: process.execPath, args: ['-v'] } },
        ],
      }),
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.ROLLGATE_JOIN_TOKEN;
    if (o.token) env.ROLLGATE_JOIN_TOKEN = o.token;
    const proc = spawn(process.execPath, appNodeArgs('agent', ['--config', configPath]), {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = once(proc, 'exit').then(([code]) => code as number | null);
    const agent = { id, proc, dataDir, output: () => out, exited };
    started.push(agent);
    return agent;
  }

  const server = async (f: Fleet, id: string) =>
    (await f.api.servers.list.query({})).find((s) => s.id === id);

  async function exitOf(a: TestAgent, timeoutMs = 30_000): Promise<number | null> {
    const t = setTimeout(() => a.proc.kill('SIGKILL'), timeoutMs);
    const code = await a.exited;
    clearTimeout(t);
    return code;
  }

  const identityOf = async (a: TestAgent) => ({
    caPem: await readFile(join(a.dataDir, 'identity', 'ca.crt'), 'utf8'),
    keyPem: await readFile(join(a.dataDir, 'identity', 'agent.key'), 'utf8'),
    certPem: await readFile(join(a.dataDir, 'identity', 'agent.crt'), 'utf8'),
  });

  function post(path: string, body: unknown, tls: { caPem: string; keyPem?: string; certPem?: string }) {
    const [host, port] = fleet.enrolAddress.split(':');
    return new Promise<{ status: number; body: { error?: string }; retryAfter?: string }>(
      (resolve, reject) => {
        const req = request(
          {
            host,
            port: Number(port),
            path,
            method: 'POST',
            ca: tls.caPem,
            ...(tls.keyPem ? { key: tls.keyPem, cert: tls.certPem } : {}),
            headers: { 'content-type': 'application/json' },
            agent: false,
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(text) as { error?: string },
                retryAfter: res.headers['retry-after'] as string | undefined,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(body));
      },
    );
  }

  /** A Connect stream with the given credentials; resolves with the call's final status. */
  function helloWith(creds: grpc.ChannelCredentials, agentId: string, address = fleet.grpcAddress) {
    const proto = loadAgentProtocol();
    const client = new proto.rollgate.agent.v1.AgentService(address, creds);
    const call = client.Connect(new grpc.Metadata());
    const welcomed = new Promise<boolean>((resolve) => {
      call.on('data', (m: CoordinatorMessage__Output) => {
        if (m.body === 'welcome') resolve(true);
      });
      call.on('status', () => resolve(false));
    });
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    const hello: AgentMessage = {
      hello: {
        agentId,
        cluster: 'enrol',
        role: 'web',
        hostname: 'test',
        agentVersion: 'test',
        gateUrl: 'http://127.0.0.1:1/gate',
      },
    };
    call.write(hello);
    return {
      welcomed,
      status: Promise.race([
        status,
        new Promise<grpc.StatusObject>((r) =>
          setTimeout(() => {
            call.cancel();
            r({
              code: grpc.status.DEADLINE_EXCEEDED,
              details: 'no status within 10 s',
              metadata: new grpc.Metadata(),
            });
          }, 10_000),
        ),
      ]).finally(() => client.close()),
    };
  }

  let first: TestAgent;
  let firstToken: string;
  /** enr-1's certificate from its enrolment. */
  let firstCert: X509Certificate;

  it('enrols with a join token and connects over mTLS; the key stays 0600 on the agent; the token is in no log or answer', async () => {
    firstToken = await newToken(fleet);
    expect(parseJoinToken(firstToken)).not.toBeNull();
    const t0 = Date.now();
    first = await startAgent(fleet, 'enr-1', { token: firstToken });
    await waitFor(
      'enr-1 to say it enrolled',
      async () => first.output().includes('"msg":"enrolled: certificate received"'),
      30_000,
    );
    const enrolledMs = Date.now() - t0;
    await waitFor(
      'enr-1 connected',
      async () => (await server(fleet, 'enr-1'))?.status === 'connected',
      30_000,
    );
    const connectedMs = Date.now() - t0;

    const row = (await server(fleet, 'enr-1'))!;
    expect(row.insecure).toBe(false);
    const idDir = join(first.dataDir, 'identity');
    expect((await stat(idDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(idDir, 'agent.key'))).mode & 0o777).toBe(0o600);
    const { caPem, certPem } = await identityOf(first);
    const cert = new X509Certificate(certPem);
    firstCert = cert;
    expect(cert.subject).toBe('CN=enr-1');
    expect(cert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    expect(new X509Certificate(caPem).fingerprint256.replace(/:/g, '').toLowerCase()).toBe(
      parseJoinToken(firstToken)!.caFingerprint,
    );

    const audit = await fleet.api.audit.list.query();
    const created = audit.find((e) => e.action === 'agents.token-create');
    expect(created).toMatchObject({ actor: expect.stringContaining('admin') });
    expect(created?.details).toMatchObject({ from: expect.stringMatching(/127\.0\.0\.1/) });
    expect(audit.find((e) => e.action === 'agents.enrol' && e.target === 'enr-1')?.details).toMatchObject({
      from: expect.stringMatching(/127\.0\.0\.1/),
    });
    const secret = parseJoinToken(firstToken)!.secret;
    const coordinatorLog = await readFile(join(dir, 'secure', 'logs', 'coordinator.log'), 'utf8');
    for (const text of [
      coordinatorLog,
      first.output(),
      JSON.stringify(audit),
      JSON.stringify(await fleet.api.servers.list.query({})),
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(first.output()).not.toContain('BEGIN PRIVATE KEY');

    // TLS handshake cost with the agent's certificate (the enrolment port: the same TLS stack as gRPC).
    const { keyPem } = await identityOf(first);
    const [host, port] = fleet.enrolAddress.split(':');
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = performance.now();
      await new Promise<void>((resolve, reject) => {
        const sock = tlsConnect({ host, port: Number(port), ca: caPem, key: keyPem, cert: certPem }, () => {
          times.push(performance.now() - s);
          sock.end();
          resolve();
        });
        sock.on('error', reject);
      });
    }
    times.sort((a, b) => a - b);
    console.log(
      `enrolment: agent start → enrolled ${enrolledMs} ms, → connected over mTLS ${connectedMs} ms (includes tsx start-up); ` +
        `mTLS handshake (ECDSA P-256, loopback): median ${times[10]!.toFixed(1)} ms, max ${times[19]!.toFixed(1)} ms over 20`,
    );
  });

  it('a join token is single-use: a second enrolment with it fails with a clear message', async () => {
    const second = await startAgent(fleet, 'enr-2', { token: firstToken });
    expect(await exitOf(second)).toBe(1);
    expect(second.output()).toContain('the join token was already used (tokens are single-use)');
    expect(await server(fleet, 'enr-2')).toBeUndefined();
  });

  it('only operators and administrators create join tokens and revoke', async () => {
    const viewer = await fleet.createUser('vera', 'viewer', 'viewer-password-1');
    await expect(
      viewer.api.agents.createJoinToken.mutate({ ttlSeconds: 60, cluster: 'enrol' }),
    ).rejects.toThrow(/needs the operator role/);
    await expect(viewer.api.agents.revoke.mutate({ serverId: 'enr-1' })).rejects.toThrow(
      /needs the operator role/,
    );
    const operator = await fleet.createUser('olga', 'operator', 'operator-password-1');
    const made = await operator.api.agents.createJoinToken.mutate({ ttlSeconds: 60, cluster: 'enrol' });
    expect(parseJoinToken(made.token)).not.toBeNull();
    await expect(
      operator.api.agents.createJoinToken.mutate({ ttlSeconds: 8 * 86_400, cluster: 'enrol' }),
    ).rejects.toThrow(/at most 7 days/);
  });

  it('an expired token is refused', async () => {
    const token = await newToken(fleet, '1s');
    await new Promise((r) => setTimeout(r, 1500));
    const late = await startAgent(fleet, 'enr-3', { token });
    expect(await exitOf(late)).toBe(1);
    expect(late.output()).toContain('the join token has expired');
  });

  it('an agent pins the CA: a token naming another CA is never sent', async () => {
    const token = parseJoinToken(await newToken(fleet))!;
    const forged = formatJoinToken({ ...token, caFingerprint: 'ab'.repeat(32) });
    const agent = await startAgent(fleet, 'enr-4', { token: forged });
    expect(await exitOf(agent)).toBe(1);
    expect(agent.output()).toContain('does not present the CA the join token names');
    // The token was not consumed: the coordinator never saw it.
    const audit = await fleet.api.audit.list.query();
    expect(audit.some((e) => e.action.startsWith('agents.enrol') && e.target === 'enr-4')).toBe(false);
  });

  it('the gateway refuses a Hello whose server id differs from the certificate', async () => {
    const { caPem, keyPem, certPem } = await identityOf(first);
    const creds = grpc.credentials.createSsl(Buffer.from(caPem), Buffer.from(keyPem), Buffer.from(certPem));
    const impostor = helloWith(creds, 'enr-other');
    expect(await impostor.welcomed).toBe(false);
    const st = await impostor.status;
    expect(st.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(st.details).toContain('the certificate names server "enr-1" but Hello says "enr-other"');
    expect(await server(fleet, 'enr-other')).toBeUndefined();
  });

  it('a plaintext client to the TLS port fails', async () => {
    const plain = helloWith(grpc.credentials.createInsecure(), 'enr-1');
    expect(await plain.welcomed).toBe(false);
    expect((await plain.status).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('renews before expiry over mTLS and stays connected with the new certificate', async () => {
    const renewals = async () =>
      (await fleet.api.audit.list.query()).filter((e) => e.action === 'agents.renew' && e.target === 'enr-1');
    // 20 s certificates are renewed at 2/3 (~13.3 s): two renewals within ~30 s of the enrolment.
    await waitFor('two renewals of enr-1', async () => (await renewals()).length >= 2, 60_000, 250);
    // Past the first certificate's expiry, the agent is connected with a later one.
    await waitFor(
      'the enrolment certificate to expire',
      async () => Date.now() > Date.parse(firstCert.validTo) + 500,
      20_000,
    );
    await waitFor(
      'enr-1 connected with a renewed certificate',
      async () => (await server(fleet, 'enr-1'))?.status === 'connected',
      10_000,
    );
    const now = new X509Certificate((await identityOf(first)).certPem);
    expect(now.serialNumber).not.toBe(firstCert.serialNumber);
    expect(Date.parse(now.validTo)).toBeGreaterThan(Date.now());
    expect(first.proc.exitCode).toBeNull();
    const chain = (await renewals()).map((r) => r.details as { previous: string; serial: string });
    // Serials are stored in lowercase hex without leading zeros.
    expect(chain.map((r) => r.previous)).toContain(firstCert.serialNumber.toLowerCase().replace(/^0+/, ''));

    const lines = first
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { time: string | number; msg: string; reason?: string })
      .map((l) => ({ ...l, at: typeof l.time === 'number' ? l.time : Date.parse(l.time) }));
    expect(lines.filter((l) => l.msg === 'enrolled: certificate received')).toHaveLength(1);
    const renewedAt = lines.filter((l) => l.msg === 'certificate renewed: reconnecting with it');
    expect(renewedAt.length).toBeGreaterThanOrEqual(2);
    // The only times the stream ended were the renewals' own reconnects (never a refusal or expiry).
    const lost = lines.filter((l) => l.msg === 'connection to coordinator lost');
    expect(lost.map((l) => l.reason)).toEqual(lost.map(() => 'certificate renewed'));
    const gaps = renewedAt.map((r) => {
      const next = lines.find((x) => x.at >= r.at && x.msg === 'connected to coordinator');
      return next ? next.at - r.at : NaN;
    });
    // Every renewal but one happening right now is followed by a connected stream.
    expect(gaps.filter((g) => Number.isFinite(g)).length).toBeGreaterThanOrEqual(renewedAt.length - 1);
    console.log(
      `renewal: ${renewedAt.length} renewals; stream back with the new certificate after ${gaps.join(', ')} ms`,
    );
  });

  it('a restart in the middle of a renewal (new key in place, its certificate not yet) is finished on the next start', async () => {
    // Stopped right after one of its renewals: the certificate on disk has most of its 20 s left.
    const renewals = () => first.output().split('"msg":"certificate renewed"').length;
    const seen = renewals();
    await waitFor('enr-1 to renew once more', async () => renewals() > seen, 20_000, 50);
    first.proc.kill('SIGTERM');
    expect(await exitOf(first)).toBe(0);
    const { caPem, keyPem, certPem } = await identityOf(first);
    const next = newKeyProof('enr-1');
    const renewed = await post('/v1/renew', next.body, { caPem, keyPem, certPem });
    expect(renewed.status).toBe(200);
    const idDir = join(first.dataDir, 'identity');
    await writeFile(join(idDir, 'agent.key'), next.keyPem, { mode: 0o600 });
    await writeFile(join(idDir, 'agent.crt.tmp'), (renewed.body as unknown as { certPem: string }).certPem);
    first = await startAgent(fleet, 'enr-1');
    await waitFor(
      'enr-1 connected again',
      async () => first.output().includes('"msg":"connected to coordinator"'),
      30_000,
    );
    expect(first.output()).toContain('finished a certificate renewal interrupted by a restart');
    expect(first.output()).not.toContain('enrolling with the join token');
    expect((await server(fleet, 'enr-1'))?.status).toBe('connected');
  });

  it('revoke: the stream is closed, Hello is refused, renewal is refused; audited', async () => {
    const out = await cli(fleet, 'agents', 'revoke', 'enr-1');
    expect(out).toMatch(/enr-1: \d+ certificate\(s\) revoked/);
    // The agent's certificate is short-lived here (LIFETIME_MS) and can no longer be renewed:
    // present it at once, while it is still within its validity, so the refusal is revocation's.
    const { caPem, keyPem, certPem } = await identityOf(first);
    const creds = grpc.credentials.createSsl(Buffer.from(caPem), Buffer.from(keyPem), Buffer.from(certPem));
    const st = await helloWith(creds, 'enr-1').status;
    expect(st.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(st.details).toContain('revoked');
    await waitFor(
      'enr-1 no longer connected',
      async () => (await server(fleet, 'enr-1'))?.status !== 'connected',
      10_000,
    );
    // It keeps trying (back-off) and keeps being refused.
    await waitFor(
      'the agent told it was revoked',
      async () => first.output().includes('this agent was revoked'),
      30_000,
    );
    expect((await server(fleet, 'enr-1'))?.status).not.toBe('connected');

    const renew = await post('/v1/renew', newKeyProof('enr-1').body, { caPem, keyPem, certPem });
    expect(renew.status).toBe(403);
    expect(renew.body.error).toContain('revoked');

    const audit = await fleet.api.audit.list.query();
    expect(audit.find((e) => e.action === 'agents.revoke' && e.target === 'enr-1')).toMatchObject({
      actor: expect.stringContaining('admin'),
      details: { from: expect.stringMatching(/127\.0\.0\.1/) },
    });
    first.proc.kill('SIGTERM');
  });

  it('insecure mode works only when both sides opt in', async () => {
    // An insecure agent against the mTLS coordinator never connects.
    const plainAgent = await startAgent(fleet, 'ins-0', { insecure: true });
    await waitFor(
      'ins-0 says it runs insecure',
      async () => plainAgent.output().includes('insecure mode'),
      30_000,
    );
    // Its attempts fail at the TLS port: give it a few of them, then it must still be unknown.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await server(fleet, 'ins-0')).toBeUndefined();
    plainAgent.proc.kill('SIGTERM');

    insecureFleet = await startFleet({
      dir: join(dir, 'insecure'),
      agents: [],
      editions: [],
      heartbeatMs: 500,
      insecure: true,
    });
    const log = await readFile(join(dir, 'insecure', 'logs', 'coordinator.log'), 'utf8');
    expect(log).toContain('ROLLGATE_INSECURE_AGENTS is set');
    // Both opted in: connected, and flagged.
    const ok = await startAgent(insecureFleet, 'ins-1', { insecure: true });
    await waitFor(
      'ins-1 connected',
      async () => (await server(insecureFleet!, 'ins-1'))?.status === 'connected',
      30_000,
    );
    expect((await server(insecureFleet, 'ins-1'))?.insecure).toBe(true);
    ok.proc.kill('SIGTERM');
    // The agent did not opt in: without an identity it will not start in plaintext.
    const secureAgent = await startAgent(insecureFleet, 'ins-2');
    expect(await exitOf(secureAgent)).toBe(1);
    expect(secureAgent.output()).toContain('this agent has no identity yet');
    // An insecure coordinator has no join tokens to give.
    await expect(
      insecureFleet.api.agents.createJoinToken.mutate({ ttlSeconds: 60, cluster: 'enrol' }),
    ).rejects.toThrow(/ROLLGATE_INSECURE_AGENTS/);
  });

  it('rate limits failed enrolment attempts per address; then even a valid token waits', async () => {
    const caPem = await readFile(join(dir, 'secure', 'coordinator', 'agent-ca', 'ca.crt'), 'utf8');
    const bad = {
      serverId: 'brute-1',
      tokenId: '0123456789abcdef',
      secret: 'x'.repeat(43),
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n',
      nonce: 'n'.repeat(16),
      signature: 'AAAAAAAA',
    };
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < RATE_LIMIT + 1 && !limited; i++) {
      const r = await post('/v1/enrol', bad, { caPem });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    expect(limited?.body.error).toMatch(/too many failed enrolment attempts from .*: try again in \d+ s/);
    expect(Number(limited?.retryAfter)).toBeGreaterThan(0);
    const token = await newToken(fleet);
    const agent = await startAgent(fleet, 'enr-5', { token });
    expect(await exitOf(agent)).toBe(1);
    expect(agent.output()).toContain('too many failed enrolment attempts');
  });
});
