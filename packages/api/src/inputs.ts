import { z } from 'zod';
import {
  passwordSchema,
  readinessGateSchema,
  roleSchema,
  usernameSchema,
  appNameSchema,
  clusterSettingsSchema,
  contactsSchema,
  editionNameSchema,
  editionFetchBySchema,
  headerNameSchema,
  lbConfigSchema,
  mapDirSchema,
  routingRulesSchema,
  safeName,
} from '@rollgate/domain';

const runId = z.string().min(1).max(80);

export const upgradeInput = z.object({
  cluster: safeName('cluster name'),
  app: appNameSchema,
  /** The edition to upgrade to; it must have been uploaded. */
  edition: editionNameSchema,
  /** minor: no schema change, no downtime; major: the schema step, with announced downtime. */
  procedure: z.enum(['minor', 'major']).default('minor'),
  /** The edition the servers run now (what a rollback returns to); default: the one they report active. */
  fromEdition: editionNameSchema.optional(),
  /** Start at this time (ISO 8601) instead of now; checked against the cluster's schedule and freezes. */
  at: z.iso
    .datetime({ offset: true, error: 'at is an ISO 8601 time such as 2026-11-23T22:00:00Z' })
    .optional(),
  /** The agreed upgrade window, minutes; default the announced "service at risk" window. */
  windowMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .optional(),
  /** A failed step pauses for a decision (default) or starts the recommended rollback. */
  onFailure: z.enum(['pause', 'rollback']).default('pause'),
  /** The customer contacts for the window (readiness gate "contacts"), confirmed by the caller. */
  contacts: contactsSchema.optional(),
  /** Readiness gates waived by the caller, each with its reason (audited). */
  waive: z
    .array(z.object({ gate: readinessGateSchema, reason: z.string().min(3).max(2000) }))
    .max(8)
    .default([]),
  /**
   * How long a server may finish in-flight work after leaving rotation; default: the cluster's
   * (rollgate lb configure --drainage-interval), else 30 s.
   */
  drainageIntervalSec: z.number().int().min(0).max(3600).optional(),
  /** How long a started service may take to become healthy; default 120 s. */
  healthTimeoutSec: z.number().int().min(1).max(3600).default(120),
  /** End with the customer's verification and sign-off; default true. */
  signOff: z.boolean().default(true),
  /** Path probed by the functionality tests; default /health. */
  probePath: z.string().startsWith('/').max(512).default('/health'),
});
export type UpgradeInput = z.infer<typeof upgradeInput>;

/** Editions travel base64-encoded in JSON; 64 MiB of archive at most. */
export const MAX_EDITION_BYTES = 64 * 1024 * 1024;

export const editionUploadInput = z.object({
  app: appNameSchema,
  name: editionNameSchema,
  description: z.string().max(2000).default(''),
  dbUpgradeCommand: z.string().max(64).optional(),
  contentBase64: z
    .string()
    .min(1, 'the archive is empty')
    .max(Math.ceil((MAX_EDITION_BYTES * 4) / 3) + 4, 'the archive is larger than 64 MiB'),
});
export type EditionUploadInput = z.infer<typeof editionUploadInput>;

const sha256Hex = z
  .string()
  .regex(/^[a-f0-9]{64}$/, 'a sha256 is 64 lower-case hexadecimal digits (sha256sum prints it)');
const editionMeta = editionUploadInput.omit({ contentBase64: true });

/**
 * A streamed upload's fields (PUT /upload/edition, docs/adr/0036), checked before the body is
 * read: the archive itself streams to disk, up to ROLLGATE_MAX_EDITION_BYTES.
 */
export const editionStreamInput = editionMeta.extend({
  /** Declared digest: a different one is refused and nothing is recorded. */
  sha256: sha256Hex.optional(),
  /** Declared size, bytes: a different one (an incomplete transfer) is refused. */
  size: z.number().int().min(1).optional(),
});
export type EditionStreamInput = z.infer<typeof editionStreamInput>;

/**
 * An edition given by URL and verified against its sha256: fetched by the coordinator
 * (docs/adr/0036) or, with fetchBy "agents", by each agent itself (docs/adr/0039).
 */
