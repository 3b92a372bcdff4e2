// A stand-in for the agent's heavy-work child in unit tests: the same job code, run in the test's
// own process (a child under tsx takes seconds to start on a busy machine). The child itself is
// exercised by the integration tests (agent.int.test.ts, heavy-work.int.test.ts, the bundle's).
import type { HeavyClient } from '../src/heavy/heavy-client';
import { runHeavyJob } from '../src/heavy/heavy-run';

export const inProcessHeavy: HeavyClient = {
  run: (job, opts) => runHeavyJob(job, opts?.input) as never,
};
