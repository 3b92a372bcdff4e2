// Notifications (issue 16 item 4, docs/adr/0032): per-cluster subscriptions to run events, by
// signed webhook or by email to the run's contacts; their inputs and what the API answers.
import { z } from 'zod';
import { NOTIFY_EVENTS, safeName, type NotifyEvent } from '@rollgate/domain';

export { DEFAULT_EMAIL_EVENTS, NOTIFY_EVENTS, type NotifyEvent } from '@rollgate/domain';

/** Subscriptions per cluster at most. */
export const MAX_SUBSCRIPTIONS_PER_CLUSTER = 50;

const webhookUrl = z
  .string()
  .max(2000, 'the webhook URL is longer than 2000 characters')
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
      } catch {
        return false;
      }
    },
    {
      message:
        'the webhook URL must be an http:// or https:// URL without user:password@ (the signature authenticates the sender)',
    },
  );

export const notifySubscribeInput = z
  .object({
    cluster: safeName('cluster name'),
    webhook: z
      .object({
        url: webhookUrl,
        /** The HMAC-SHA256 key; kept by the coordinator, never answered. */
        secret: z
          .string()
          .min(16, 'the webhook secret must be at least 16 characters (e.g. `openssl rand -hex 32`)')
          .max(512, 'the webhook secret is longer than 512 characters'),
      })
      .optional(),
    /** Email to the run's contacts (the readiness gate "contacts") over the coordinator's SMTP relay. */
    email: z.boolean().default(false),
    /** Default: every event for a webhook, DEFAULT_EMAIL_EVENTS for email. */
    events: z
      .array(z.enum(NOTIFY_EVENTS, { error: `an event is one of ${NOTIFY_EVENTS.join(', ')}` }))
      .min(1)
      .max(NOTIFY_EVENTS.length)
      .optional(),
  })
  .refine((i) => (i.webhook !== undefined) !== i.email, {
    message: 'give either a webhook (url and secret) or email: true, not both and not neither',
  });
export type NotifySubscribeInput = z.infer<typeof notifySubscribeInput>;

export const notifyListInput = z.object({ cluster: safeName('cluster name').optional() });
export const notifyRef = z.object({
  id: z.string().regex(/^ns-[0-9a-f]{12}$/, 'a subscription id looks like ns-0123456789ab'),
});
export const notifyDeliveriesInput = z.object({
  cluster: safeName('cluster name').optional(),
  subscriptionId: z.string().max(40).optional(),
  runId: z.string().min(1).max(80).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
});
export type NotifyDeliveriesInput = z.infer<typeof notifyDeliveriesInput>;
export const notifyPortalLinkInput = z.object({
  runId: z.string().min(1).max(80),
  /** How long the link works; default 72 h. */
  ttlHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(72),
});
export type NotifyPortalLinkInput = z.infer<typeof notifyPortalLinkInput>;

/** A subscription as the API shows it: never its secret. */
export interface NotifySubscriptionView {
  id: string;
  cluster: string;
  kind: 'webhook' | 'email';
  /** The webhook URL; null for email. */
  url: string | null;
  events: NotifyEvent[];
  createdBy: string;
  createdAt: number;
}

/** One event for one subscription, with its attempts so far. */
export interface NotifyDeliveryView {
  id: number;
  subscriptionId: string;
  runId: string | null;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** When the next attempt is due (pending only), ms epoch. */
  nextAt: number;
  /** The last HTTP status (webhook) or SMTP reply code, when one came. */
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** The coordinator's notifications/notifier.ts, as the router needs it. */
export interface NotifyServices {
  subscribe(input: NotifySubscribeInput, actor: string): Promise<NotifySubscriptionView>;
  list(cluster?: string): Promise<NotifySubscriptionView[]>;
  remove(id: string, actor: string): Promise<NotifySubscriptionView>;
  deliveries(input: NotifyDeliveriesInput): Promise<NotifyDeliveryView[]>;
  /**
   * Creates a portal link for the run's lead customer contact and emails it to them at once (the
   * link's token is in that mail only: never stored, queued or logged).
   */
  emailPortalLink(
    input: NotifyPortalLinkInput,
    actor: string,
  ): Promise<{ linkId: string; recipient: string; email: string; expiresAt: number }>;
}
