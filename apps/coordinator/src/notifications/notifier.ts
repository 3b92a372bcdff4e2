// The notifier (issue 16 item 4, docs/adr/0032): reads the engine's coded log lines as they are
// emitted, turns the run events among them into deliveries stored in PostgreSQL (one per
// subscription), and sends due deliveries: signed webhooks, and email to the run's contacts over
// SMTP with the announcement `rollgate upgrade notice` prints. Failed attempts are retried with
// exponential back-off up to a bound; every attempt is in the delivery log.
import { randomBytes } from 'node:crypto';
import type { RollgateDb } from '@rollgate/db';
import type { Contacts } from '@rollgate/domain';
import type { EngineStore, LogRecord, RunRecord } from '@rollgate/engine';
import {
  ApiError,
  DEFAULT_EMAIL_EVENTS,
  MAX_SUBSCRIPTIONS_PER_CLUSTER,
  NOTIFY_EVENTS,
  type NotifyServices,
  type NotifySubscriptionView,
} from '@rollgate/api';
import type { Logger } from '@rollgate/logger';
import { EVENT_CODES, eventOf, payloadOf, type EventPayload, type NotifyEvent } from './events';
import { createNotifyStore, type ClaimedDelivery } from './notify-store';
import { sendMail, SmtpError, type SmtpOptions } from './smtp-client';
import { postWebhook, redactUrl } from './webhook';

export interface NotifierOptions {
  pool: RollgateDb['pool'];
  store: Pick<EngineStore, 'getRun' | 'appendAudit'>;
  log: Logger;
  /** The announcement of a run, as `rollgate upgrade notice` prints it (services.runs.notice). */
  notice: (runId: string) => Promise<string>;
  /** The SMTP relay email goes through; without it email subscriptions are refused. */
  smtp?: SmtpOptions;
  /** Creates a customer portal link (services.auth.createPortalToken); without it none is emailed. */
  createPortalToken?: (
    runId: string,
    recipient: string,
    ttlMs: number,
    actor: string,
  ) => Promise<{ token: string; expiresAt: number; id: string }>;
  /** Withdraws a link whose mail could not be sent (services.auth.revokePortalLink). */
  revokePortalLink?: (runId: string, linkId: string) => Promise<unknown>;
  /** The console's public base URL, which portal links are under (ROLLGATE_CONSOLE_URL). */
  consoleUrl?: string;
  /** Attempts per delivery before it is given up (status failed); default 8. */
  maxAttempts?: number;
  /** Wait before the 2nd attempt, doubled for each next one, ms; default 5000. */
  retryBaseMs?: number;
  /** Longest wait between attempts, ms; default 10 min. */
  retryMaxMs?: number;
  /** Undelivered events one subscription may hold; past it new ones are dropped (logged); default 1000. */
  maxPending?: number;
  /** How often due deliveries are looked for, ms (an enqueue wakes the sender at once); default 1000. */
  pollMs?: number;
  /** Finished deliveries are kept this long in the log, ms; default 30 days. */
  keepFinishedMs?: number;
  /** Per webhook POST, ms; default 10000. */
  webhookTimeoutMs?: number;
  /** Default Date.now. */
  now?: () => number;
}

/** Events waiting to be turned into deliveries, in this process; past it lines are dropped (logged). */
const MAX_INTAKE = 1000;
/** Deliveries sent at once by one coordinator. */
const SEND_BATCH = 8;

interface EmailPayload {
  to: string[];
  subject: string;
  text: string;
  event: EventPayload;
}

