import type { RunChanges } from './run-changes';
import type { NotifyServices } from './notify-router';
import type {
  ActionResult,
  ClusterSettings,
  GateRecord,
  LbConfig,
  Plan,
  ReadinessGate,
  Role,
  RoutingRule,
  UserView,
} from '@rollgate/domain';
import type { EditionRecord, Engine, RunRecord } from '@rollgate/engine';
import type { QueryServices } from './queries';
import type { PortalView } from './portal-view';
import type {
  EditionBackoutInput,
  EditionRolloutInput,
  EditionUploadInput,
  EditionStreamInput,
  EditionFromUrlInput,
  EditionValidateInput,
  EditionDeactivateInput,
  HaproxyConfigInput,
  PortalLinkInput,
  PortalLinkRef,
  UpgradeInput,
} from './inputs';
import type { ServiceTokenScope, ServiceTokenServices } from './tokens-router';

/** A cluster's routing rules (concurrent and validation editions) and where they point. */
export interface RoutesView {
  cluster: string;
  mapDir: string;
  rules: (RoutingRule & { description: string; backend: string | null })[];
  files: { source: string; pathPrefix: string; headers: Record<string, string> };
  /** A cluster of per-role pools: each pool's own map files (`files` is the first pool's). */
  pools?: Record<string, { source: string; pathPrefix: string; headers: Record<string, string> }>;
  /** Which backend serves each edition now. */
  editions: Record<string, string>;
}

/** The run commands the API passes to the engine as they are (typed from the engine's own interface). */
export type EngineRunCommands = Pick<
  Engine,
  | 'pause'
  | 'resume'
  | 'abort'
  | 'signOff'
  | 'skipServer'
  | 'exclude'
  | 'rollbackOptions'
  | 'rollback'
  | 'decideRollback'
>;

/**
 * What the coordinator provides to the router. The router parses input, makes one service call
 * and maps the answer; the services own the behaviour and the rules (the coordinator is the only
 * owner of state), and `queries` the read models. No store here: docs/adr/0042.
 */
export interface ApiServices {
  version: string;
  /** The read models (queries.ts) over the coordinator's store. */
  queries: QueryServices;
  /** Wakes the live stream on a run's change (run-changes.ts); without it the stream polls. */
  runChanges?: Pick<RunChanges, 'follow' | 'linesStored'>;
  auth: AuthServices;
  /** Agent identity (docs/adr/0013); absent on a coordinator built without it (unit tests). */
  agents?: AgentIdentityServices;
  /** Service tokens for CI (docs/adr/0031); absent on a coordinator built without them (unit tests). */
  tokens?: ServiceTokenServices;
  /** Notifications (docs/adr/0032); absent on a coordinator built without them (unit tests). */
  notify?: NotifyServices;
  /** The customer's portal: each call opens the run its link's token names, and only that run. */
  portal: PortalServices;
  runs: EngineRunCommands & {
    /** The compiled plan with its windows (seed and learned) and the readiness gates as they stand now. */
    plan(input: UpgradeInput): Promise<PlanPreview>;
    /**
     * Starts the run; `user` is who asks, held to the rule that only an administrator may waive a
     * readiness gate (FORBIDDEN otherwise).
     */
    start(input: UpgradeInput, actor: string, user: Pick<UserView, 'username' | 'role'>): Promise<RunRecord>;
    waive(runId: string, gate: ReadinessGate, reason: string, actor: string): Promise<RunRecord>;
    /** Ends the wait for a server's sessions to drain; the run as it stands afterwards. */
    skipDrain(runId: string, serverId: string, actor: string): Promise<RunRecord>;
    /** The text to send to service users about the run's windows. */
    notice(runId: string, timeZone?: string): Promise<string>;
    /** Readiness gates and every action result of the run: its evidence. */
    evidence(runId: string): Promise<EvidenceView>;
    /** A customer portal link for the run (the latest when none is named); audited by its id. */
    createPortalLink(
      input: PortalLinkInput,
      actor: string,
    ): Promise<{ token: string; expiresAt: number; id: string }>;
    /** The run's portal links (the latest run when none is named), newest first; never a token. */
    portalLinks(runId: string | undefined): Promise<PortalLinkView[]>;
    /** Withdraws a portal link at once; audited when it changed anything. */
    revokePortalLink(input: PortalLinkRef, actor: string): Promise<PortalLinkView>;
  };
  clusters: {
    getSettings(cluster: string): Promise<ClusterSettings>;
    setSettings(cluster: string, settings: ClusterSettings, actor: string): Promise<ClusterSettings>;
  };
  lb: {
    /**
     * Validates the config against the cluster's agents (every one placed in exactly one pool per
     * service) and every live balancer before saving it.
     */
    configure(cluster: string, config: LbConfig, actor: string): Promise<LbConfigured>;
    clear(cluster: string, actor: string): Promise<void>;
    show(cluster: string): Promise<LbView>;
    /** What the cluster's HAProxy balancers have served per edition, and failed, from their counters. */
    traffic(cluster: string): Promise<LbTrafficView>;
    haproxyConfig(input: HaproxyConfigInput): Promise<string>;
    /** The cluster's routing rules and where each points now. */
    routes(cluster: string): Promise<RoutesView>;
    /** Replaces the cluster's routing rules and applies them to HAProxy's maps (no reload). */
    setRoutes(
      cluster: string,
      rules: RoutingRule[],
      mapDir: string | undefined,
      actor: string,
      from: string,
    ): Promise<RoutesView>;
  };
  editions: {
    upload(input: EditionUploadInput, actor: string): Promise<EditionRecord>;
    /**
     * The check a streamed upload makes before it reads the body: the name is free (editions are
     * never overwritten; CONFLICT otherwise).
     */
    checkUpload(input: EditionStreamInput): Promise<void>;
    /**
     * Streams an archive (a request body) to the artifact store and records it like `upload`;
     * absent where the coordinator has no store on disk (docs/adr/0036).
     */
    addStream?(
      input: EditionStreamInput,
      body: import('node:stream').Readable,
      actor: string,
    ): Promise<EditionRecord>;
    /** Fetches an archive by URL, verifies its sha256 and records it like `upload` (docs/adr/0036). */
    addFromUrl?(input: EditionFromUrlInput, actor: string): Promise<EditionRecord>;
    /** Distribute (install without activating) an edition on every server of a cluster. */
    install(input: { app: string; cluster: string; edition: string }, actor: string): Promise<RunRecord>;
    /** Simple activation: stop, deactivate, activate, start — with downtime, so it must be accepted. */
    activate(
      input: {
        app: string;
        cluster: string;
        edition: string;
        acceptDowntime: boolean;
        drainageIntervalSec?: number | undefined;
      },
      actor: string,
    ): Promise<RunRecord>;
    /** Replace the active edition without interruption (grouped or atomic). */
    rollout(input: EditionRolloutInput, actor: string): Promise<RunRecord>;
    /** Run the edition on a clone of the target (second instances) for pilot requests to reach. */
    validate(input: EditionValidateInput, actor: string): Promise<RunRecord>;
    /** Stop a validation clone of the edition and lift the pilot rules to it. */
    deactivate(input: EditionDeactivateInput, actor: string): Promise<RunRecord>;
    /** The plan `rollout` would start, compiled and checked the same way, without starting it. */
    plan(input: EditionRolloutInput): Promise<PlanPreview>;
    /** Roll the previous edition out again (fast path when it is still installed everywhere). */
    backout(input: EditionBackoutInput, actor: string): Promise<RunRecord>;
  };
}

