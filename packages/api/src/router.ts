import { initTRPC, TRPCError } from '@trpc/server';
import { roleAllows, type Role } from '@rollgate/domain';
import { ApiError, errorIssues, toTRPCError } from './errors';
import {
  editionUploadInput,
  editionStreamInput,
  editionFromUrlInput,
  editionsListInput,
  clusterRef,
  haproxyConfigInput,
  lbConfigureInput,
  routesSetInput,
  skipDrainInput,
  logsInput,
  runControl,
  runRef,
  serversInput,
  signOffInput,
  statusInput,
  upgradeInput,
  clusterSettingsInput,
  decideRollbackInput,
  noticeInput,
  rollbackInput,
  serverInRun,
  waiveInput,
  serversPageInput,
  watchInput,
  editionActivateInput,
  editionBackoutInput,
  editionInstallInput,
  editionRolloutInput,
  editionValidateInput,
  editionDeactivateInput,
  editionStatusInput,
  bootstrapInput,
  credentialsInput,
  portalDecideInput,
  portalLinkInput,
  portalLinkRef,
  portalRef,
  portalSignOffInput,
  userCreateInput,
  userRef,
  userRoleInput,
  agentRef,
  joinTokenInput,
} from './inputs';
import {
  createServiceToken,
  enforceTokenScope,
  listServiceTokens,
  revokeServiceToken,
  SERVICE_TOKEN_PREFIX,
  tokenCreateInput,
  tokenRef,
} from './tokens-router';
import {
  notifyDeliveriesInput,
  notifyListInput,
  notifyPortalLinkInput,
  notifyRef,
  notifySubscribeInput,
  type NotifyServices,
} from './notify-router';
import { watchRun } from './console-views';
import type { ApiContext } from './services';

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error }) {
    return { ...shape, data: { ...shape.data, issues: errorIssues(error.cause), stack: undefined } };
  },
});

/** Maps the services' own errors onto tRPC codes (errors.ts, the one table) for a clear, typed failure. */
const errorMapping = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const mapped = toTRPCError(result.error.cause);
    if (mapped) throw mapped;
  }
  return result;
});

const procedure = t.procedure.use(errorMapping);

const NEEDS: Record<Role, string> = {
  viewer: 'a signed-in account',
  operator: 'the operator role',
  admin: 'the administrator role',
};

/**
 * Who may call: every procedure names the least role it needs, enforced here (the console only
 * hides what a role cannot do). A portal link is not an account: it opens its own run's portal
 * procedures and nothing else.
 */
function requireRole(need: Role) {
  return t.middleware(async ({ ctx, next, path, getRawInput }) => {
    const p = ctx.principal;
    if (p.kind === 'portal') {
      throw new TRPCError({
        code: 'FORBIDDEN',
        message: `A customer portal link opens only the portal of its run; "${path}" needs ${NEEDS[need]}.`,
      });
    }
    if (p.kind !== 'user') {
      // A service token that opens nothing says why (expired, revoked, unknown) and what to do.
      const tokenRefusal =
        ctx.token?.startsWith(SERVICE_TOKEN_PREFIX) && ctx.services.tokens
          ? await ctx.services.tokens.refusal(ctx.token)
          : null;
      throw new TRPCError({
        code: 'UNAUTHORIZED',
        message:
          tokenRefusal ??
          "Sign in first: `rollgate login` (or the console's sign-in page), or pass a token (ROLLGATE_TOKEN).",
      });
    }
    if (!roleAllows(p.user.role, need)) {
      throw new TRPCError({
        code: 'FORBIDDEN',
        message: `${p.user.username} is ${p.user.role === 'admin' ? 'an' : 'a'} ${p.user.role}; "${path}" needs ${NEEDS[need]}. Ask an administrator.`,
      });
    }
    // Every call of a service token is audited and held to its cluster (docs/adr/0031).
    // The streamed upload's check is the upload as far as a token's scope and audit are concerned.
    const acting = path === 'editions.uploadCheck' ? 'editions.upload' : path;
    if (p.token) await enforceTokenScope(ctx, p.token, acting, await getRawInput());
    return next({ ctx: { ...ctx, user: p.user } });
  });
}

const viewer = procedure.use(requireRole('viewer'));
const operator = procedure.use(requireRole('operator'));
const admin = procedure.use(requireRole('admin'));

/** The coordinator's agent identity service (docs/adr/0013), or a refusal saying why there is none. */
function agentIdentity(ctx: ApiContext) {
  if (!ctx.services.agents) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      'This coordinator runs with ROLLGATE_INSECURE_AGENTS: agents connect without identities, so there are no join tokens or revocations. Restart it without that setting to use mTLS.',
    );
  }
  return ctx.services.agents;
}

