// rollgate-agent: the daemon on every server. The one place that wires everything.
//
//   rollgate-agent --config /etc/rollgate/agent.json     run
//   rollgate-agent --config ... --check-config           validate, print OK or the errors, exit 0/1
//   (ROLLGATE_AGENT_CONFIG may replace --config)
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '@rollgate/logger';
import { loadAgentProtocol } from '@rollgate/protocol';
import { createAgent } from './agent';
import { loadConfig } from './config';
import { readEnv } from './env';

const USAGE = 'usage: rollgate-agent --config <path> [--check-config]   (or set ROLLGATE_AGENT_CONFIG)';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: { config: { type: 'string' }, 'check-config': { type: 'boolean' }, help: { type: 'boolean' } },
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
  // The single-file bundle (tools/agent-bundle) ships agent.proto beside itself; run from the
  // sources, there is none there and the protocol package's own copy is used.
  const besideProto = join(dirname(process.argv[1] ?? '.'), 'agent.proto');
  const protocol = existsSync(besideProto) ? loadAgentProtocol(besideProto) : undefined;
  const agent = createAgent({ config, log, baseEnv: env.inherited, ...(protocol ? { protocol } : {}) });
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
