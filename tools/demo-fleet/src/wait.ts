// Polling until something holds, for the fleet's start-up and for the tests that drive it: the one
// implementation lives in @rollgate/test-kit (docs/adr/0034); the fleet keeps its pace of a probe
// every 100 ms and a 30 s default deadline.
import { waiter } from '@rollgate/test-kit';

export { FatalWait } from '@rollgate/test-kit';
export const { waitFor } = waiter({ timeoutMs: 30_000, everyMs: 100 });
