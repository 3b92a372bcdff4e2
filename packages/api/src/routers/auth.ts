import { t, procedure, viewer, admin } from '../trpc';
import { bootstrapInput, credentialsInput, userCreateInput, userRef, userRoleInput } from '../inputs';

export const authRouter = t.router({
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
});

export const usersRouter = t.router({
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
});