export const editionFromUrlInput = editionMeta
  .extend({
    url: z
      .string()
      .max(4000)
      .regex(/^https?:\/\//i, 'the URL must start with http:// or https://'),
    sha256: sha256Hex,
    /** Who downloads the archive; default "coordinator". */
    fetchBy: editionFetchBySchema.default('coordinator'),
    /**
     * The archive's size in bytes, with fetchBy "agents" (the coordinator never sees the bytes):
     * agents refuse a different size and check their disk for it first. Unknown when absent.
     */
    size: z.number().int().min(1, 'size must be at least 1 byte').optional(),
  })
  .refine((v) => v.size === undefined || v.fetchBy === 'agents', {
    path: ['size'],
    message: 'size is only given with fetchBy "agents": the coordinator measures what it fetches itself',
  });
export type EditionFromUrlInput = z.infer<typeof editionFromUrlInput>;

export const runRef = z.object({ runId });
export const runControl = z.object({ runId, reason: z.string().max(2000).optional() });
export const signOffInput = z.object({
  runId,
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(4000).default(''),
});
/** Which of a run's log lines: after an id (what the client already has), of a server, step or code. */
const logFilter = {
  afterId: z.number().int().min(0).optional(),
  serverId: z.string().max(64).optional(),
  stepIndex: z.number().int().min(0).optional(),
  code: z
    .string()
    .regex(/^RG\d{4}[IWE]$/, 'a message code looks like RG0010I')
    .optional(),
};
export const logsInput = z.object({
  runId,
  ...logFilter,
  limit: z.number().int().min(1).max(5000).default(500),
});
export type LogsInput = z.infer<typeof logsInput>;
export const statusInput = z.object({ runId: runId.optional() });
export const serversInput = z.object({ cluster: z.string().max(64).optional() }).default({});
export type ServersInput = z.infer<typeof serversInput>;
export const editionsListInput = z.object({ app: z.string().max(64).optional() }).default({});

export const skipDrainInput = z.object({ runId, serverId: safeName('server id') });

export const clusterRef = z.object({ cluster: safeName('cluster name') });
export const lbConfigureInput = z.object({ cluster: safeName('cluster name'), config: lbConfigSchema });
export const routesSetInput = z.object({
  cluster: safeName('cluster name'),
  /** Replaces every rule of the cluster; [] removes them all. */
  rules: routingRulesSchema,
  /** Where HAProxy's map files live on its host; default: as before, else /etc/haproxy/rollgate. */
  mapDir: mapDirSchema.optional(),
});
export const haproxyConfigInput = z.object({
  cluster: safeName('cluster name'),
  /** Emit the cluster's routing frontend (its map lookups) instead of the plain one; default false. */
  routing: z.boolean().default(false),
  /** Header names whose maps the routing frontend consults besides those of the current rules. */
  routingHeaders: z.array(headerNameSchema).max(32).default([]),
  /** Where the map files are; default: the cluster's (lb routes set --map-dir), else /etc/haproxy/rollgate. */
  mapDir: mapDirSchema.optional(),
  /** Backend name in the generated config; default: the configured one, else the cluster name. */
  backend: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/)
    .optional(),
  /** Where the frontend listens, e.g. `*:80`; default `*:80` (a cluster of one pool). */
  bind: z.string().max(128).default('*:80'),
  /** Pool name → where its frontend listens, e.g. `{ admin: "*:8081" }`; needed with several pools. */
  binds: z
    .record(z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'keys are pool names'), z.string().max(128))
    .refine((r) => Object.keys(r).length <= 256, 'at most 256 pools')
    .default({}),
  /** The load balancer the file is for (its name and runtime API line); default the first configured. */
  balancer: safeName('balancer name').optional(),
  /** Where HAProxy's runtime API socket goes; default the balancer's configured one, else /run/haproxy/admin.sock. */
  socketPath: z.string().max(512).optional(),
  /** Health check interval, ms; default: the configured one, else 1000. */
  checkIntervalMs: z.number().int().min(100).max(600_000).optional(),
  /** HAProxy slowstart for re-admitted servers, ms; default none. */
  slowstartMs: z.number().int().min(0).max(3_600_000).optional(),
  /**
   * What HAProxy's own health check asks (docs/adr/0017): `service` (each server's service at its
   * health path; a dead agent cannot take it out) or `gate` (each agent's GET /gate, for load
   * balancers that poll one URL; a dead agent takes its server out). Default `service`.
   */
  health: z.enum(['service', 'gate'], { error: 'health must be "service" or "gate"' }).default('service'),
});
export type HaproxyConfigInput = z.infer<typeof haproxyConfigInput>;

export const serverInRun = z.object({ runId, serverId: safeName('server id') });
export const rollbackInput = z.object({
  runId,
  /** Default: the recommended method (see upgrade.rollbackOptions). */
  method: z.enum(['reinstall', 'restore-database', 'restore-snapshots', 'rebuild']).optional(),
  reason: z.string().max(2000).optional(),
});
export const decideRollbackInput = z.object({
  runId,
  decision: z.enum(['authorise', 'decline']),
  comment: z.string().max(4000).default(''),
});
export const waiveInput = z.object({ runId, gate: readinessGateSchema, reason: z.string().min(3).max(2000) });
export const noticeInput = z.object({
  runId,
  /** IANA time zone the notice is written in; default the cluster's schedule time zone, else UTC. */
  timeZone: z.string().min(1).max(64).optional(),
});
export const clusterSettingsInput = z.object({
  cluster: safeName('cluster name'),
  settings: clusterSettingsSchema,
});

export const serversPageInput = z.object({
  cluster: z.string().max(64).optional(),
  role: z.string().max(64).optional(),
  status: z.enum(['connected', 'lost', 'disconnected']).optional(),
  gate: z.enum(['open', 'closed']).optional(),
  /** Matches id, host name, role or an edition name. */
  q: z.string().max(128).optional(),
  sort: z.enum(['id', 'cluster', 'role', 'status', 'lastHeartbeatAt']).default('id'),
  desc: z.boolean().default(false),
  offset: z.number().int().min(0).default(0),
  /** At most 500 rows a page: the console draws only what is on screen. */
  limit: z.number().int().min(1).max(500).default(100),
});
export type ServersPageInput = z.infer<typeof serversPageInput>;

