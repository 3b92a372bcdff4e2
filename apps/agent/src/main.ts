// rollgate-agent: the daemon on every server. The one place that wires everything.
//
//   rollgate-agent --config /etc/rollgate/agent.json     run
//   rollgate-agent --config ... --check-config           validate, print OK or the errors, exit 0/1
//   (ROLLGATE_AGENT_CONFIG may replace --config)
//   first start: ROLLGATE_JOIN_TOKEN=<token> (or --join-token-file <path>) enrols the agent (mTLS);
//   --insecure (or coordinator.insecure, ROLLGATE_AGENT_INSECURE=1): plaintext, no identity
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '@rollgate/logger';
import * as grpc from '@grpc/grpc-js';
import { createAgent } from './agent';
import { loadConfig } from './config';
import { readEnv } from './env';
import { errorMessage } from './lib/fs-util';
import { createIdentity, EnrolmentRefused, type AgentIdentity } from './coordinator/identity';
import { versionLine } from './version-line';

const USAGE =
  'usage: rollgate-agent --config <path> [--check-config] [--join-token-file <path>] [--insecure] [--version]   (or set ROLLGATE_AGENT_CONFIG)';

/** Enrols, retrying while the coordinator cannot be reached; a refusal ends the attempt at once. */
async function enrolWithRetry(identity: AgentIdentity, token: string, log: Logger): Promise<void> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 15_000)) {
    try {
      await identity.enrol(token);
      return;
    } catch (err) {
      if (err instanceof EnrolmentRefused) throw err;
      log.warn({ err: errorMessage(err), retryInMs: delay }, 'enrolment: coordinator unreachable; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string' },
        'check-config': { type: 'boolean' },
        'join-token-file': { type: 'string' },
        insecure: { type: 'boolean' },
        help: { type: 'boolean' },
        version: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.version) {
    console.log(versionLine());
    return 0;
  }
  let env;
  try {
    env = readEnv();
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const configPath = args.config ?? env.configPath;
  if (!configPath) {
    console.error(`no config file given\n${USAGE}`);
    return 2;
  }
  const loaded = await loadConfig(configPath);
  if (!loaded.ok) {
    console.error(
      `${configPath}: the agent config is not valid:\n${loaded.errors.map((e) => `  - ${e}`).join('\n')}`,
    );
    return 1;
  }
  const config = loaded.config;
  if (args['check-config']) {
    console.log(
      `OK: ${configPath} is valid (agent ${config.agentId}, cluster ${config.cluster}, role ${config.role}, services: ${config.services.map((s) => s.name).join(', ')})`,
    );
    return 0;
  }

  const log = createLogger({
    name: 'agent',
    level: config.logLevel ?? env.logLevel ?? 'info',
    base: { agentId: config.agentId },
  });
  // Identity (docs/adr/0013): mTLS with a certificate from the coordinator's CA, unless opted out.
  let credentials: grpc.ChannelCredentials;
  let identity: AgentIdentity | undefined;
  if (args.insecure || env.insecure || config.coordinator.insecure) {
    log.warn(
      { coordinator: config.coordinator.addresses.join(', ') },
      'insecure mode: plaintext gRPC with no identity; the coordinator must run with ROLLGATE_INSECURE_AGENTS and flags this agent as insecure',
    );
    credentials = grpc.credentials.createInsecure();
  } else {
    identity = createIdentity({
      dir: join(config.dataDir, 'identity'),
      serverId: config.agentId,
      enrolAddress: config.coordinator.enrolAddress,
      log,
    });
    try {
      if (!(await identity.load())) {
        const token = args['join-token-file']
          ? (await readFile(args['join-token-file'], 'utf8')).trim()
          : env.joinToken;
        if (!token) {
          log.fatal(
            { dataDir: config.dataDir },
            'this agent has no identity yet: give it a join token from `rollgate agents token create` (ROLLGATE_JOIN_TOKEN or --join-token-file), or run --insecure against a coordinator started with ROLLGATE_INSECURE_AGENTS',
          );
          return 1;
        }
        log.info({ enrolAddress: config.coordinator.enrolAddress }, 'enrolling with the join token');
        await enrolWithRetry(identity, token, log);
      }
    } catch (err) {
      log.fatal({ why: errorMessage(err) }, 'enrolment failed');
      return 1;
    }
    identity.start();
    credentials = identity.credentials();
  }
  const agent = createAgent({
    config,
    log,
    baseEnv: env.inherited,
    credentials,
    urlFetch: env.urlFetch,
  });
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err }, 'agent could not start');
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      identity?.stop();
      log.info({ signal }, 'signal received; stopping (managed services keep running)');
      agent.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main().then(
  (code) => {
    // Give pino's stdout a tick to drain before leaving.
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
