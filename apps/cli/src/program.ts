/**
 * `rollgate`: the scripting interface to the coordinator. This file wires everything: it reads the
 * environment (through env.ts), builds the commander program, gives each command its context and
 * turns every failure into one clear message and an exit code (see EXIT in errors.ts). main.ts
 * loads it on demand (`--version` never does).
 */
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_COORDINATOR_URL, ROLES, coordinatorUrlSchema } from '@rollgate/domain';
import { createClient } from './client';
import { createLiveWatch } from './live';
import {
  adminInitCommand,
  loginCommand,
  logoutCommand,
  usersCreateCommand,
  usersDisableCommand,
  usersListCommand,
  usersSetRoleCommand,
  whoamiCommand,
  type AuthContext,
} from './commands/auth';
import type { JsonFlag } from './context';
import { loadSession } from './credentials';
import { readPassword } from './read-password';
import { EnvError, loadEnv, type CliEnv } from './env';
import { CliError, EXIT, explainError } from './errors';
import { terminalText } from './format';
import { createOutput } from './output';
import { versionLine } from './version';
import { agentsRevokeCommand, agentsTokenCreateCommand } from './commands/agents';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from './commands/tokens';
import { auditCommand } from './commands/audit';
import {
  notifyAddCommand,
  notifyDeliveriesCommand,
  notifyListCommand,
  notifyPortalLinkCommand,
  notifyRemoveCommand,
} from './commands/notify';
import { editionListCommand, editionUploadCommand } from './commands/editions';
import { createEditionUpload } from './edition-stream';
import {
  editionActivateCommand,
  editionBackoutCommand,
  editionInstallCommand,
  editionRolloutCommand,
  editionValidateCommand,
  editionDeactivateCommand,
  editionStatusCommand,
  type EditionVerbFlags,
} from './commands/edition-verbs';
import {
  haproxyConfigCommand,
  lbClearCommand,
  lbConfigureCommand,
  lbShowCommand,
  routesSetCommand,
  routesShowCommand,
} from './commands/lb';
import { logsCommand, type LogsFlags } from './commands/logs';
import {
  authoriseRollbackCommand,
  clusterConfigureCommand,
  clusterSettingsCommand,
  evidenceCommand,
  excludeCommand,
  noticeCommand,
  rollbackCommand,
  skipServerCommand,
  waiveCommand,
  type DecideFlags,
  type RollbackFlags,
} from './commands/procedures';
import { serversCommand } from './commands/servers';
import { statusCommand } from './commands/status';
import {
  controlCommand,
  listCommand,
  type ControlFlags,
  planCommand,
  portalLinkCreateCommand,
  portalLinkListCommand,
  portalLinkRevokeCommand,
  signOffCommand,
  startCommand,
} from './commands/upgrade';

/** `cli:<user>@<host>`: enough for the audit log to tell who ran what from where. */
function defaultActor(env: CliEnv): string {
  let user = env.user;
  try {
    user = os.userInfo().username || user;
  } catch {
    // An unknown uid (some containers) has no passwd entry; USER/LOGNAME is the best we have.
  }
  return `cli:${user ?? 'unknown'}@${os.hostname()}`;
}

/** Commander argument parser for whole numbers in a range; its message lands after the flag's name. */
const wholeNumber = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
  }
  return n;
};

interface GlobalFlags {
  url: string;
  actor?: string;
  token?: string;
}

