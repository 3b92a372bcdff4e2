// Issue 16 item 4, for real: a coordinator runs an upgrade of the demo fleet; webhook receivers on
// loopback (node:http, checking the HMAC) get the run's events; one that answers 500 twice gets the
// event on the third attempt; one that is down while the coordinator restarts gets it afterwards
// (the delivery is in PostgreSQL); Debian's Python smtpd receives the announcement for the contacts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, freePort, runSucceeded, startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';

const SECRET = randomBytes(24).toString('hex');
const CONTACTS = {
  lead: { name: 'Lea Lead', email: 'lea@customer.example.test' },
  appAdmin: { name: 'Ada Admin', email: 'ada@customer.example.test' },
  lbAdmin: { name: 'Lou Balancer', phone: '+44 20 7946 0000' },
};

interface Received {
  headers: IncomingHttpHeaders;
  body: { event: string; runId: string; delivery: number; [k: string]: unknown };
  valid: boolean;
}

/** A webhook receiver that verifies every request's signature; `answer(n)` is the nth one's status. */
function receiver(answer: (n: number) => number) {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const expected = `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
      const sig = String(req.headers['x-rollgate-signature'] ?? '');
      const valid =
        sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
      got.push({ headers: req.headers, body: JSON.parse(raw) as Received['body'], valid });
      const status = answer(got.length);
      res.writeHead(status).end(status === 200 ? 'ok' : 'try again later');
    });
  });
  return {
    got,
    async listen(port: number) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      return `http://127.0.0.1:${port}/hooks/rollgate?source=test`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

describe('notifications: signed webhooks with retries and a delivery log, email to the contacts (issue 16 item 4)', () => {
  let dir: string;
  let fleet: Fleet;
  let smtpd: ChildProcess;
  let smtpOut = '';
  const ok = receiver(() => 200);
  const flaky = receiver((n) => (n <= 2 ? 500 : 200));
  const late = receiver(() => 200);
  let latePort: number;
  let runId: string;
  const subs: Record<string, string> = {};
  /** Secrets this file creates, for the suite's secret scan of every log (see afterAll). */
  const secrets = [SECRET];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-notify-'));
    const smtpPort = await freePort();
    // Debian's Python 3.11 still ships smtpd: a real SMTP server that prints what it receives.
    smtpd = spawn(
      'python3',
      ['-u', '-W', 'ignore', '-m', 'smtpd', '-n', '-c', 'DebuggingServer', `127.0.0.1:${smtpPort}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    smtpd.stdout!.on('data', (d: Buffer) => (smtpOut += d.toString('utf8')));
    smtpd.stderr!.on('data', (d: Buffer) => (smtpOut += d.toString('utf8')));
    await waitFor('the SMTP server to listen', () => canConnect(smtpPort), 15_000);
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      // 2.1 fails to start on admin-2: the last test's run stops on it.
      editions: ['1.0', '2.0', '2.1'],
      failEdition: { 'admin-2': '2.1' },
      coordinatorEnv: {
        ROLLGATE_SMTP_HOST: '127.0.0.1',
        ROLLGATE_SMTP_PORT: String(smtpPort),
        ROLLGATE_SMTP_FROM: 'rollgate@ops.example.test',
        ROLLGATE_NOTIFY_RETRY_BASE_MS: '200',
        ROLLGATE_NOTIFY_MAX_ATTEMPTS: '10',
        ROLLGATE_CONSOLE_URL: 'https://console.example.test/',
      },
    });
    latePort = await freePort();
    const secretFile = join(dir, 'hook.secret');
    await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const okUrl = await ok.listen(await freePort());
    const flakyUrl = await flaky.listen(await freePort());
    const sub = (webhook: string, events: string[]) =>
      fleet.api.notify.subscribe.mutate({
        cluster: 'demo',
        webhook: { url: webhook, secret: SECRET },
        events: events as ['started'],
      });
    // The CLI subscribes the first receiver, reading the secret from a file.
    const added = JSON.parse(
      await cli([
        'notify',
        'add',
        '--cluster',
        'demo',
        '--webhook',
        okUrl,
        '--secret-file',
        secretFile,
        '--json',
      ]),
    ) as { id: string; events: string[] };
    expect(added.events).toContain('started');
    subs.ok = added.id;
    subs.flaky = (await sub(flakyUrl, ['succeeded'])).id;
    // Nothing listens on latePort until the coordinator has been restarted.
    subs.late = (await sub(`http://127.0.0.1:${latePort}/late`, ['succeeded'])).id;
    subs.email = (await fleet.api.notify.subscribe.mutate({ cluster: 'demo', email: true })).id;

    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      drainageIntervalSec: 0,
      signOff: false,
      contacts: CONTACTS,
    });
    runId = start.run.id;
    await runSucceeded(fleet, runId);
    // The machine running the suite is shared: starting a fleet alone can take a minute there.
  }, 400_000);

  afterAll(async () => {
    await fleet?.stop();
    smtpd?.kill('SIGTERM');
    await Promise.all([ok.close(), flaky.close(), late.close()]);
    // The secret scan of `npm test` looks for these secrets in every archived log too.
    const archive = process.env.ROLLGATE_TEST_LOG_ARCHIVE;
    if (archive) {
      await appendFile(join(archive, `${basename(dir)}.secrets`), `\n${secrets.join('\n')}`).catch(
        () => undefined,
      );
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function cli(args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, ...args],
      { cwd: ROOT, env: { ...process.env, ROLLGATE_TOKEN: fleet.admin.token }, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  }

  it('the webhook receiver gets started and succeeded, each with a valid HMAC signature and a timestamp', async () => {
    const got = await waitFor(
      'the started and succeeded events at the receiver',
      () => {
        const events = ok.got.filter((r) => r.body.runId === runId).map((r) => r.body.event);
        return events.includes('started') && events.includes('succeeded') ? ok.got : null;
      },
      30_000,
    );
    for (const r of got) {
      expect(r.valid, `signature of ${r.body.event}`).toBe(true);
      expect(Number(r.headers['x-rollgate-timestamp'])).toBeGreaterThan(1_700_000_000);
      expect(r.headers['x-rollgate-event']).toBe(r.body.event);
    }
    const events = got.map((r) => r.body.event);
    expect(events.indexOf('started')).toBeLessThan(events.indexOf('succeeded'));
    expect(got.find((r) => r.body.event === 'succeeded')!.body).toMatchObject({
      cluster: 'demo',
      service: 'demo-app',
      edition: '2.0',
      code: 'RG0011I',
      reason: null,
    });
    // A body signed with another secret does not verify: the check above can fail.
    const forged = `sha256=${createHmac('sha256', 'not-the-secret').update(JSON.stringify(got[0]!.body)).digest('hex')}`;
    expect(forged).not.toBe(got[0]!.headers['x-rollgate-signature']);
  });

  it('a receiver that answers 500 twice gets the event on the third attempt; the delivery log shows 3 attempts', async () => {
    const [d] = await waitFor(
      'the flaky receiver’s delivery to be delivered',
      async () => {
        const rows = await fleet.api.notify.deliveries.query({ subscriptionId: subs.flaky });
        return rows[0]?.status === 'delivered' ? rows : null;
      },
      30_000,
    );
    expect(d).toMatchObject({ event: 'succeeded', runId, attempts: 3, lastStatus: 200, lastError: null });
    expect(flaky.got.map((r) => r.valid)).toEqual([true, true, true]);
    expect(new Set(flaky.got.map((r) => r.body.delivery))).toEqual(new Set([d!.id]));
    // The same log through the CLI.
    const rows = JSON.parse(await cli(['notify', 'deliveries', '--subscription', subs.flaky!, '--json'])) as {
      attempts: number;
      status: string;
    }[];
    expect(rows[0]).toMatchObject({ attempts: 3, status: 'delivered' });
  });

  it('the contacts get the announcement of `upgrade notice` by email over SMTP', async () => {
    await waitFor('the announcement at the SMTP server', () => smtpOut.includes('upgrade completed'), 30_000);
    expect(smtpOut).toMatch(/To: lea@customer\.example\.test, ada@customer\.example\.test/);
    expect(smtpOut).toContain('From: rollgate@ops.example.test');
    const { text: notice } = await fleet.api.upgrade.notice.query({ runId });
    // The announcement's first lines, as `rollgate upgrade notice` prints them.
    expect(smtpOut).toContain(notice.split('\n')[0]!);
    expect(smtpOut).toContain('will be upgraded to edition 2.0');
    const email = await fleet.api.notify.deliveries.query({ subscriptionId: subs.email });
    expect(email.map((d) => [d.event, d.status]).sort()).toEqual([
      ['started', 'delivered'],
      ['succeeded', 'delivered'],
    ]);
  });

  it('a pending delivery survives a coordinator restart and arrives once the receiver is up', async () => {
    await waitFor(
      'a failed attempt at the receiver that is down',
      async () => {
        const [d] = await fleet.api.notify.deliveries.query({ subscriptionId: subs.late });
        return d && d.status === 'pending' && d.attempts >= 1 && d.lastError ? d : null;
      },
      30_000,
    );
    await fleet.stopCoordinator('SIGTERM');
    await late.listen(latePort);
    await fleet.startCoordinator();
    const [d] = await waitFor(
      'the late receiver’s delivery after the restart',
      async () => {
        const rows = await fleet.api.notify.deliveries.query({ subscriptionId: subs.late });
        return rows[0]?.status === 'delivered' ? rows : null;
      },
      60_000,
    );
    expect(late.got).toHaveLength(1);
    expect(late.got[0]).toMatchObject({ valid: true, body: { event: 'succeeded', runId } });
    expect(d!.attempts).toBeGreaterThanOrEqual(2);
  });

  it('emails a new portal link to the lead contact on request; its token opens the run’s portal and is in that mail only', async () => {
    const sent = JSON.parse(await cli(['notify', 'portal-link', runId, '--ttl-hours', '2', '--json'])) as {
      linkId: string;
      recipient: string;
      email: string;
    };
    expect(sent).toMatchObject({ recipient: 'Lea Lead', email: 'lea@customer.example.test' });
    const token = await waitFor(
      'the portal link mail at the SMTP server',
      () => /https:\/\/console\.example\.test\/portal\/([A-Za-z0-9_-]+)/.exec(smtpOut)?.[1],
      30_000,
    );
    secrets.push(token);
    const view = await fleet.api.portal.view.query({ token });
    expect(view).toMatchObject({ runId, recipient: 'Lea Lead' });
    const links = await fleet.api.upgrade.portalLinks.query({ runId });
    expect(links.map((l) => l.id)).toContain(sent.linkId);
    // Neither the delivery log nor the coordinator's log holds the token.
    const deliveries = JSON.stringify(await fleet.api.notify.deliveries.query({ limit: 1000 }));
    expect(deliveries).not.toContain(token);
    expect(await readFile(join(dir, 'logs', 'coordinator.log'), 'utf8')).not.toContain(token);
  });

  it('never shows or logs the secret: not in notify list, not in the coordinator log', async () => {
    const listed = await cli(['notify', 'list', '--cluster', 'demo', '--json']);
    expect(listed).toContain(subs.ok);
    expect(listed).not.toContain(SECRET);
    const log = await readFile(join(dir, 'logs', 'coordinator.log'), 'utf8');
    expect(log).toContain('notification delivered');
    expect(log).not.toContain(SECRET);
    // The query string of a webhook URL may carry a token: logs show the URL without it.
    expect(log).not.toContain('source=test');
  });

  it('refuses bad input with a clear error and writes nothing', async () => {
    const before = (await fleet.api.notify.list.query({ cluster: 'demo' })).length;
    await expect(
      fleet.api.notify.subscribe.mutate({
        cluster: 'demo',
        webhook: { url: 'ftp://x.test/', secret: SECRET },
      }),
    ).rejects.toThrow(/http:\/\/ or https:\/\//);
    await expect(
      fleet.api.notify.subscribe.mutate({
        cluster: 'demo',
        webhook: { url: 'https://x.test/', secret: 'short' },
      }),
    ).rejects.toThrow(/at least 16 characters/);
    await expect(
      fleet.api.notify.subscribe.mutate({
        cluster: 'demo',
        webhook: { url: 'https://x.test/', secret: SECRET },
        events: ['exploded' as 'started'],
      }),
    ).rejects.toThrow(/an event is one of/);
    expect(await fleet.api.notify.list.query({ cluster: 'demo' })).toHaveLength(before);
    const removed = await fleet.api.notify.remove.mutate({ id: subs.late! });
    expect(removed.id).toBe(subs.late);
    expect(await fleet.api.notify.deliveries.query({ subscriptionId: subs.late })).toEqual([]);
  });

  it('a failed step sends "failed" with the reason and the choices; the rollback sends started and rolled-back, by webhook and to the contacts', async () => {
    // The coordinator was restarted above: its agents come back first.
    await fleet.waitConnected();
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.1',
      drainageIntervalSec: 0,
      healthTimeoutSec: 20,
      signOff: false,
      contacts: CONTACTS,
    });
    const failedRun = start.run.id;
    const failed = await waitFor(
      'the failed event at the receiver',
      () => ok.got.find((r) => r.body.runId === failedRun && r.body.event === 'failed'),
      150_000,
    );
    const view = await fleet.api.upgrade.status.query({ runId: failedRun });
    expect(view.run.status).toBe('paused');
    expect(failed.valid).toBe(true);
    expect(failed.body.reason).toBe(view.run.failure);
    expect(failed.body.choices).toEqual([
      { action: 'resume', command: `rollgate upgrade resume ${failedRun}` },
      { action: 'rollback', command: `rollgate upgrade rollback ${failedRun}` },
      { action: 'abort', command: `rollgate upgrade abort ${failedRun}` },
    ]);
    await waitFor(
      'the failure mail with the choices',
      () => smtpOut.includes(`abort: rollgate upgrade abort ${failedRun}`),
      30_000,
    );
    expect(smtpOut).toContain('upgrade step failed: paused for a decision');
    // Rolled back: the rollback run's start and end are notified, and its mail goes to the
    // contacts of the run it undoes (the rollback run has none of its own).
    const rb = await fleet.api.upgrade.rollback.mutate({ runId: failedRun, reason: 'notification test' });
    const rolledBack = await waitFor(
      'the rolled-back event at the receiver',
      () => ok.got.find((r) => r.body.runId === rb.run.id && r.body.event === 'rolled-back'),
      150_000,
    );
    expect(rolledBack).toMatchObject({ valid: true, body: { procedure: 'rollback', edition: '2.0' } });
    expect(ok.got.some((r) => r.body.runId === rb.run.id && r.body.event === 'started')).toBe(true);
    await waitFor('the rolled-back mail', () => smtpOut.includes('upgrade rolled back'), 30_000);
  });
});
