import { initTRPC, TRPCError } from '@trpc/server';
import { roleAllows, type Role } from '@rollgate/domain';
import { errorIssues, toTRPCError } from './errors';
import { enforceTokenScope, SERVICE_TOKEN_PREFIX } from './tokens-router';
import type { ApiContext } from './api-services';

// The tRPC instance, its error mapping and the role-checked procedures every router builds on.

export const t = initTRPC.context<ApiContext>().create({
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

export const procedure = t.procedure.use(errorMapping);

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

export const viewer = procedure.use(requireRole('viewer'));
export const operator = procedure.use(requireRole('operator'));
export const admin = procedure.use(requireRole('admin'));