/** Runs one command line (`process.argv` shape); resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let env: CliEnv;
  try {
    env = loadEnv();
  } catch (err) {
    if (!(err instanceof EnvError)) throw err;
    process.stderr.write(`rollgate: ${err.message}\n`);
    return EXIT.usage;
  }

  let url = env.coordinatorUrl ?? DEFAULT_COORDINATOR_URL;
  let exitCode: number = EXIT.ok;

  const contextFor = async (cmd: Command, json: boolean | undefined): Promise<AuthContext> => {
    const global = cmd.optsWithGlobals<GlobalFlags>();
    const parsedUrl = coordinatorUrlSchema.safeParse(global.url);
    if (!parsedUrl.success)
      throw new CliError(`--url ${parsedUrl.error.issues[0]?.message ?? 'is invalid'}.`);
    url = parsedUrl.data;
    const actor = global.actor ?? defaultActor(env);
    // Header values must be printable ASCII; say so here instead of failing inside fetch.
    if (!/^[\x20-\x7e]{1,200}$/.test(actor)) {
      throw new CliError('--actor must be 1-200 printable ASCII characters, e.g. cli:alice@build-7.');
    }
    // A token: --token, else ROLLGATE_TOKEN, else the session `rollgate login` saved for this URL.
    const token = global.token ?? env.token ?? (await loadSession(env.configDir, url, Date.now()))?.token;
    if (global.token !== undefined && !/^[A-Za-z0-9_-]{20,200}$/.test(global.token)) {
      throw new CliError(
        '--token must be a token printed by `rollgate login --print-token` or `rollgate token create`.',
      );
    }
    return {
      client: createClient({ url, actor, token }),
      live: createLiveWatch({ url, actor, token }),
      streamEdition: createEditionUpload({ url, actor, token, stderr: process.stderr }),
      configDir: env.configDir,
      readPassword,
      url,
      out: createOutput({ noColor: env.noColor, json: json === true }),
      now: () => Date.now(),
      sleep: (ms) => delay(ms),
    };
  };

  /** Wraps a command: builds its context from the parsed flags and keeps its exit code. */
  const act =
    <A extends unknown[], F extends { json?: boolean }>(
      fn: (ctx: AuthContext, ...args: [...A, F]) => Promise<number>,
    ) =>
    async (...args: [...A, F, Command]) => {
      const cmd = args[args.length - 1] as Command;
      const flags = args[args.length - 2] as F;
      const rest = args.slice(0, -1) as [...A, F];
      exitCode = await fn(await contextFor(cmd, flags.json), ...rest);
    };

  const program = new Command('rollgate')
    .description('Upgrade fleets of servers behind load balancers with no request lost.')
    .version(versionLine(), '-V, --version')
    .option('--url <url>', 'coordinator base URL (env ROLLGATE_URL)', url)
    .option('--actor <who>', 'the client, for the coordinator log (default: cli:<user>@<host>)')
    .option(
      '--token <token>',
      'a session or service token (default: ROLLGATE_TOKEN, else the session of `rollgate login`)',
    )
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  // A fresh Option per command: commander keeps per-command state on it.
  const json = () => new Option('--json', 'print JSON only, for scripts');

  program
    .command('login')
    .description('sign in to the coordinator; the session is saved for this URL (0600)')
    .requiredOption('--username <name>', 'your user name')
    .option('--print-token', 'print the session token instead of saving it (for ROLLGATE_TOKEN in scripts)')
    .addOption(json())
    .action(act(loginCommand));
  program.command('logout').description('end the saved session').addOption(json()).action(act(logoutCommand));
  program
    .command('whoami')
    .description('who you are signed in as')
    .addOption(json())
    .action(act(whoamiCommand));
  program
    .command('admin')
    .description('first-run setup')
    .command('init')
    .description(
      "create the first administrator (only while no account exists; on the coordinator's machine)",
    )
    .requiredOption('--username <name>', "the administrator's user name")
    .option(
      '--bootstrap-secret-file <path>',
      "the coordinator's one-time bootstrap secret (default: bootstrap-secret in ROLLGATE_DATA_DIR, else ./.rollgate)",
    )
    .addOption(json())
    .action(
      act((ctx: AuthContext, flags: JsonFlag & { username: string; bootstrapSecretFile?: string }) =>
        adminInitCommand(ctx, { ...flags, dataDir: env.dataDir }),
      ),
    );
  const users = program.command('users').description('operator accounts (administrators only)');
  const roleOption = () =>
    new Option('--role <role>', 'admin, operator or viewer').choices(ROLES).makeOptionMandatory();
  users
    .command('list')
    .description('every account and its role')
    .addOption(json())
    .action(act(usersListCommand));
  users
    .command('create')
    .description('create an account (the password is asked for, or read from standard input)')
    .requiredOption('--username <name>', 'the user name')
    .addOption(roleOption())
    .addOption(json())
    .action(act(usersCreateCommand));
  users
    .command('set-role')
    .description("change an account's role")
    .requiredOption('--username <name>', 'the user name')
    .addOption(roleOption())
    .addOption(json())
    .action(act(usersSetRoleCommand));
  users
    .command('disable')
    .description('disable an account; its sessions end')
    .requiredOption('--username <name>', 'the user name')
    .addOption(json())
    .action(act(usersDisableCommand));

  const agents = program.command('agents').description('agent identities: join tokens, revocation (mTLS)');
  agents
    .command('token')
    .description('join tokens agents enrol with')
    .command('create')
    .description('create a single-use join token (shown once; operators and administrators)')
    .option('--ttl <duration>', 'how long it may be used: 30m, 1h, 2d (at most 7d)', '1h')
    .option('--cluster <cluster>', 'the cluster the agent joins and is pinned to (required)')
    .option('--server <server-id>', 'the only server id that may enrol with it (default: any not enrolled)')
    .addOption(json())
    .action(act(agentsTokenCreateCommand));
  agents
    .command('revoke')
    .description("revoke a server's certificates: its stream is closed, it cannot renew (audited)")
    .argument('<server-id>', 'the agent id')
    .addOption(json())
    .action(act(agentsRevokeCommand));

  const notify = program
    .command('notify')
    .description("run events to signed webhooks and to the run's contacts by email (README Notifications)");
  notify
    .command('add')
    .description("subscribe a webhook or the run contacts to a cluster's run events (operators)")
    .requiredOption('--cluster <cluster>', 'the cluster whose runs are followed')
    .option('--webhook <url>', 'POST each event as JSON, signed (X-Rollgate-Signature: sha256=<HMAC>)')
    .option('--secret-file <file>', "the webhook's HMAC secret, on the file's first line (16+ characters)")
    .option('--email', "email the run's contacts (the announcement of `upgrade notice`)")
    .option(
      '--events <list>',
      'comma-separated: scheduled,started,phase,paused,failed,rollback-proposed,sign-off,succeeded,rolled-back,aborted',
    )
    .addOption(json())
    .action(act(notifyAddCommand));
  notify
    .command('list')
    .description('the subscriptions (never their secrets)')
    .option('--cluster <cluster>', 'only this cluster')
    .addOption(json())
    .action(act(notifyListCommand));
  notify
    .command('remove')
    .description('remove a subscription and its pending deliveries (operators)')
    .argument('<id>', 'the subscription id (ns-…)')
    .addOption(json())
    .action(act(notifyRemoveCommand));
  notify
    .command('deliveries')
    .description('the delivery log, newest first: attempts, status, last error')
    .option('--cluster <cluster>', 'only this cluster')
    .option('--subscription <id>', 'only this subscription')
    .option('--run <runId>', 'only this run')
    .option('--limit <n>', 'at most this many (1-1000)', '50')
    .addOption(json())
    .action(act(notifyDeliveriesCommand));
  notify
    .command('portal-link')
    .description(
      "email a new customer portal link to the run's lead contact (operators; the link is in that mail only)",
    )
    .argument('<runId>', 'the run')
    .option('--ttl-hours <n>', 'how long it works, 1-720 hours', '72')
    .addOption(json())
    .action(
      act((ctx, runId: string, flags: JsonFlag & { ttlHours?: string }) =>
        notifyPortalLinkCommand(ctx, runId, flags),
      ),
    );

  const serviceTokens = program
    .command('token')
    .description('service tokens for CI: a role, an optional cluster, an expiry (administrators only)');
  serviceTokens
    .command('create')
    .description('create a service token; prints it once on standard output (use it as ROLLGATE_TOKEN)')
    .requiredOption('--name <name>', 'a name for the token, e.g. ci')
    .addOption(roleOption())
    .option('--cluster <cluster>', 'the only cluster it may act on (default: every cluster)')
    .option('--expires <duration>', 'how long it lives: 90s, 12h, 30d (at most 365d)', '30d')
    .addOption(json())
    .action(act(tokenCreateCommand));
  serviceTokens
    .command('list')
    .description('every service token: role, scope, created, expires, last used, revoked')
    .addOption(json())
    .action(act(tokenListCommand));
  serviceTokens
    .command('revoke')
    .description('revoke a service token at once (audited)')
    .argument('<name>', 'the token name')
    .addOption(json())
    .action(act(tokenRevokeCommand));

  program
    .command('servers')
    .description('list the servers (agents) the coordinator knows')
    .option('--cluster <cluster>', 'only servers of this cluster')
    .addOption(json())
    .action(act(serversCommand));

  const edition = program
    .command('edition')
    .description('upload and list editions (versions of an application)');
  edition
    .command('upload')
    .alias('add')
    .description(
      'upload an edition archive (streamed, with progress) or have the coordinator fetch it by URL; prints its sha256 and size',
    )
    .requiredOption('--app <app>', 'the application, e.g. demo-app')
    .requiredOption('--name <name>', 'the edition name, e.g. 2.0 or 1.0.1_FIX')
    .option('--file <path>', "the archive to upload (up to the coordinator's ROLLGATE_MAX_EDITION_BYTES)")
    .option(
      '--from-url <url>',
      'an http(s) URL the archive is fetched from, by the coordinator or (--fetch-by agents) each agent (needs --sha256)',
    )
    .option('--sha256 <hex>', "the archive's sha256: required with --from-url, checked against --file")
    .addOption(
      new Option(
        '--fetch-by <who>',
        'with --from-url: the coordinator downloads it once (default), or each agent downloads it from the URL',
      ).choices(['coordinator', 'agents']),
    )
    .option(
      '--size <bytes>',
      "with --fetch-by agents: the archive's size, checked by every agent (default unknown)",
      wholeNumber(1, Number.MAX_SAFE_INTEGER),
    )
    .option('--description <text>', 'free text shown in the console')
    .option('--db-upgrade-command <name>', "named database upgrade command from the service's config")
    .addOption(json())
    .action(act(editionUploadCommand));
  edition
    .command('list')
    .description('list uploaded editions')
    .option('--app <app>', 'only editions of this application')
    .addOption(json())
    .action(act(editionListCommand));

  const target = (cmd: Command, editionRequired: boolean) => {
    cmd
      .requiredOption('--app <app>', 'the application')
      .requiredOption('--cluster <cluster>', 'the deployment target');
    if (editionRequired) cmd.requiredOption('--edition <edition>', 'the edition');
    else cmd.option('--edition <edition>', 'the edition to go back to (default: the previous one)');
    return cmd;
  };
  const rolloutFlags = (cmd: Command) =>
    cmd
      .addOption(
        new Option('--strategy <strategy>', 'grouped (default) or atomic').choices(['grouped', 'atomic']),
      )
      .addOption(new Option('--reset <reset>', 'soft (default) or hard').choices(['soft', 'hard']))
      .option('--group-size <n>', 'servers per group (grouped; default 1)', wholeNumber(1, 100_000))
      .option(
        '--drainage-interval <seconds>',
        'how long a server may finish its requests (default 30)',
        wholeNumber(0, 3600),
      )
      .option('--wait', 'follow the run until it ends')
      .addOption(json());
  rolloutFlags(
    target(edition.command('rollout').description('replace the active edition without interruption'), true),
  ).action(act((ctx, flags: EditionVerbFlags) => editionRolloutCommand(ctx, flags)));
  target(
    edition
      .command('validate')
      .description('run an edition on a clone of the target (second instances) for pilot requests'),
    true,
  )
    .option(
      '--clone-size <n>',
      'servers that run it beside their current instance (default 1)',
      wholeNumber(1, 100_000),
    )
    .option('--wait', 'follow the run until it ends')
    .addOption(json())
    .action(act((ctx, flags: EditionVerbFlags) => editionValidateCommand(ctx, flags)));
  target(
    edition
      .command('deactivate')
      .description('deactivate a validation edition: its clone stops, the pilot rules to it are lifted'),
    true,
  )
    .option('--wait', 'follow the run until it ends')
    .addOption(json())
    .action(act((ctx, flags: EditionVerbFlags) => editionDeactivateCommand(ctx, flags)));
  rolloutFlags(
    target(
      edition
        .command('backout')
        .description('roll the previous edition out again (fast path when still installed)'),
      false,
    ),
  ).action(act((ctx, flags: EditionVerbFlags) => editionBackoutCommand(ctx, flags)));
  target(
    edition
      .command('install')
      .description('distribute an edition to every server of a target, not activated'),
    true,
  )
    .option('--wait', 'follow the run until it ends')
    .addOption(json())
    .action(act((ctx, flags: EditionVerbFlags) => editionInstallCommand(ctx, flags)));
  target(
    edition
      .command('activate')
      .description('simple activation: stop, deactivate, activate, start (DOWNTIME)'),
    true,
  )
    .option('--accept-downtime', 'go ahead although every server stops at once')
    .option(
      '--drainage-interval <seconds>',
      'how long a server may finish its requests (default 30)',
      wholeNumber(0, 3600),
    )
    .option('--wait', 'follow the run until it ends')
    .addOption(json())
    .action(act((ctx, flags: EditionVerbFlags) => editionActivateCommand(ctx, flags)));
  edition
    .command('status')
    .description("each edition's state (ACTIVE/INACTIVE) per target, and which is the base edition")
    .requiredOption('--app <app>', 'the application')
    .option('--cluster <cluster>', 'only this target')
    .addOption(json())
    .action(act((ctx, flags: EditionVerbFlags) => editionStatusCommand(ctx, flags)));

  const upgrade = program.command('upgrade').description('plan, run and follow upgrades');
  const upgradeFlags = (cmd: Command) =>
    cmd
      .requiredOption('--cluster <cluster>', 'the cluster to upgrade')
      .requiredOption('--app <app>', 'the application to upgrade')
      .requiredOption('--edition <edition>', 'the edition to upgrade to (uploaded before)')
      .option(
        '--drainage-interval <seconds>',
        'how long a server may finish in-flight work (default 30)',
        wholeNumber(0, 3600),
      )
      .option(
        '--health-timeout <seconds>',
        'how long a started service may take to become healthy (default 120)',
        wholeNumber(1, 3600),
      )
      .option('--no-sign-off', "end without the customer's verification and sign-off")
      .option('--probe-path <path>', 'path probed by the functionality tests (default /health)')
      .option('--major', 'a major upgrade: runs the schema step once, with announced downtime')
      .option('--from <edition>', 'the edition the servers run now (default: the one they report)')
      .option('--at <time>', 'start at this ISO 8601 time, e.g. 2026-11-23T22:00:00Z (default now)')
      .option(
        '--window <minutes>',
        'the agreed upgrade window (default: the announced one)',
        wholeNumber(1, 10_080),
      )
      .addOption(
        new Option('--on-failure <policy>', 'pause for a decision (default) or roll back').choices([
          'pause',
          'rollback',
        ]),
      )
      .option('--contacts <file>', 'JSON with the window contacts: { lead, appAdmin, lbAdmin, onCall? }')
      .option(
        '--waive <gate=reason>',
        'waive a readiness gate with a reason (repeatable, audited)',
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .addOption(json());

  upgradeFlags(
    upgrade.command('plan').description('show the plan an upgrade would run, without starting it'),
  ).action(act(planCommand));
  upgradeFlags(
    upgrade.command('start').description('start an upgrade; prints the run id and how to follow it'),
  )
    .option(
      '--wait',
      'follow the run until it ends or waits for sign-off (exit 3 paused on a failure, 4 failed)',
    )
    .action(act(startCommand));
  upgrade
    .command('status')
    .description(
      'progress of a run (default: the latest); exit 3 when paused on a failure, 4 when failed or aborted',
    )
    .argument('[runId]', 'the run (default: the latest)')
    .option('--watch', 'follow the run live until it ends or waits for someone')
    .addOption(json())
    .action(act(statusCommand));
  upgrade.command('list').description('list runs, newest first').addOption(json()).action(act(listCommand));
  upgrade
    .command('logs')
    .description('log lines of a run: "time code server step message"')
    .argument('<runId>', 'the run')
    .option('--follow', 'keep printing new lines until the run ends (NDJSON with --json)')
    .option('--server <id>', 'only lines about this server')
    .option(
      '--step <n>',
      'only lines of this step number (as shown by plan and status)',
      wholeNumber(1, 100_000),
    )
    .option('--code <code>', 'only lines with this message code, e.g. RG0010I')
    .option('--limit <n>', 'most lines to print (page size with --follow)', wholeNumber(1, 5000))
    .addOption(json())
    .action(act((ctx, runId: string, flags: LogsFlags) => logsCommand(ctx, runId, flags)));
  for (const action of ['pause', 'resume', 'abort'] as const) {
    const cmd = upgrade
      .command(action)
      .description(
        {
          pause: 'pause a run after its current step',
          resume: 'resume a paused run (after a failure: retries the failed step)',
          abort: 'abort a run; servers it took out of rotation are put back or reported',
        }[action],
      )
      .argument('<runId>', 'the run');
    if (action !== 'resume') cmd.option('--reason <text>', 'why, for the audit log');
    cmd
      .addOption(json())
      .action(act((ctx, runId: string, flags: ControlFlags) => controlCommand(ctx, action, runId, flags)));
  }
  upgrade
    .command('signoff')
    .description("record the customer's verification: --approve finishes the run, --reject fails it")
    .argument('<runId>', 'the run')
    .addOption(new Option('--approve', 'the customer verified the service and signs off').conflicts('reject'))
    .addOption(new Option('--reject', 'the customer rejects the upgrade'))
    .option('--comment <text>', "the customer's words, kept in the audit log")
    .addOption(json())
    .action(act(signOffCommand));

  const portalLink = upgrade
    .command('portal-link')
    .description("links to the customer's portal of a run (sign-off, rollback authorisation)");
  portalLink
    .command('create')
    .description('create a link for a named customer contact (operators); printed once')
    .argument('<runId>', 'the run')
    .requiredOption('--recipient <name>', 'who the link is for, e.g. "Ann Lead"')
    .option('--ttl-hours <n>', 'how long it works, 1-720 hours (default 72)', wholeNumber(1, 720))
    .addOption(json())
    .action(act(portalLinkCreateCommand));
  portalLink
    .command('list')
    .description("a run's portal links: id, recipient, state (works, expired, revoked)")
    .argument('<runId>', 'the run')
    .addOption(json())
    .action(act(portalLinkListCommand));
  portalLink
    .command('revoke')
    .description('revoke a portal link at once: it opens nothing afterwards (operators; audited)')
    .argument('<runId>', 'the run')
    .argument('<linkId>', 'the link id shown by `upgrade portal-link list`')
    .addOption(json())
    .action(act(portalLinkRevokeCommand));

  upgrade
    .command('skip-drain')
    .description('end the drain of a server stuck with sessions (audited); the run goes on')
    .argument('<runId>', 'the run')
    .requiredOption('--server <id>', 'the server whose drain to end')
    .addOption(json())
    .action(
      act(async (ctx, runId: string, flags: { server: string; json?: boolean }) => {
        const view = await ctx.client.upgrade.skipDrain.mutate({ runId, serverId: flags.server });
        if (flags.json) ctx.out.json(view);
        else
          ctx.out.print(
            `Drain of ${flags.server} skipped in run ${runId}; its sessions are cut when it stops.`,
          );
        return 0;
      }),
    );

  upgrade
    .command('skip')
    .description("skip a failed server in the run's failed step; it stays in later steps")
    .argument('<runId>', 'the run')
    .argument('<server>', 'the failed server')
    .addOption(json())
    .action(
      act((ctx, runId: string, server: string, flags: { json?: boolean }) =>
        skipServerCommand(ctx, runId, server, flags),
      ),
    );
  upgrade
    .command('exclude')
    .description('exclude a server from the rest of a paused run (it is left as it is, and reported)')
    .argument('<runId>', 'the run')
    .argument('<server>', 'the server')
    .addOption(json())
    .action(
      act((ctx, runId: string, server: string, flags: { json?: boolean }) =>
        excludeCommand(ctx, runId, server, flags),
      ),
    );
  upgrade
    .command('rollback')
    .description('roll a run back to the previous edition (--options lists the methods and estimates)')
    .argument('<runId>', 'the run to roll back')
    .addOption(
      new Option('--method <method>', 'how (default: the recommended one)').choices([
        'reinstall',
        'restore-database',
        'restore-snapshots',
        'rebuild',
      ]),
    )
    .option('--reason <text>', 'why, for the audit log')
    .option('--options', 'list the methods that apply, with estimates, and do nothing')
    .addOption(json())
    .action(act((ctx, runId: string, flags: RollbackFlags) => rollbackCommand(ctx, runId, flags)));
  upgrade
    .command('authorise-rollback')
    .description('authorise (or --decline) the rollback a run proposes when its window runs out')
    .argument('<runId>', 'the run')
    .option('--decline', 'decline it: the run stays paused')
    .option('--comment <text>', 'kept in the audit log')
    .addOption(json())
    .action(act((ctx, runId: string, flags: DecideFlags) => authoriseRollbackCommand(ctx, runId, flags)));
  upgrade
    .command('waive')
    .description(
      'waive a readiness gate of a run with a reason (audited); a paused preparation step is skipped',
    )
    .argument('<runId>', 'the run')
    .argument('<gate>', 'the gate, e.g. snapshots')
    .requiredOption('--reason <text>', 'why it may be waived')
    .addOption(json())
    .action(
      act((ctx, runId: string, gate: string, flags: { json?: boolean; reason: string }) =>
        waiveCommand(ctx, runId, gate, flags),
      ),
    );
  upgrade
    .command('notice')
    .description("the text to send to service users about a run's windows")
    .argument('<runId>', 'the run')
    .option('--time-zone <zone>', "IANA time zone (default: the cluster's, else UTC)")
    .addOption(json())
    .action(
      act((ctx, runId: string, flags: { json?: boolean; timeZone?: string }) =>
        noticeCommand(ctx, runId, flags),
      ),
    );
  upgrade
    .command('evidence')
    .description('readiness gates and every recorded result (tests, backups, commands) of a run')
    .argument('<runId>', 'the run')
    .addOption(json())
    .action(act((ctx, runId: string, flags: { json?: boolean }) => evidenceCommand(ctx, runId, flags)));

  const cluster = program.command('cluster').description("a cluster's upgrade settings (per customer)");
  cluster
    .command('configure')
    .description('set readiness policy, functionality tests, schedule and preparation from a JSON file')
    .requiredOption('--cluster <cluster>', 'the cluster')
    .requiredOption('--file <path>', 'the settings as JSON (see README: cluster settings)')
    .addOption(json())
    .action(act(clusterConfigureCommand));
  cluster
    .command('settings')
    .description("print a cluster's settings as JSON")
    .requiredOption('--cluster <cluster>', 'the cluster')
    .addOption(json())
    .action(act(clusterSettingsCommand));

  const lb = program.command('lb').description('the load balancer in front of a cluster (HAProxy)');
  lb.command('configure')
    .description("tell Rollgate how to reach a cluster's load balancer (checked against it before saving)")
    .requiredOption('--cluster <cluster>', 'the cluster')
    .option(
      '--balancer <name=unix:/path|name=host:port>',
      'a load balancer in front of the cluster and its HAProxy runtime API (repeatable: an HA pair is two)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--pool <name=backend[,roles=a+b][,service=x]>',
      'a pool: the HAProxy backend (same name on every balancer) of these roles / this service (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--backend <name>', 'one backend for every agent (the one-pool form; gate-only needs none)')
    .addOption(
      new Option('--mode <mode>', 'haproxy-runtime or gate-only').choices(['haproxy-runtime', 'gate-only']),
    )
    .option('--socket <path>', "the one balancer's runtime API unix socket (implies haproxy-runtime)")
    .option('--address <host:port>', "the one balancer's runtime API over TCP (implies haproxy-runtime)")
    .option(
      '--server <[pool/]agent=haproxy...>',
      'HAProxy server name of an agent in a pool, e.g. stream/stream-1=s1 (repeatable; the pool may be left out when there is one)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--check-interval <ms>',
      "the LB's health-check interval (default 1000)",
      wholeNumber(100, 600_000),
    )
    .option('--fall <n>', 'failed checks before down (default 2)', wholeNumber(1, 100))
    .option('--rise <n>', 'passed checks before up (default 2)', wholeNumber(1, 100))
    .option(
      '--agent-inter <ms>',
      'agent-check interval, when HAProxy polls agent-check',
      wholeNumber(100, 600_000),
    )
    .option(
      '--drainage-interval <seconds>',
      "the cluster's default drainage interval (runs may override; default 30)",
      wholeNumber(0, 3600),
    )
    .option(
      '--readmit-timeout <ms>',
      'how long a re-admitted server may take to be back (default 30000)',
      wholeNumber(0, 3_600_000),
    )
    .addOption(
      new Option(
        '--readmit-wait <when>',
        're-admitted server is back when the LB reports it UP (up, default) or also served a request (served)',
      ).choices(['up', 'served']),
    )
    .option(
      '--reaction <ms>',
      "gate-only: the load balancer's stated reaction time (replaces the check arithmetic)",
      wholeNumber(0, 600_000),
    )
    .option('--file <path>', 'the configuration as JSON (flags override it)')
    .addOption(json())
    .action(act(lbConfigureCommand));
  lb.command('show')
    .description("a cluster's load-balancer configuration and what the LB reports now")
    .requiredOption('--cluster <cluster>', 'the cluster')
    .addOption(json())
    .action(act(lbShowCommand));
  lb.command('clear')
    .description("forget a cluster's load balancer (the agents' gates alone are used)")
    .requiredOption('--cluster <cluster>', 'the cluster')
    .addOption(json())
    .action(act(lbClearCommand));
  lb.command('haproxy-config')
    .description(
      'print a ready haproxy.cfg for a cluster: a frontend and a backend per pool, for one of its load balancers',
    )
    .requiredOption('--cluster <cluster>', 'the cluster')
    .option('--backend <name>', 'backend name (default: the configured one, else the cluster name)')
    .option(
      '--bind <[pool=]address:port>',
      "where a pool's frontend listens: address:port for one pool (default *:80), pool=address:port for each of several (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--balancer <name>',
      'the load balancer the file is for: named in it, with its runtime API line (default: the first configured)',
    )
    .option(
      '--socket <path>',
      "runtime API socket path (default: the balancer's configured one, else /run/haproxy/admin.sock)",
    )
    .option(
      '--check-interval <ms>',
      'health-check interval (default: the configured one, else 1000)',
      wholeNumber(100, 600_000),
    )
    .option('--slowstart <ms>', 'ramp a re-admitted server up over this long', wholeNumber(0, 3_600_000))
    .addOption(
      new Option(
        '--health <mode>',
        "what HAProxy checks: service (each service's health path; a dead agent cannot take a server out) or gate (each agent's GET /gate, for load balancers that poll one URL; a dead agent takes its server out)",
      )
        .choices(['service', 'gate'])
        .default('service'),
    )
    .option('--routing', "a frontend that consults the cluster's routing maps (see lb routes)")
    .option(
      '--route-header <name>',
      'a header to route by, besides those of the current rules (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--map-dir <path>',
      "where HAProxy's map files are (default: the cluster's, else /etc/haproxy/rollgate)",
    )
    .action(act(haproxyConfigCommand));
  const routes = lb
    .command('routes')
    .description('routing rules: send matching requests to the backend that serves an edition')
    .requiredOption('--cluster <cluster>', 'the cluster whose frontend routes')
    .addOption(json())
    .action(act(routesShowCommand));
  routes
    .command('set')
    .description("replace the cluster's routing rules and apply them to HAProxy at once (no reload)")
    .requiredOption('--cluster <cluster>', 'the cluster whose frontend routes')
    .option(
      '--rule <rule>',
      'header:<name>:<value>=<edition>, source:<CIDR>=<edition> or path:<prefix>=<edition> (repeatable; none clears)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--map-dir <path>', "where HAProxy's map files are (default /etc/haproxy/rollgate)")
    .addOption(json())
    .action(act(routesSetCommand));

  program
    .command('audit')
    .description('the audit log, newest first')
    .addOption(json())
    .action(act(auditCommand));

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    // Commander has already printed its message (or the help) to stderr/stdout.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const explained = explainError(err, url);
    // The coordinator's message may quote an agent's words: same filter as every other line.
    process.stderr.write(`rollgate: ${terminalText(explained.message)}\n`);
    return explained.exitCode;
  }
}
