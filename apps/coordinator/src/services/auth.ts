import { ApiError, type ApiServices } from '@rollgate/api';
import { IdentityError, type AgentIdentity } from '../identity/agent-identity';
import type { AuthService } from '../http/auth-service';
import { isServiceToken, type ServiceTokens } from '../http/service-tokens';

/** The identity service with its refusals as API errors. */
export function agentServices(identity: AgentIdentity): NonNullable<ApiServices['agents']> {
  return {
    async createJoinToken(input, actor, from) {
      try {
        return await identity.createJoinToken(input, actor, from);
      } catch (err) {
        if (err instanceof IdentityError) throw new ApiError('BAD_REQUEST', err.message);
        throw err;
      }
    },
    revoke: (serverId, actor, from) => identity.revoke(serverId, actor, from),
    transports: (serverIds) => identity.transports(serverIds),
  };
}

/** The auth service as the API sees it; its AuthErrors are ApiErrors already. */
export function authServices(auth: AuthService, tokens?: ServiceTokens): ApiServices['auth'] {
  return {
    bootstrap: auth.bootstrap,
    login: auth.login,
    logout: auth.logout,
    // A service token (`rgt_…`) is not a session: its own table, role and scope.
    authenticate: (token) =>
      isServiceToken(token)
        ? (tokens?.authenticate(token) ?? Promise.resolve(null))
        : auth.authenticate(token),
    createUser: auth.createUser,
    listUsers: auth.listUsers,
    setRole: auth.setRole,
    disable: auth.disable,
    createPortalToken: auth.createPortalToken,
    resolvePortal: auth.resolvePortal,
    portalRefusal: auth.portalRefusal,
    listPortalLinks: auth.listPortalLinks,
    revokePortalLink: auth.revokePortalLink,
  };
}
