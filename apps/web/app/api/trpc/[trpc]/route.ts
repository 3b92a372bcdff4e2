import { forwardToCoordinator } from '../../../../src/coordinator-proxy';
import { serverEnv } from '../../../../src/env';

// Every call is live fleet state: never cached, never prerendered.
export const dynamic = 'force-dynamic';

interface RouteContext {
  params: Promise<{ trpc: string }>;
}

async function handle(request: Request, context: RouteContext): Promise<Response> {
  const { trpc } = await context.params;
  return forwardToCoordinator(request, trpc, { coordinatorUrl: serverEnv().coordinatorUrl });
}

export { handle as GET, handle as POST };