export const watchInput = z.object({ runId, ...logFilter });
export type WatchInput = z.infer<typeof watchInput>;

/** The target of an edition verb: an application on one cluster. */
const editionTarget = {
  app: appNameSchema,
  cluster: safeName('cluster name'),
};

export const editionInstallInput = z.object({ ...editionTarget, edition: editionNameSchema });

export const editionActivateInput = z.object({
  ...editionTarget,
  edition: editionNameSchema,
  /** Simple activation stops every server at once: say you accept the downtime. Default false. */
  acceptDowntime: z.boolean().default(false),
  drainageIntervalSec: z.number().int().min(0).max(3600).optional(),
});

const rolloutParams = {
  /** grouped (default) or atomic (half the cluster at a time, one switch). */
  strategy: z.enum(['grouped', 'atomic']).default('grouped'),
  /** Servers per group (grouped); default 1; at most the target's size. */
  groupSize: z.number().int().min(1).max(100_000).default(1),
  /** soft (default): restart the application; hard: also restart what hosts it. */
  reset: z.enum(['soft', 'hard']).default('soft'),
  /** Default: the cluster's (rollgate lb configure --drainage-interval), else 30 s. */
  drainageIntervalSec: z.number().int().min(0).max(3600).optional(),
};

export const editionRolloutInput = z.object({
  ...editionTarget,
  edition: editionNameSchema,
  ...rolloutParams,
});
export type EditionRolloutInput = z.infer<typeof editionRolloutInput>;

export const editionValidateInput = z.object({
  ...editionTarget,
  edition: editionNameSchema,
  /** Servers that run the edition beside their current instance (the clone); default 1. */
  cloneSize: z.number().int().min(1).max(100_000).optional(),
});
export type EditionValidateInput = z.infer<typeof editionValidateInput>;

export const editionDeactivateInput = z.object({ ...editionTarget, edition: editionNameSchema });
export type EditionDeactivateInput = z.infer<typeof editionDeactivateInput>;

export const editionBackoutInput = z.object({
  ...editionTarget,
  /** The edition to go back to; default the one active before the current one. */
  edition: editionNameSchema.optional(),
  ...rolloutParams,
});
export type EditionBackoutInput = z.infer<typeof editionBackoutInput>;

export const editionStatusInput = z.object({
  app: appNameSchema,
  cluster: safeName('cluster name').optional(),
});
export type EditionStatusInput = z.infer<typeof editionStatusInput>;

export const credentialsInput = z.object({
  username: z.string().min(1).max(64),
  // Not the password policy: a sign-in with a short password must fail like a wrong one.
  password: z.string().min(1).max(256),
});
/** `admin init`: the first administrator, with the coordinator's one-time bootstrap secret. */
export const bootstrapInput = credentialsInput.extend({
  bootstrapSecret: z.string().max(200).optional(),
});
export const userCreateInput = z.object({
  username: usernameSchema,
  role: roleSchema,
  password: passwordSchema,
});
export const userRoleInput = z.object({ username: usernameSchema, role: roleSchema });
export const userRef = z.object({ username: usernameSchema });

const portalToken = z.string().min(20).max(200);
export const portalRef = z.object({ token: portalToken });
export const portalSignOffInput = z.object({
  token: portalToken,
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(4000).default(''),
});
export const portalDecideInput = z.object({
  token: portalToken,
  decision: z.enum(['authorise', 'decline']),
  comment: z.string().max(4000).default(''),
});
export const portalLinkInput = z.object({
  runId,
  /** Who the link is for (the lead customer contact), for the audit log and the portal's greeting. */
  recipient: z.string().min(1).max(200),
  /** How long the link works; default 72 h. */
  ttlHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(72),
});

export type PortalLinkInput = z.infer<typeof portalLinkInput>;

/** A portal link of a run, by the id `upgrade.portalLinks` lists (not the token: it is never kept). */
export const portalLinkRef = z.object({
  runId,
  linkId: z.string().regex(/^[0-9a-f]{12}$/, {
    error:
      'a portal link id is 12 hexadecimal characters; list them with `rollgate upgrade portal-link list <run>`',
  }),
});
export type PortalLinkRef = z.infer<typeof portalLinkRef>;

/** `agents.createJoinToken`: how long the token may be used (docs/adr/0013). */
export const joinTokenInput = z.object({
  /** Seconds, 1 s to 7 days. */
  ttlSeconds: z
    .number()
    .int()
    .min(1, 'ttlSeconds must be at least 1')
    .max(7 * 86_400, 'a join token lives at most 7 days (604800 s): give a shorter ttl'),
  /** The cluster the enrolled agent is pinned to (docs/adr/0018); required. */
  cluster: safeName('cluster name'),
  /** The only server id that may enrol with the token; default any id not already enrolled. */
  serverId: safeName('server id').optional(),
});
export const agentRef = z.object({ serverId: safeName('server id') });