export const appRouter = t.router({
  health: procedure.query(({ ctx }) => ({ ok: true as const, version: ctx.services.version })),

  servers: t.router({
    list: viewer.input(serversInput).query(({ ctx, input }) => ctx.services.queries.servers(input)),
    page: viewer.input(serversPageInput).query(({ ctx, input }) => ctx.services.queries.serversPage(input)),
  }),

  editions: t.router({
    list: viewer.input(editionsListInput).query(({ ctx, input }) => ctx.services.queries.editions(input.app)),
    upload: operator
      .input(editionUploadInput)
      .mutation(({ ctx, input }) => ctx.services.editions.upload(input, ctx.actor)),
    /**
     * The check a streamed upload (PUT /upload/edition) makes before it reads the body: the
     * caller's role and token scope, the fields, and that the name is free (docs/adr/0036).
     */
    uploadCheck: operator.input(editionStreamInput).mutation(async ({ ctx, input }) => {
      await ctx.services.editions.checkUpload(input);
      return { ok: true as const };
    }),
    addFromUrl: operator.input(editionFromUrlInput).mutation(({ ctx, input }) => {
      const add = ctx.services.editions.addFromUrl;
      if (!add) throw new ApiError('PRECONDITION_FAILED', 'This coordinator cannot fetch editions by URL.');
      return add(input, ctx.actor);
    }),
    install: operator
      .input(editionInstallInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.editions.install(input, ctx.actor)),
      ),
    activate: operator
      .input(editionActivateInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.editions.activate(input, ctx.actor)),
      ),
    rollout: operator
      .input(editionRolloutInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.editions.rollout(input, ctx.actor)),
      ),
    validate: operator
      .input(editionValidateInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.editions.validate(input, ctx.actor)),
      ),
    deactivate: operator
      .input(editionDeactivateInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.editions.deactivate(input, ctx.actor)),
      ),
    /** The plan a rollout would run (groups, phases, window), compiled without starting anything. */
    plan: viewer.input(editionRolloutInput).query(({ ctx, input }) => ctx.services.editions.plan(input)),
    backout: operator
      .input(editionBackoutInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.editions.backout(input, ctx.actor)),
      ),
    /** The seed's edition metadata: each edition's state per target, which one is the base. */
    status: viewer
      .input(editionStatusInput)
      .query(({ ctx, input }) => ctx.services.queries.editionStatus(input)),
    /** Each edition's state (ACTIVE / VALIDATING / INACTIVE) per cluster, with where it is installed. */
    states: viewer
      .input(editionsListInput)
      .query(({ ctx, input }) => ctx.services.queries.editionStates(input.app)),
  }),

  upgrade: t.router({
    plan: viewer.input(upgradeInput).query(({ ctx, input }) => ctx.services.runs.plan(input)),
    start: operator
      .input(upgradeInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.runs.start(input, ctx.actor, ctx.user)),
      ),
    list: viewer.query(({ ctx }) => ctx.services.queries.runs()),
    status: viewer.input(statusInput).query(({ ctx, input }) => ctx.services.queries.runStatus(input.runId)),
    logs: viewer.input(logsInput).query(({ ctx, input }) => ctx.services.queries.logs(input)),
    pause: operator
      .input(runControl)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.runs.pause(input.runId, ctx.actor, input.reason)),
      ),
    resume: operator
      .input(runRef)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.runs.resume(input.runId, ctx.actor)),
      ),
    abort: operator
      .input(runControl)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.runs.abort(input.runId, ctx.actor, input.reason)),
      ),
    skipDrain: operator.input(skipDrainInput).mutation(async ({ ctx, input }) => {
      await ctx.services.runs.skipDrain(input.runId, input.serverId, ctx.actor);
      return ctx.services.queries.runStatus(input.runId);
    }),
    signOff: operator
      .input(signOffInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(
          await ctx.services.runs.signOff(input.runId, input.decision, input.comment, ctx.actor),
        ),
      ),
    skipServer: operator
      .input(serverInRun)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(
          await ctx.services.runs.skipServer(input.runId, input.serverId, ctx.actor),
        ),
      ),
    exclude: operator
      .input(serverInRun)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(await ctx.services.runs.exclude(input.runId, input.serverId, ctx.actor)),
      ),
    rollbackOptions: viewer
      .input(runRef)
      .query(({ ctx, input }) => ctx.services.runs.rollbackOptions(input.runId)),
    rollback: operator
      .input(rollbackInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(
          await ctx.services.runs.rollback(input.runId, ctx.actor, input.method, input.reason),
        ),
      ),
    decideRollback: operator
      .input(decideRollbackInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(
          await ctx.services.runs.decideRollback(input.runId, input.decision, input.comment, ctx.actor),
        ),
      ),
    waive: admin
      .input(waiveInput)
      .mutation(async ({ ctx, input }) =>
        ctx.services.queries.runView(
          await ctx.services.runs.waive(input.runId, input.gate, input.reason, ctx.actor),
        ),
      ),
    notice: viewer.input(noticeInput).query(async ({ ctx, input }) => ({
      text: await ctx.services.runs.notice(input.runId, input.timeZone),
    })),
    evidence: viewer.input(runRef).query(({ ctx, input }) => ctx.services.runs.evidence(input.runId)),
    /** A link for the customer's portal of this run (sign-off, rollback authorisation), expiring. */
    portalLink: operator.input(portalLinkInput).mutation(async ({ ctx, input }) => {
      const { token, expiresAt, id } = await ctx.services.runs.createPortalLink(input, ctx.actor);
      return { token, path: `/portal/${token}`, expiresAt, id };
    }),
    /** The run's portal links (ids, recipients, expiry, revocation), newest first; never a token. */
    portalLinks: viewer.input(runRef).query(({ ctx, input }) => ctx.services.runs.portalLinks(input.runId)),
    /** Withdraws a portal link at once: its token opens nothing afterwards. Audited. */
    revokePortalLink: operator
      .input(portalLinkRef)
      .mutation(({ ctx, input }) => ctx.services.runs.revokePortalLink(input, ctx.actor)),
    /** The live view over SSE: the run view when it changes and its new log lines (filtered). */
    watch: viewer.input(watchInput).subscription(async function* ({ ctx, input, signal }) {
      await ctx.services.queries.requireRun(input.runId);
      // Woken by the run's changes in this process (run-changes.ts); the interval is the fallback.
      const follower = ctx.services.runChanges?.follow(input.runId);
      // A client that leaves ends the wait at once, not at the fallback interval.
      signal?.addEventListener('abort', () => follower?.close(), { once: true });
      try {
        yield* watchRun(
          input,
          () => ctx.services.queries.runStatus(input.runId),
          (afterId) => ctx.services.queries.watchLogs(input, afterId),
          signal,
          follower ? (ms) => follower.wait(ms) : undefined,
        );
      } finally {
        follower?.close();
      }
    }),
  }),

  cluster: t.router({
    settings: viewer
      .input(clusterRef)
      .query(({ ctx, input }) => ctx.services.clusters.getSettings(input.cluster)),
    configure: admin
      .input(clusterSettingsInput)
      .mutation(({ ctx, input }) =>
        ctx.services.clusters.setSettings(input.cluster, input.settings, ctx.actor),
      ),
  }),

  lb: t.router({
    configure: admin
      .input(lbConfigureInput)
      .mutation(({ ctx, input }) => ctx.services.lb.configure(input.cluster, input.config, ctx.actor)),
    clear: admin
      .input(clusterRef)
      .mutation(({ ctx, input }) => ctx.services.lb.clear(input.cluster, ctx.actor)),
    show: viewer.input(clusterRef).query(({ ctx, input }) => ctx.services.lb.show(input.cluster)),
    traffic: viewer.input(clusterRef).query(({ ctx, input }) => ctx.services.lb.traffic(input.cluster)),
    haproxyConfig: viewer
      .input(haproxyConfigInput)
      .query(({ ctx, input }) => ctx.services.lb.haproxyConfig(input)),
    routes: viewer.input(clusterRef).query(({ ctx, input }) => ctx.services.lb.routes(input.cluster)),
    setRoutes: admin
      .input(routesSetInput)
      .mutation(({ ctx, input }) =>
        ctx.services.lb.setRoutes(input.cluster, input.rules, input.mapDir, ctx.actor, ctx.from),
      ),
  }),

  auth: t.router({
    /** The first administrator: only while no account exists, and only from the coordinator's machine. */
    bootstrap: procedure
      .input(bootstrapInput)
      .mutation(({ ctx, input }) =>
        ctx.services.auth.bootstrap(input.username, input.password, ctx.from, input.bootstrapSecret),
      ),
    login: procedure
      .input(credentialsInput)
      .mutation(({ ctx, input }) => ctx.services.auth.login(input.username, input.password, ctx.from)),
    logout: viewer.mutation(async ({ ctx }) => {
      if (ctx.token) await ctx.services.auth.logout(ctx.token);
      return { ok: true as const };
    }),
    whoami: viewer.query(({ ctx }) => ctx.user),
  }),

  users: t.router({
    list: admin.query(({ ctx }) => ctx.services.auth.listUsers()),
    create: admin
      .input(userCreateInput)
      .mutation(({ ctx, input }) =>
        ctx.services.auth.createUser(ctx.user, input.username, input.role, input.password),
      ),
    setRole: admin
      .input(userRoleInput)
      .mutation(({ ctx, input }) => ctx.services.auth.setRole(ctx.user, input.username, input.role)),
    disable: admin
      .input(userRef)
      .mutation(({ ctx, input }) => ctx.services.auth.disable(ctx.user, input.username)),
  }),

  /**
   * The customer's portal: every procedure takes the link's token and reaches that run only. The
   * token is the only credential; it opens nothing else (operator procedures refuse it).
   */
  portal: t.router({
    view: procedure.input(portalRef).query(async ({ ctx, input }) => {
      const { run, recipient } = await ctx.services.runs.openPortal(input.token);
      return ctx.services.queries.portalView(run, recipient);
    }),
    signOff: procedure.input(portalSignOffInput).mutation(async ({ ctx, input }) => {
      const { run, recipient } = await ctx.services.runs.openPortal(input.token);
      const done = await ctx.services.runs.signOff(
        run.id,
        input.decision,
        input.comment,
        `customer:${recipient}`,
      );
      return ctx.services.queries.portalView(done, recipient);
    }),
    decideRollback: procedure.input(portalDecideInput).mutation(async ({ ctx, input }) => {
      const { run, recipient } = await ctx.services.runs.openPortal(input.token);
      const done = await ctx.services.runs.decideRollback(
        run.id,
        input.decision,
        input.comment,
        `customer:${recipient}`,
      );
      return ctx.services.queries.portalView(done, recipient);
    }),
  }),

  /** Agent identity (docs/adr/0013): join tokens for enrolment, revocation. Both audited. */
  agents: t.router({
    /** A single-use join token; its text is in this answer only (stored as a hash). */
    createJoinToken: operator.input(joinTokenInput).mutation(({ ctx, input }) =>
      agentIdentity(ctx).createJoinToken(
        {
          ttlMs: input.ttlSeconds * 1000,
          cluster: input.cluster,
          ...(input.serverId ? { serverId: input.serverId } : {}),
        },
        ctx.actor,
        ctx.from,
      ),
    ),
    revoke: operator
      .input(agentRef)
      .mutation(({ ctx, input }) => agentIdentity(ctx).revoke(input.serverId, ctx.actor, ctx.from)),
  }),

  /** Service tokens for CI (docs/adr/0031): a signed-in administrator's, never a token's. */
  tokens: t.router({
    create: admin.input(tokenCreateInput).mutation(({ ctx, input }) => createServiceToken(ctx, input)),
    list: admin.query(({ ctx }) => listServiceTokens(ctx)),
    revoke: admin.input(tokenRef).mutation(({ ctx, input }) => revokeServiceToken(ctx, input.name)),
  }),

  /** Notifications (docs/adr/0032): per-cluster subscriptions to run events; secrets never answered. */
  notify: t.router({
    subscribe: operator
      .input(notifySubscribeInput)
      .mutation(({ ctx, input }) => notifications(ctx).subscribe(input, ctx.actor)),
    list: viewer.input(notifyListInput).query(({ ctx, input }) => notifications(ctx).list(input.cluster)),
    remove: operator
      .input(notifyRef)
      .mutation(({ ctx, input }) => notifications(ctx).remove(input.id, ctx.actor)),
    deliveries: viewer
      .input(notifyDeliveriesInput)
      .query(({ ctx, input }) => notifications(ctx).deliveries(input)),
    emailPortalLink: operator
      .input(notifyPortalLinkInput)
      .mutation(({ ctx, input }) => notifications(ctx).emailPortalLink(input, ctx.actor)),
  }),

  audit: t.router({
    list: viewer.query(({ ctx }) => ctx.services.queries.audit()),
  }),
});

function notifications(ctx: ApiContext): NotifyServices {
  if (!ctx.services.notify) {
    throw new TRPCError({ code: 'NOT_IMPLEMENTED', message: 'This coordinator has no notifications.' });
  }
  return ctx.services.notify;
}

export type AppRouter = typeof appRouter;
