// `npm start`: the coordinator on the embedded PostgreSQL, the console, and a local demo fleet of
// 4 agents (2 roles × 2 servers) each managing a demo-app. State lives under .rollgate/ and
// survives restarts. When HAProxy is installed, the demo fleet is put behind it (configured with
// `lb haproxy-config` and `lb configure`) with a steady load, so the console's live run page shows
// requests served per edition and failed requests during an upgrade. Ctrl-C stops everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { appPostgresUnavailableReason, startAppPostgres, type AppPostgres } from '@rollgate/app-db';
import { findHaproxy } from '@rollgate/lb/testing';
import { z } from 'zod';
import { ROOT, startFleet, waitFor, type Fleet } from './fleet';
import { behindHaproxy, type FleetHaproxy } from './src/haproxy';
import { createSteadyLoad, type SteadyLoad } from './src/steady-load';

const env = z
  .object({
    ROLLGATE_DATA_DIR: z.string().default(join(ROOT, '.rollgate')),
    ROLLGATE_HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(7400),
    ROLLGATE_GRPC_PORT: z.coerce.number().int().min(1).max(65535).default(7401),
    ROLLGATE_WEB_PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    // HAProxy's frontend for the demo fleet (only when HAProxy is installed).
    ROLLGATE_LB_PORT: z.coerce.number().int().min(1).max(65535).default(7480),
    // The steady load sent through that frontend, requests per second.
    ROLLGATE_DEMO_LOAD_RPS: z.coerce
      .number({ error: 'ROLLGATE_DEMO_LOAD_RPS must be a number of requests per second' })
      .min(0.1)
      .max(100)
      .default(5),
    // 1: agents connect in plaintext (no enrolment); default: join tokens and mTLS (docs/adr/0013).
    ROLLGATE_DEMO_INSECURE: z
      .enum(['0', '1'], { error: 'ROLLGATE_DEMO_INSECURE must be 0 or 1' })
      .default('0')
      .transform((v) => v === '1'),
  })
  .parse(process.env);

function runNext(args: string[], extraEnv: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'node_modules/next/dist/bin/next'), ...args], {
    cwd: join(ROOT, 'apps/web'),
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...extraEnv },
    stdio: 'inherit',
  });
}

const DEMO_CLUSTER = 'demo';

/**
 * HAProxy in front of the demo cluster with a steady load through it, or why not (HAProxy is not
 * installed or does not start): the demo then runs without a load balancer, its gates alone
 * taking servers out of rotation.
 */
async function startFrontend(
  fleet: Fleet,
  socketPath: string,
): Promise<{ lb: FleetHaproxy; load: SteadyLoad } | { reason: string }> {
  const without = async (reason: string) => {
    console.log(`rollgate: the demo fleet runs without a load balancer: ${reason}`);
    // A load balancer configured by an earlier start with HAProxy would now refuse every upgrade.
    const shown = await fleet.api.lb.show.query({ cluster: DEMO_CLUSTER });
    if (shown.config?.balancers.some((b) => b.runtime.socketPath === socketPath)) {
      await fleet.api.lb.clear.mutate({ cluster: DEMO_CLUSTER });
    }
    return { reason };
  };
  const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
  try {
    findHaproxy();
  } catch (err) {
    return without(`HAProxy was not found (${message(err)})`);
  }
  let lb: FleetHaproxy;
  try {
    lb = await behindHaproxy(fleet, { cluster: DEMO_CLUSTER, port: env.ROLLGATE_LB_PORT });
  } catch (err) {
    return without(
      `HAProxy did not start in front of it (is port ${env.ROLLGATE_LB_PORT} taken? set ROLLGATE_LB_PORT): ${message(err)}`,
    );
  }
  const load = createSteadyLoad({ url: lb.front, ratePerSec: env.ROLLGATE_DEMO_LOAD_RPS });
  load.start();
  return { lb, load };
}