/** The email addresses among a run's contacts (lead, administrators; on-call entries that are one). */
export function contactEmails(c: Contacts | undefined): string[] {
  if (!c) return [];
  const all = [c.lead.email, c.appAdmin.email, c.lbAdmin.email, ...(c.onCall ?? []).map((o) => o.contact)];
  return [...new Set(all.filter((e): e is string => !!e && /^[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+$/.test(e)))];
}

const SUBJECT: Record<NotifyEvent, string> = {
  scheduled: 'upgrade scheduled',
  started: 'upgrade started',
  phase: 'phase begins',
  paused: 'upgrade paused',
  failed: 'upgrade step failed: paused for a decision',
  'rollback-proposed': 'rollback proposed',
  'sign-off': 'waiting for your verification and sign-off',
  succeeded: 'upgrade completed',
  'rolled-back': 'upgrade rolled back',
  aborted: 'upgrade aborted',
};

export function createNotifier(opts: NotifierOptions) {
  const db = createNotifyStore(opts.pool);
  const log = opts.log;
  const now = opts.now ?? Date.now;
  const maxAttempts = opts.maxAttempts ?? 8;
  const retryBaseMs = opts.retryBaseMs ?? 5000;
  const retryMaxMs = opts.retryMaxMs ?? 600_000;
  const maxPending = opts.maxPending ?? 1000;
  const pollMs = opts.pollMs ?? 1000;
  const keepFinishedMs = opts.keepFinishedMs ?? 30 * 86_400_000;
  const webhookTimeoutMs = opts.webhookTimeoutMs ?? 10_000;
  const smtpTimeoutMs = opts.smtp?.timeoutMs ?? 20_000;
  // A claim outlives the longest send, so a live sender's delivery is never taken over.
  const holdMs = Math.max(webhookTimeoutMs, smtpTimeoutMs) + 30_000;

  let intake = 0;
  let intakeChain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let sending: Promise<void> = Promise.resolve();
  let again = false;
  let lastPrune = 0;

  /** The contacts confirmed for the run (a rollback: those of the run it undoes). */
  async function contactsOf(run: RunRecord): Promise<Contacts | undefined> {
    const own = run.readiness.find((g) => g.gate === 'contacts' && g.status === 'met')?.evidence;
    if (own) return own as Contacts;
    if (!run.parentRunId) return undefined;
    const parent = await opts.store.getRun(run.parentRunId);
    return parent ? await contactsOf(parent) : undefined;
  }

  async function toDeliveries(line: LogRecord): Promise<void> {
    const run = await opts.store.getRun(line.runId!);
    if (!run) return;
    const event = eventOf(line.code, run);
    if (!event) return;
    const payload = payloadOf(event, line, run);
    let email: EmailPayload | null = null;
    const emailFor = async (): Promise<EmailPayload | null> => {
      const to = contactEmails(await contactsOf(run));
      if (to.length === 0) return null;
      const notice = await opts
        .notice(run.id)
        .catch((err: unknown) => `(no announcement: ${(err as Error).message})`);
      const choices = payload.choices.map((c) => `  ${c.action}: ${c.command}`);
      return {
        to,
        subject: `[Rollgate] ${run.plan.service} ${run.plan.toEdition.name} on ${run.plan.cluster}: ${SUBJECT[event]}`,
        text: [
          `${payload.message} (${payload.at}, run ${run.id})`,
          ...(payload.reason ? ['', `Reason: ${payload.reason}`] : []),
          ...(choices.length ? ['', 'What can be done now:', ...choices] : []),
          '',
          '----',
          notice,
        ].join('\n'),
        event: payload,
      };
    };
    // Email needs its recipients and text before it is queued: looked up once, only when wanted.
    const subs = await db.listSubscriptions(run.plan.cluster);
    if (subs.some((s) => s.kind === 'email' && s.events.includes(event))) email = await emailFor();
    const r = await db.enqueue(
      run.plan.cluster,
      event,
      run.id,
      (kind) => (kind === 'webhook' ? payload : email),
      now(),
      maxPending,
    );
    if (r.dropped.length > 0) {
      log.warn(
        { event, runId: run.id, subscriptions: r.dropped, maxPending },
        'notification dropped: the subscription already holds too many undelivered events (is its receiver down?)',
      );
    }
    if (r.queued > 0) kick();
  }

  function onRecord(line: LogRecord): void {
    if (!line.runId || !EVENT_CODES.has(line.code)) return;
    if (intake >= MAX_INTAKE) {
      log.warn(
        { code: line.code, runId: line.runId },
        'notification dropped: too many events waiting to be queued',
      );
      return;
    }
    intake++;
    // In emission order, so a receiver sees started before succeeded.
    intakeChain = intakeChain
      .then(() => toDeliveries(line))
      .catch((err: unknown) =>
        log.error({ err, runId: line.runId, code: line.code }, 'queuing a notification failed'),
      )
      .finally(() => {
        intake--;
      });
  }

  function backoff(attempts: number): number {
    return Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, attempts - 1));
  }

  async function sendOne(d: ClaimedDelivery): Promise<void> {
    let ok: boolean;
    let status: number | null;
    let error: string | null;
    if (d.kind === 'webhook') {
      const body = JSON.stringify({ delivery: d.id, ...(d.payload as EventPayload) });
      const r = await postWebhook({
        url: d.url!,
        secret: d.secret!,
        body,
        event: d.event,
        deliveryId: d.id,
        timeoutMs: webhookTimeoutMs,
        now,
      });
      ({ ok, status, error } = r);
    } else if (!opts.smtp) {
      ok = false;
      status = null;
      error = 'this coordinator has no SMTP relay (ROLLGATE_SMTP_HOST)';
    } else {
      const m = d.payload as EmailPayload;
      try {
        await sendMail(opts.smtp, { to: m.to, subject: m.subject, text: m.text });
        ok = true;
        status = 250;
        error = null;
      } catch (err) {
        ok = false;
        status = err instanceof SmtpError ? (err.code ?? null) : null;
        error = `${opts.smtp.host}:${opts.smtp.port ?? 25}: ${(err as Error).message}`;
      }
    }
    const t = now();
    const target = d.kind === 'webhook' ? redactUrl(d.url!) : 'email';
    if (ok) {
      await db.delivered(d.id, status, t);
      log.info(
        { delivery: d.id, event: d.event, runId: d.runId, target, attempts: d.attempts },
        'notification delivered',
      );
      return;
    }
    // A 4xx other than 408/429 will not get better by retrying; everything else may.
    const permanent =
      d.kind === 'webhook' &&
      status !== null &&
      status >= 400 &&
      status < 500 &&
      status !== 408 &&
      status !== 429;
    const retryAt = permanent || d.attempts >= maxAttempts ? null : t + backoff(d.attempts);
    await db.attemptFailed(d.id, status, error ?? 'failed', retryAt, t);
    log.warn(
      { delivery: d.id, event: d.event, runId: d.runId, target, attempts: d.attempts, error, retryAt },
      retryAt === null ? 'notification given up' : 'notification attempt failed; retrying later',
    );
  }

  async function sendDue(): Promise<void> {
    do {
      again = false;
      const t = now();
      const batch = await db.claimDue(t, t + holdMs, SEND_BATCH);
      await Promise.all(
        batch.map((d) =>
          sendOne(d).catch((err: unknown) =>
            log.error({ err, delivery: d.id }, 'sending a notification failed'),
          ),
        ),
      );
      if (batch.length === SEND_BATCH) again = true;
    } while (again && running);
    if (now() - lastPrune > 3_600_000) {
      lastPrune = now();
      const n = await db.pruneFinished(now() - keepFinishedMs);
      if (n > 0) log.info({ deliveries: n }, 'pruned old finished notification deliveries');
    }
  }

  let busy = false;
  function kick(): void {
    if (!running) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    sending = sendDue()
      .catch((err: unknown) =>
        log.error({ err }, 'the notification sender failed; its next round tries again'),
      )
      .finally(() => {
        busy = false;
      });
  }

  function view(s: {
    id: string;
    cluster: string;
    kind: 'webhook' | 'email';
    url: string | null;
    events: NotifyEvent[];
    createdBy: string;
    createdAt: number;
  }): NotifySubscriptionView {
    return {
      id: s.id,
      cluster: s.cluster,
      kind: s.kind,
      url: s.url,
      events: s.events,
      createdBy: s.createdBy,
      createdAt: s.createdAt,
    };
  }

  const api: NotifyServices = {
    async subscribe(input, actor) {
      if (input.email && !opts.smtp) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          'This coordinator has no SMTP relay: set ROLLGATE_SMTP_HOST (and ROLLGATE_SMTP_FROM) on it, then subscribe again.',
        );
      }
      const existing = await db.listSubscriptions(input.cluster);
      if (existing.length >= MAX_SUBSCRIPTIONS_PER_CLUSTER) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `Cluster "${input.cluster}" already has ${existing.length} subscriptions (at most ${MAX_SUBSCRIPTIONS_PER_CLUSTER}): remove one with \`rollgate notify remove <id>\`.`,
        );
      }
      const events = [...new Set(input.events ?? (input.email ? DEFAULT_EMAIL_EVENTS : [...NOTIFY_EVENTS]))];
      const row = {
        id: `ns-${randomBytes(6).toString('hex')}`,
        cluster: input.cluster,
        kind: input.webhook ? ('webhook' as const) : ('email' as const),
        url: input.webhook?.url ?? null,
        secret: input.webhook?.secret ?? null,
        events,
        createdBy: actor,
        createdAt: now(),
      };
      await db.insertSubscription(row);
      // The audit row names the target, never the secret.
      await opts.store.appendAudit({
        at: row.createdAt,
        actor,
        action: 'notify.subscribe',
        target: row.cluster,
        details: { id: row.id, kind: row.kind, url: row.url ? redactUrl(row.url) : null, events },
      });
      return view(row);
    },
    async list(cluster) {
      return (await db.listSubscriptions(cluster)).map(view);
    },
    async remove(id, actor) {
      const gone = await db.removeSubscription(id);
      if (!gone)
        throw new ApiError('NOT_FOUND', `No subscription ${id}: \`rollgate notify list\` shows them.`);
      await opts.store.appendAudit({
        at: now(),
        actor,
        action: 'notify.remove',
        target: gone.cluster,
        details: { id, kind: gone.kind },
      });
      return view(gone);
    },
    deliveries: (input) => db.listDeliveries(input),
    async emailPortalLink(input, actor) {
      if (!opts.smtp || !opts.createPortalToken || !opts.consoleUrl) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          'Emailing a portal link needs an SMTP relay and the console URL: set ROLLGATE_SMTP_HOST and ROLLGATE_CONSOLE_URL on the coordinator (or give the link yourself: `rollgate upgrade portal-link create`).',
        );
      }
      const run = await opts.store.getRun(input.runId);
      if (!run)
        throw new ApiError('NOT_FOUND', `No run ${input.runId}: \`rollgate upgrade list\` shows the runs.`);
      const lead = (await contactsOf(run))?.lead;
      if (!lead?.email) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `Run ${run.id} has no lead customer contact with an email address: start the run with --contacts (lead.email), or give the link yourself with \`rollgate upgrade portal-link create\`.`,
        );
      }
      const link = await opts.createPortalToken(run.id, lead.name, input.ttlHours * 3_600_000, actor);
      const url = `${opts.consoleUrl.replace(/\/+$/, '')}/portal/${link.token}`;
      try {
        await sendMail(opts.smtp, {
          to: [lead.email],
          subject: `[Rollgate] ${run.plan.service} ${run.plan.toEdition.name} on ${run.plan.cluster}: your verification and sign-off`,
          text: [
            `Dear ${lead.name},`,
            '',
            `This link opens the customer portal of the upgrade of ${run.plan.service} to edition ${run.plan.toEdition.name}:`,
            'there you can follow it, verify the service and sign off, or authorise a proposed rollback.',
            '',
            url,
            '',
            `It works until ${new Date(link.expiresAt).toISOString()} and is for you alone: do not forward it.`,
          ].join('\n'),
        });
      } catch (err) {
        // The link was never delivered: it must not stay usable.
        const revoked = await opts.revokePortalLink?.(run.id, link.id).then(
          () => true,
          () => false,
        );
        throw new ApiError(
          'PRECONDITION_FAILED',
          `The portal link could not be emailed (${opts.smtp.host}:${opts.smtp.port ?? 25}: ${(err as Error).message}); ${
            revoked
              ? `link ${link.id} was revoked. Check the relay and try again.`
              : `revoke link ${link.id} with \`rollgate upgrade portal-link revoke ${run.id} ${link.id}\` and try again.`
          }`,
        );
      }
      await opts.store.appendAudit({
        at: now(),
        actor,
        action: 'notify.portal-link',
        target: run.id,
        details: {
          linkId: link.id,
          recipient: lead.name,
          email: lead.email,
          expiresAt: new Date(link.expiresAt).toISOString(),
        },
      });
      log.info({ runId: run.id, linkId: link.id }, 'portal link emailed to the lead customer contact');
      return { linkId: link.id, recipient: lead.name, email: lead.email, expiresAt: link.expiresAt };
    },
  };

  return {
    api,
    onRecord,
    /** Resolves when every line handed to onRecord so far is queued (tests, shutdown). */
    flushed: () => intakeChain,
    start() {
      if (running) return;
      running = true;
      const loop = () => {
        timer = setTimeout(() => {
          kick();
          if (running) loop();
        }, pollMs);
        timer.unref();
      };
      loop();
      kick();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      await intakeChain;
      await sending;
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;