/**
 * Who is calling: a signed-in account, a customer's portal link, or nobody yet. A service token
 * (docs/adr/0031) is a 'user' with its role, plus `token`: its name and cluster scope.
 */
export type Principal =
  | { kind: 'user'; user: UserView; token?: ServiceTokenScope }
  | { kind: 'portal'; runId: string; recipient: string }
  | { kind: 'anonymous' };

export interface ApiContext {
  /** Who is calling, for the audit log: the user name (and client), or `customer:<name>`. */
  actor: string;
  principal: Principal;
  /** The caller's address (the console's proxy passes the browser's on), for rate limits and audit. */
  from: string;
  /** The bearer token of the request, when there is one (for logout). */
  token: string | null;
  services: ApiServices;
}

/**
 * What a portal link's holder may do. Every call opens the run the token names (UNAUTHORIZED saying
 * why when it opens none), acts as `customer:<recipient>` and answers what the customer sees.
 */
export interface PortalServices {
  view(token: string): Promise<PortalView>;
  /** The customer's verification at the end of the run. */
  signOff(token: string, decision: 'approve' | 'reject', comment: string): Promise<PortalView>;
  /** The customer's answer to a proposed rollback. */
  decideRollback(token: string, decision: 'authorise' | 'decline', comment: string): Promise<PortalView>;
}

/** Accounts, sessions and portal links (the coordinator's auth service). */
export interface AuthServices {
  /** Needs the one-time secret from the coordinator's data directory (docs/adr/0020). */
  bootstrap(username: string, password: string, from: string, bootstrapSecret?: string): Promise<UserView>;
  login(
    username: string,
    password: string,
    from: string,
  ): Promise<{ token: string; user: UserView; expiresAt: number }>;
  logout(token: string): Promise<void>;
  /** A session's account, or a service token (`rgt_…`) as a user with its scope; null when neither. */
  authenticate(token: string): Promise<{ kind: 'user'; user: UserView; token?: ServiceTokenScope } | null>;
  createUser(actor: UserView, username: string, role: Role, password: string): Promise<UserView>;
  listUsers(): Promise<UserView[]>;
  setRole(actor: UserView, username: string, role: Role): Promise<UserView>;
  disable(actor: UserView, username: string): Promise<UserView>;
  createPortalToken(
    runId: string,
    recipient: string,
    ttlMs: number,
    actor: string,
  ): Promise<{ token: string; expiresAt: number; id: string }>;
  resolvePortal(token: string): Promise<{ runId: string; recipient: string } | null>;
  /** Why a token opens nothing, for the customer's message; null when it is unknown. */
  portalRefusal(token: string): Promise<'revoked' | 'expired' | null>;
  /** A run's portal links, newest first (never their tokens). */
  listPortalLinks(runId: string): Promise<PortalLinkView[]>;
  /** Revokes one link of a run at once (its token opens nothing after); NOT_FOUND when unknown. */
  revokePortalLink(runId: string, linkId: string): Promise<{ link: PortalLinkView; changed: boolean }>;
}

