import { serverEnv } from '../../../src/env';
import { signIn, signOut } from '../../../src/session-handlers';

export const dynamic = 'force-dynamic';

export function POST(request: Request): Promise<Response> {
  return signIn(request, { coordinatorUrl: serverEnv().coordinatorUrl });
}

export function DELETE(request: Request): Promise<Response> {
  return signOut(request, { coordinatorUrl: serverEnv().coordinatorUrl });
}
