/**
 * Installs the X-Forwarded-* rewrite (forwarded.ts) in front of every HTTP request this Node
 * process serves: Next's server is created inside `next start`, out of reach, so the hook wraps
 * http.Server's `emit('request')`, which runs before any of Next's code sees the request.
 */
import { Server, type IncomingMessage } from 'node:http';
import { rewriteForwarded, type ProxyTrust } from './forwarded';

let installed = false;

export function installForwardedHook(trust: ProxyTrust): void {
  if (installed) return;
  installed = true;
  const emit = Server.prototype.emit;
  Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
    if (event === 'request') {
      const req = args[0] as IncomingMessage;
      rewriteForwarded(req.headers, req.socket?.remoteAddress, trust);
    }
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as typeof emit;
}