/** A portal link as operators see it: an id (the start of its token's sha256), never the token. */
export interface PortalLinkView {
  id: string;
  runId: string;
  recipient: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  state: 'active' | 'expired' | 'revoked';
}

/** A saved LB configuration and the balancers it was checked against (none in gate-only mode). */
export type LbConfigured = LbConfig & { checkedAgainst: string[] };

/** A cluster's load balancers as configured and, in runtime mode, as each reports now. */
export interface LbView {
  cluster: string;
  config: LbConfig | null;
  /** Each balancer, and why its live view is missing, if it is. */
  balancers: { name: string; address: string; error: string | null }[];
  /** Agents the pools leave out or place twice (the config was saved before they registered). */
  problems: string[];
  /** One row per (server, pool it is in); a server in no pool has one row with pool null. */
  servers: {
    serverId: string;
    pool: string | null;
    /** "backend/server". */
    haproxyServer: string;
    /** Over every balancer (up on all, sessions summed); null when one cannot be asked. */
    status: { up: boolean; sessions: number; totalSessions: number; state: string } | null;
    /** What each balancer reports. */
    views: { balancer: string; up: boolean; sessions: number; totalSessions: number; state: string }[];
    /** Each balancer's view on the ledger: the state Rollgate last set there, and when (epoch ms). */
    lastSet: { balancer: string; state: string; setAt: number }[];
  }[];
  /** Why the live status is missing, if it is. */
  error: string | null;
}

/**
 * HAProxy's counters for a cluster (`show stat`, summed over its balancers and pool backends):
 * cumulative since HAProxy started, so a reader draws the differences between two samples.
 */
export interface LbTrafficView {
  cluster: string;
  /** When the counters were read (epoch ms). */
  at: number;
  /** Answers below 500 per edition, each server counted under the edition it runs now. */
  editions: { edition: string; served: number }[];
  servers: {
    serverId: string;
    /** "backend/server". */
    haproxyServer: string;
    edition: string | null;
    served: number;
    http5xx: number;
  }[];
  /** 5xx answers of the cluster's backends, including the 502/503/504 HAProxy sent itself. */
  failed: number;
  /** Why the counters are missing or partial (no runtime API configured, a balancer unreachable). */
  error: string | null;
}

/** A readiness gate as it stands before a run starts: what blocks the start and how to meet it. */
export interface GatePreview {
  gate: ReadinessGate;
  required: boolean;
  /** met/waived: done; automatic: a preparation step of the run checks it; unmet: blocks the start. */
  status: 'met' | 'waived' | 'automatic' | 'unmet';
  detail: string;
  howToMeet: string;
}

export type PlanPreview = Plan & {
  readiness: GatePreview[];
  /** When the run would start and whether that is inside business hours (null: now). */
  schedule: { startAt: number; insideBusinessHours: boolean } | null;
};

/** A rollback method that applies to a run now, as the engine describes it. */
export type RollbackOptionView = Awaited<ReturnType<Engine['rollbackOptions']>>[number];

export interface EvidenceView {
  runId: string;
  readiness: GateRecord[];
  steps: {
    index: number;
    key: string;
    title: string;
    /**
     * Every result of the step's actions, one row each: an action whose ops produced several has a
     * row per result, in op order (issue 15 item 4), with the action's id and status on each.
     */
    results: {
      actionId: string;
      serverId: string;
      status: string;
      finishedAt: number | null;
      result: ActionResult;
    }[];
  }[];
}

/** Join tokens, revocation and how agents are connected (docs/adr/0013). */
export interface AgentIdentityServices {
  /** The token text is in this answer only: it is stored as a hash. */
  createJoinToken(
    input: { ttlMs: number; cluster: string; serverId?: string },
    actor: string,
    from: string,
  ): Promise<{
    token: string;
    id: string;
    expiresAt: number;
    cluster: string;
    serverId: string | null;
    caFingerprint: string;
  }>;
  revoke(
    serverId: string,
    actor: string,
    from: string,
  ): Promise<{ serverId: string; revokedCertificates: number }>;
  /** serverId → how it last connected ('mtls' or 'insecure'). */
  transports(serverIds: readonly string[]): Promise<Record<string, 'mtls' | 'insecure'>>;
}