async function main() {
  const dir = join(env.ROLLGATE_DATA_DIR, 'demo');
  // The demo application's database (Debian PostgreSQL 15, see tools/app-db): optional, so that
  // `npm start` still works on a machine with only Node and npm.
  let appDb: AppPostgres | null = null;
  const unavailable = appPostgresUnavailableReason();
  if (unavailable) {
    console.log(
      `rollgate: no demo application database, so major upgrades are not available: ${unavailable}`,
    );
  } else {
    try {
      appDb = await startAppPostgres({ dir: join(dir, 'app-db') });
    } catch (err) {
      console.log(
        `rollgate: the demo application database did not start, so major upgrades are not available: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  console.log(`rollgate: starting the coordinator and a demo fleet of 4 agents (data: ${dir}) …`);
  const fleet = await startFleet({
    dir,
    httpPort: env.ROLLGATE_HTTP_PORT,
    grpcPort: env.ROLLGATE_GRPC_PORT,
    stablePorts: true,
    insecure: env.ROLLGATE_DEMO_INSECURE,
    ...(appDb ? { appDatabaseUrl: appDb.url, appDatabaseBinDir: appDb.binDir, testMachine: true } : {}),
  }).catch(async (err: unknown) => {
    await appDb?.stop();
    throw err;
  });
  const started = await startFrontend(fleet, join(dir, `haproxy-${DEMO_CLUSTER}.sock`)).catch(
    async (err: unknown) => {
      await fleet.stop();
      await appDb?.stop();
      throw err;
    },
  );
  const frontend = 'lb' in started ? started : null;

  if (!existsSync(join(ROOT, 'apps/web/.next/BUILD_ID'))) {
    console.log('rollgate: building the console once (next build, ~30 s) …');
    const build = runNext(['build'], {});
    const code = await new Promise<number>((r) => build.on('exit', (c) => r(c ?? 1)));
    if (code !== 0) throw new Error('the console failed to build; see the output above');
  }
  const web = runNext(['start', '-p', String(env.ROLLGATE_WEB_PORT), '-H', '127.0.0.1'], {
    COORDINATOR_URL: fleet.url,
  });
  const consoleUrl = `http://127.0.0.1:${env.ROLLGATE_WEB_PORT}`;
  await waitFor('the console', async () => (await fetch(consoleUrl)).ok, 60_000, 250);

  console.log(`
  Rollgate is running.
    console      ${consoleUrl}
    API (tRPC)   ${fleet.url}/trpc
    frontend     ${
      frontend
        ? `${frontend.lb.front} (HAProxy in front of cluster ${DEMO_CLUSTER}, ${env.ROLLGATE_DEMO_LOAD_RPS} requests/s of steady load;
                 a live run page draws the requests served per edition and the failed ones)`
        : `none, so upgrades use the gates alone: ${'reason' in started ? started.reason : ''}`
    }
    agents gRPC  ${fleet.grpcAddress} ${fleet.insecure ? '(INSECURE: plaintext, ROLLGATE_DEMO_INSECURE=1)' : `(mTLS; agents enrolled with join tokens at ${fleet.enrolAddress})`}
    demo fleet   ${fleet.agents.map((a) => `${a.id} (demo-app on :${a.servicePort}, gate :${a.gatePort})`).join(', ')}
    logs         ${join(dir, 'logs')}${
      appDb
        ? `
    app database PostgreSQL ${appDb.major} on 127.0.0.1:${appDb.port} (database ${appDb.database}); test machine ${fleet.testMachineId}
                 major upgrades are possible: edition 2.0 migrates the schema (db-upgrade)`
        : ''
    }

    sign in      user admin, password in ${join(dir, 'admin-password')} (console and CLI)

  Try, in another terminal:
    npx rollgate login --username admin < ${join(dir, 'admin-password')}
    npx rollgate servers
    npx rollgate edition list
    npx rollgate upgrade plan  --cluster demo --app demo-app --edition 2.0
    npx rollgate upgrade start --cluster demo --app demo-app --edition 2.0 --drainage-interval 2 --wait
    npx rollgate upgrade logs <run-id> --follow
    npx rollgate upgrade signoff <run-id> --approve

  Ctrl-C stops everything.
`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nrollgate: stopping …');
    web.kill('SIGTERM');
    await frontend?.load.stop();
    await frontend?.lb.stop();
    await fleet.stop();
    await appDb?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(`rollgate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
