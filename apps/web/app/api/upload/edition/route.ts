import { forwardEditionUpload } from '../../../../src/coordinator-proxy';
import { serverEnv } from '../../../../src/env';

// An upload is never cached or prerendered; the body streams on to the coordinator (docs/adr/0036).
export const dynamic = 'force-dynamic';

export async function PUT(request: Request): Promise<Response> {
  return forwardEditionUpload(request, { coordinatorUrl: serverEnv().coordinatorUrl });
}
