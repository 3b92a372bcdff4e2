// The agent's config file: JSON, validated with zod. Every error names the field (as a path like
// `services[0].port`), says what was expected with an example, and what was found, so an operator
// can fix the file without reading code. Relative paths are resolved against the file's directory.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { SAFE_NAME } from '@rollgate/domain';
import { z } from 'zod';
import { MANAGER_KINDS } from './service-managers/service-manager';

type Issue = { input?: unknown; code?: string; keys?: string[] };

function show(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** zod error callback: "missing; expected X" or "expected X, got Y". */
function expected(desc: string) {
  return (iss: Issue) =>
    iss.input === undefined ? `missing; expected ${desc}` : `expected ${desc}, got ${show(iss.input)}`;
}

/** An object that rejects unknown keys (typos would otherwise be ignored silently). */
function obj<T extends z.ZodRawShape>(shape: T, desc: string) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss: Issue) => {
      if (iss.code === 'unrecognized_keys') {
        const keys = (iss.keys ?? []).map((k) => `"${k}"`).join(', ');
        return `unknown key ${keys}: remove it or check the spelling (allowed: ${allowed})`;
      }
      return expected(desc)(iss);
    },
  });
}

function safeName(what: string, example: string) {
  const desc = `${what}: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. "${example}")`;
  return z
    .string({ error: expected(desc) })
    .regex(SAFE_NAME, { error: expected(desc) })
    .refine((s) => !s.includes('..'), { error: `${what} must not contain '..' (e.g. "${example}")` });
}

/**
 * A testHosts entry as the host name (lower case, IPv6 in brackets) and the port when one is given,
 * or null when it is not a bare host or host:port.
 */
export function parseTestHost(entry: string): { hostname: string; port: number | null } | null {
  if (!/^[A-Za-z0-9.\-_[\]:]{1,260}$/.test(entry)) return null;
  let u: URL;
  try {
    u = new URL(`http://${entry}`);
  } catch {
    return null;
  }
  if (u.username || u.password || u.pathname !== '/' || u.search || u.hash || !u.hostname) return null;
  // URL drops the default port (":80"); take the port from the entry itself.
  const m = /:(\d{1,5})$/.exec(entry);
  const port = m ? Number(m[1]) : null;
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { hostname: u.hostname.toLowerCase(), port };
}

const port = (example: number) =>
  z
    .number({ error: expected(`a TCP port number 1-65535 (e.g. ${example})`) })
    .int({ error: expected(`a whole TCP port number 1-65535 (e.g. ${example})`) })
    .min(1, { error: expected(`a TCP port number 1-65535 (e.g. ${example})`) })
    .max(65535, { error: expected(`a TCP port number 1-65535 (e.g. ${example})`) });

const pathString = (what: string, example: string) =>
  z
    .string({ error: expected(`${what} as a path string (e.g. "${example}")`) })
    .min(1, { error: expected(`${what} as a non-empty path (e.g. "${example}")`) });

const commandSchema = (example: string) =>
  obj(
    {
      command: z
        .string({ error: expected(`the program to run (e.g. "${example}")`) })
        .min(1, { error: expected(`the program to run (e.g. "${example}")`) }),
      args: z
        .array(z.string({ error: expected('each argument as a string') }), {
          error: expected('a list of argument strings (e.g. ["server.mjs"])'),
        })
        .default([]),
    },
    `an object like { "command": "${example}", "args": ["server.mjs"] }`,
  );

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envSchema = z.record(
  z.string().regex(ENV_NAME, { error: expected('environment variable names like "PORT" or "SERVER_NAME"') }),
  z.string({ error: expected('a string value; quote numbers (e.g. "8081")') }),
  { error: expected('an object of strings (e.g. { "PORT": "8081" })') },
);

/** A database URL: never echoed in an error (it may hold a password). */
const PG_URL_DESC = 'a postgres:// URL (e.g. "postgres://app@db.internal:5432/appdb")';
const pgUrl = z
  .string({
    error: (iss: Issue) =>
      iss.input === undefined
        ? `missing; expected ${PG_URL_DESC}`
        : `expected ${PG_URL_DESC}, got ${typeof iss.input === 'object' ? show(iss.input) : `a ${typeof iss.input}`}`,
  })
  .refine((u) => /^postgres(ql)?:\/\/\S+$/.test(u) && URL.canParse(u) && new URL(u).pathname.length > 1, {
    error: `expected ${PG_URL_DESC} naming a database; the value is not shown (it may hold a password)`,
  });

const envName = (example: string) =>
  z
    .string({ error: expected(`an environment variable name (e.g. "${example}")`) })
    .regex(ENV_NAME, { error: expected(`an environment variable name (e.g. "${example}")`) });

const databaseSchema = obj(
  {
    url: pgUrl.optional(),
    urlEnv: envName('DEMO_APP_DATABASE_URL').optional(),
    pgBinDir: pathString(
      'the directory of pg_dump, pg_restore and psql',
      '/usr/lib/postgresql/15/bin',
    ).optional(),
    backupCommand: z
      .string({ error: expected('the name of a command in services[].commands (e.g. "db-dump")') })
      .regex(SAFE_NAME, { error: expected('the name of a command in services[].commands (e.g. "db-dump")') })
      .optional(),
    restoreCommand: z
      .string({ error: expected('the name of a command in services[].commands (e.g. "db-restore")') })
      .regex(SAFE_NAME, {
        error: expected('the name of a command in services[].commands (e.g. "db-restore")'),
      })
      .optional(),
  },
  'an object like { "urlEnv": "DEMO_APP_DATABASE_URL" } or { "url": "postgres://app@127.0.0.1:5432/appdb" }',
).superRefine((d, ctx) => {
  if ((d.url === undefined) === (d.urlEnv === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [],
      message:
        'give exactly one of "url" (e.g. "postgres://app@127.0.0.1:5432/appdb") or "urlEnv" (the name of an environment variable of the agent holding the URL, e.g. "DEMO_APP_DATABASE_URL")',
    });
  }
});

/** An argv array run without a shell: the program, then its arguments. */
const argvSchema = (example: string) =>
  z
    .array(
      z
        .string({ error: expected(`each word as a string (e.g. ${example})`) })
        .max(4096, { error: 'each word at most 4096 characters' }),
      { error: expected(`the program and its arguments as a list, run without a shell (e.g. ${example})`) },
    )
    .min(1, { error: expected(`the program and its arguments as a list (e.g. ${example})`) })
    .max(64, { error: 'at most 64 words' })
    .refine((a) => a[0] !== undefined && a[0].length > 0, { error: 'the program (first word) is empty' });

const SYSTEMD_UNIT = /^[A-Za-z0-9][A-Za-z0-9:_.@\\-]{0,254}$/;
const SUPERVISOR_PROGRAM = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

// How each manager is reached (docs/adr/0022); the object of the kind named by `manager` is required.
const systemdSchema = obj(
  {
    /** The unit systemctl starts and stops, e.g. "rollgate-demo-app.service". */
    unit: z
      .string({ error: expected('a systemd unit name (e.g. "rollgate-demo-app.service")') })
      .regex(SYSTEMD_UNIT, { error: expected('a systemd unit name (e.g. "rollgate-demo-app.service")') }),
    /** The environment file written before each start; default /etc/rollgate/<service>.env. */
    envFile: pathString('the environment file the unit reads', '/etc/rollgate/demo-app.env').optional(),
  },
  'an object like { "unit": "rollgate-demo-app.service" }',
);

const supervisorSchema = obj(
  {
    /** The program in supervisord's configuration ("name" or "group:name"). */
    program: z
      .string({ error: expected('a supervisord program name (e.g. "demo-app")') })
      .regex(SUPERVISOR_PROGRAM, { error: expected('a supervisord program name (e.g. "demo-app")') }),
    /** supervisorctl -c; default supervisorctl's own search (/etc/supervisor/supervisord.conf, ...). */
    configFile: pathString("supervisord's configuration file", '/etc/supervisor/supervisord.conf').optional(),
    /** supervisorctl -s; default the serverurl of that file. */
    serverUrl: z
      .string({ error: expected('a supervisord server URL (e.g. "unix:///var/run/supervisor.sock")') })
      .regex(/^(unix:\/\/\/\S+|https?:\/\/\S+)$/, {
        error: expected('a supervisord server URL (e.g. "unix:///var/run/supervisor.sock")'),
      })
      .optional(),
    /** When set, an environment file written before each start (for a wrapper that sources it). */
    envFile: pathString('an environment file for the program', '/etc/rollgate/demo-app.env').optional(),
  },
  'an object like { "program": "demo-app", "configFile": "/etc/supervisor/supervisord.conf" }',
);

const controlSchema = obj(
  {
    start: argvSchema('["/opt/app/bin/app", "start"]'),
    stop: argvSchema('["/opt/app/bin/app", "stop"]'),
    /** Exits 0 while the service runs, non-zero otherwise (LSB: 3). */
    status: argvSchema('["/opt/app/bin/app", "status"]'),
    /** Longest any of the three may run, ms; default 60000. */
    timeoutMs: z
      .number({ error: expected('ms a control command may run, 1000-3600000 (default 60000)') })
      .int({ error: expected('whole ms a control command may run, 1000-3600000 (default 60000)') })
      .min(1000, { error: expected('ms a control command may run, 1000-3600000 (default 60000)') })
      .max(3_600_000, { error: expected('ms a control command may run, 1000-3600000 (default 60000)') })
      .default(60_000),
  },
  'an object like { "start": ["/opt/app/bin/app", "start"], "stop": [...], "status": [...] }',
);

/** The per-kind object each manager needs, and an example of it. */
const MANAGER_FIELD = {
  systemd: ['systemd', '"systemd": { "unit": "rollgate-demo-app.service" }', 'systemd.unit'],
  supervisor: ['supervisor', '"supervisor": { "program": "demo-app" }', 'supervisor.program'],
  commands: [
    'control',
    '"control": { "start": ["/opt/app/bin/app", "start"], "stop": ["/opt/app/bin/app", "stop"], "status": ["/opt/app/bin/app", "status"] }',
    'control.start, control.stop and control.status',
  ],
} as const;

// The `process` manager's own settings (docs/adr/0023): restart policy, user and group, log rotation.
/** A whole number in [min, max] with a default (as `bounded` below, which is declared later). */
const wholeIn = (what: string, min: number, max: number, dflt: number) =>
  z
    .number({ error: expected(`${what}: a whole number from ${min} to ${max} (default ${dflt})`) })
    .int({ error: expected(`${what}: a whole number from ${min} to ${max} (default ${dflt})`) })
    .min(min, { error: expected(`${what}: a whole number from ${min} to ${max} (default ${dflt})`) })
    .max(max, { error: expected(`${what}: a whole number from ${min} to ${max} (default ${dflt})`) })
    .default(dflt);

const restartSchema = obj(
  {
    policy: z
      .enum(['on-failure', 'always', 'never'], {
        error: expected('one of "on-failure", "always", "never" (default "on-failure")'),
      })
      .default('on-failure'),
    backoffMs: wholeIn('ms before the first restart', 10, 600_000, 1000),
    maxBackoffMs: wholeIn('longest ms between restarts', 10, 3_600_000, 30_000),
    maxRestarts: wholeIn('restarts allowed within windowMs before giving up', 1, 10_000, 10),
    windowMs: wholeIn('ms of the window maxRestarts counts in', 1000, 24 * 3_600_000, 600_000),
  },
  'an object like { "policy": "on-failure", "backoffMs": 1000, "maxBackoffMs": 30000, "maxRestarts": 10, "windowMs": 600000 }',
).superRefine((r, ctx) => {
  if (r.maxBackoffMs < r.backoffMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['maxBackoffMs'],
      message: `is ${r.maxBackoffMs}, below backoffMs ${r.backoffMs}; the longest delay cannot be shorter than the first`,
    });
  }
});

const ACCOUNT = /^([a-z_][a-z0-9_.-]{0,31}\$?|\d{1,10})$/i;
const account = (what: string, example: string) =>
  z
    .string({ error: expected(`a ${what} name or numeric id (e.g. "${example}")`) })
    .regex(ACCOUNT, { error: expected(`a ${what} name or numeric id (e.g. "${example}")`) });

const logRotationSchema = obj(
  {
    maxBytes: wholeIn('bytes at which the log file is rotated', 4096, 1024 ** 4, 10 * 1024 ** 2),
    keep: wholeIn('rotated log files kept', 1, 1000, 5),
  },
  'an object like { "maxBytes": 10485760, "keep": 5 }',
);

const serviceSchema = obj(
  {
    name: safeName('service name', 'demo-app'),
    port: port(8081),
    /** manager "process" only: the program the agent runs. */
    start: commandSchema('node').optional(),
    healthUrl: z
      .string({
        error: expected('an http URL that answers 200 when healthy (e.g. "http://127.0.0.1:8081/health")'),
      })
      .refine((s) => /^https?:\/\/[^\s/]+(\/\S*)?$/.test(s) && URL.canParse(s), {
        error: expected('an http URL that answers 200 when healthy (e.g. "http://127.0.0.1:8081/health")'),
      })
      .optional(),
    // Hysteresis of the agent's own health view (docs/adr/0017): one late probe changes nothing.
    health: obj(
      {
        fall: z
          .number({ error: expected('a whole number of failed probes 1-100 (e.g. 3)') })
          .int({ error: expected('a whole number of failed probes 1-100 (e.g. 3)') })
          .min(1, { error: expected('a whole number of failed probes 1-100 (e.g. 3)') })
          .max(100, { error: expected('a whole number of failed probes 1-100 (e.g. 3)') })
          .default(3),
        rise: z
          .number({ error: expected('a whole number of passed probes 1-100 (e.g. 2)') })
          .int({ error: expected('a whole number of passed probes 1-100 (e.g. 2)') })
          .min(1, { error: expected('a whole number of passed probes 1-100 (e.g. 2)') })
          .max(100, { error: expected('a whole number of passed probes 1-100 (e.g. 2)') })
          .default(2),
        timeoutMs: z
          .number({ error: expected('a probe timeout in ms, 100-60000 (e.g. 2000)') })
          .int({ error: expected('a whole probe timeout in ms, 100-60000 (e.g. 2000)') })
          .min(100, { error: expected('a probe timeout in ms, 100-60000 (e.g. 2000)') })
          .max(60_000, { error: expected('a probe timeout in ms, 100-60000 (e.g. 2000)') })
          .default(2000),
      },
      'an object like { "fall": 3, "rise": 2, "timeoutMs": 2000 }',
    ).default({ fall: 3, rise: 2, timeoutMs: 2000 }),
    env: envSchema.default({}),
    configDir: pathString('the directory holding the service configuration', '/etc/demo-app').optional(),
    commands: z
      .record(
        z.string().regex(SAFE_NAME, { error: expected('command names like "db-upgrade"') }),
        commandSchema('node'),
        {
          error: expected(
            'an object of named commands (e.g. { "db-upgrade": { "command": "node", "args": ["migrate.mjs"] } })',
          ),
        },
      )
      .default({}),
    initialEdition: obj(
      {
        name: safeName('edition name', '1.0'),
        archive: pathString('the local .tgz of the base edition', '/opt/rollgate/demo-app-1.0.tgz'),
      },
      'an object like { "name": "1.0", "archive": "/opt/rollgate/demo-app-1.0.tgz" }',
    ).optional(),
    // The directories the backupFiles op archives (the seed's "file structure" backup).
    backup: obj(
      {
        directories: z
          .array(pathString('a directory to back up', '/etc/demo-app'), {
            error: expected('a list of directories (e.g. ["/etc/demo-app", "/var/lib/demo-app"])'),
          })
          .min(1, { error: 'list at least one directory (e.g. ["/etc/demo-app"])' }),
      },
      'an object like { "directories": ["/etc/demo-app"] }',
    ).optional(),
    // The service's database, for dbBackup / dbRestore.
    database: databaseSchema.optional(),
    // A second port, where a single server runs the new edition beside the old one during a
    // rollout (startBeside), so the load balancer can switch to it and back without a lost request.
    beside: obj(
      {
        port: port(9081),
        // The variable the service reads its port from; set to beside.port for the second instance.
        portEnv: envName('PORT').default('PORT'),
      },
      'an object like { "port": 9081, "portEnv": "PORT" }',
    ).optional(),
    /**
     * How the service is run (docs/adr/0022): "process" (default: the agent starts it as its own
     * child with `start`), "systemd" (a unit, see `systemd`), "supervisor" (a supervisord program,
     * see `supervisor`) or "commands" (the operator's own programs, see `control`).
     */
    manager: z
      .enum(MANAGER_KINDS, { error: expected(`one of ${MANAGER_KINDS.join(', ')} (default "process")`) })
      .default('process'),
    systemd: systemdSchema.optional(),
    supervisor: supervisorSchema.optional(),
    control: controlSchema.optional(),
    // manager "process" only: restarted after a crash by this policy (default on-failure).
    restart: restartSchema.default(() => restartSchema.parse({})),
    // manager "process" only: run as this user and group (the agent must run as root).
    user: account('user', 'demo-app').optional(),
    group: account('group', 'demo-app').optional(),
    // manager "process" only: the service's log file, rotated by size.
    log: logRotationSchema.default(() => logRotationSchema.parse({})),
  },
  'a service object with name, port and start (see the example in apps/agent/README.md)',
).superRefine((s, ctx) => {
  if (s.group !== undefined && s.user === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['group'],
      message: 'is set without "user": give the user too (e.g. "user": "demo-app", "group": "demo-app")',
    });
  }
  if (s.manager !== 'process' && (s.user !== undefined || s.group !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [s.user !== undefined ? 'user' : 'group'],
      message: `is for manager "process"; with manager "${s.manager}" the user is set where the service is defined (e.g. User= in the unit): remove it`,
    });
  }
  if (s.manager === 'process' && s.start === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['start'],
      message:
        'missing; manager is "process" (the default): give start, e.g. { "command": "node", "args": ["server.mjs"] }, or set manager to "systemd", "supervisor" or "commands"',
    });
  }
  if (s.manager !== 'process' && s.start !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['start'],
      message: `is only for manager "process"; with manager "${s.manager}" ${{ systemd: 'the unit', supervisor: 'supervisord', commands: 'control.start' }[s.manager]} starts the service: remove start`,
    });
  }
  for (const [kind, [field, example, what]] of Object.entries(MANAGER_FIELD)) {
    const given = s[field] !== undefined;
    if (s.manager === kind && !given) {
      ctx.addIssue({
        code: 'custom',
        path: ['manager'],
        message: `is ${kind}: give ${what}, e.g. ${example}`,
      });
    }
    if (s.manager !== kind && given) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `is for manager "${kind}" but manager is "${s.manager}": set "manager": "${kind}" or remove ${field}`,
      });
    }
  }
  if (s.beside && s.manager !== 'process') {
    ctx.addIssue({
      code: 'custom',
      path: ['beside'],
      message: `needs manager "process" (the agent starts the second instance itself); a ${s.manager}-managed service runs one instance: remove beside`,
    });
  }
  if (s.beside && s.beside.port === s.port) {
    ctx.addIssue({
      code: 'custom',
      path: ['beside', 'port'],
      message: `is the service's own port ${s.port}; the second instance needs a port of its own (e.g. ${s.port + 1000})`,
    });
  }
  if (s.beside && s.healthUrl && new URL(s.healthUrl).port !== String(s.port)) {
    ctx.addIssue({
      code: 'custom',
      path: ['healthUrl'],
      message: `must name the service's port ${s.port} when beside is set (the second instance is checked at the same URL on beside.port)`,
    });
  }
  for (const key of ['backupCommand', 'restoreCommand'] as const) {
    const name = s.database?.[key];
    if (name !== undefined && !(name in s.commands)) {
      const known = Object.keys(s.commands);
      ctx.addIssue({
        code: 'custom',
        path: ['database', key],
        message: `names command "${name}", which is not in this service's commands (configured: ${known.length > 0 ? known.join(', ') : 'none'}); add it under services[].commands`,
      });
    }
  }
});

const testAccountSchema = obj(
  {
    username: z
      .string({ error: expected('the test user name (e.g. "rollgate-test")') })
      .min(1, { error: expected('a non-empty test user name (e.g. "rollgate-test")') }),
    password: z
      .string({
        error: (iss: Issue) =>
          iss.input === undefined
            ? "missing; expected the test user's password as a string"
            : "expected the test user's password as a string (the value is not shown)",
      })
      .min(1, { error: 'expected a non-empty password' }),
  },
  'an object like { "username": "rollgate-test", "password": "…" }',
);

const coordinatorAddress = z
  .string({ error: expected('host:port of the coordinator gRPC endpoint (e.g. "127.0.0.1:7443")') })
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
    error: expected('host:port of the coordinator gRPC endpoint (e.g. "127.0.0.1:7443")'),
  });

/** A whole number in [min, max] with a default; errors show an example. */
const bounded = (what: string, min: number, max: number, dflt: number) =>
  z
    .number({ error: expected(`${what}: a whole number from ${min} to ${max} (default ${dflt})`) })
    .int({ error: expected(`${what}: a whole number from ${min} to ${max} (default ${dflt})`) })
    .min(min, { error: expected(`${what}: a whole number from ${min} to ${max} (default ${dflt})`) })
    .max(max, { error: expected(`${what}: a whole number from ${min} to ${max} (default ${dflt})`) })
    .default(dflt);

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/**
 * What one edition archive and one heavy-work child may cost this server (docs/adr/0016). The
 * defaults (archive-errors.ts, heavy-client.ts) let a 2 GiB WAR/JDK bundle through and refuse a bomb.
 */
const limitsSchema = obj(
  {
    /** Bytes an archive may expand to; default 8 GiB. */
    maxExpandedBytes: bounded('bytes an archive may expand to', 1 * MiB, 1024 * GiB, 8 * GiB),
    /** Expanded bytes per compressed byte (checked past 64 MiB expanded); default 200. */
    maxExpansionRatio: bounded('expanded bytes per compressed byte', 2, 100_000, 200),
    /** Entries in one archive; default 200000. */
    maxEntries: bounded('entries in one archive', 1, 10_000_000, 200_000),
    /** Characters in an entry's path; default 4096. */
    maxPathLength: bounded("characters in an archive entry's path", 16, 65_536, 4096),
    /** Free space left on the data directory after a download or an unpack; default 512 MiB. */
    freeSpaceMarginBytes: bounded('bytes left free after unpacking', 0, 1024 * GiB, 512 * MiB),
    /** Memory of the heavy-work child before it is stopped, MiB; default 512. */
    workerMemoryMb: bounded('MiB of memory for the heavy-work process', 64, 65_536, 512),
    /** Longest run of the heavy-work child, ms; default 30 min. */
    workerTimeoutMs: bounded('ms a heavy-work process may run', 1000, 24 * 3_600_000, 30 * 60_000),
  },
  'an object like { "maxExpandedBytes": 8589934592, "maxEntries": 200000 }',
);

export const agentConfigSchema = obj(
  {
    agentId: safeName('agent id', 'admin-1'),
    cluster: safeName('cluster name', 'demo'),
    role: safeName('role', 'admin'),
    coordinator: obj(
      {
        address: coordinatorAddress.optional(),
        // Several coordinators sharing one database: the agent connects to one and fails over to
        // the next when its stream ends (README "Running several coordinators").
        addresses: z
          .array(coordinatorAddress, {
            error: expected(
              'a list of host:port coordinator endpoints (e.g. ["10.0.0.1:7401", "10.0.0.2:7401"])',
            ),
          })
          .min(1, { error: 'list at least one coordinator address' })
          .max(16, { error: 'list at most 16 coordinator addresses' })
          .optional(),
        // Agent identity (docs/adr/0013): where to enrol and renew; default the first address's host, port 7402.
        enrolAddress: z
          .string({
            error: expected('host:port of the coordinator enrolment endpoint (e.g. "10.0.0.1:7402")'),
          })
          .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
            error: expected('host:port of the coordinator enrolment endpoint (e.g. "10.0.0.1:7402")'),
          })
          .optional(),
        // Plaintext gRPC with no identity: only against a coordinator started with ROLLGATE_INSECURE_AGENTS.
        insecure: z.boolean({ error: expected('true or false') }).optional(),
      },
      'an object like { "address": "127.0.0.1:7443" }',
    ).superRefine((c, ctx) => {
      if (c.address === undefined && c.addresses === undefined) {
        ctx.addIssue({
          code: 'custom',
          message:
            'missing; expected "address": "host:port" of the coordinator, or "addresses": ["host:port", …] for several',
        });
      }
    }),
    dataDir: pathString('the agent data directory', '/var/lib/rollgate-agent'),
    gate: obj(
      {
        host: z
          .string({ error: expected('an address to bind (e.g. "0.0.0.0")') })
          .min(1)
          .default('0.0.0.0'),
        port: port(7070),
        // HAProxy agent-check (see agent-check.ts); off when absent.
        agentCheckPort: port(7071).optional(),
      },
      'an object like { "host": "0.0.0.0", "port": 7070, "agentCheckPort": 7071 }',
    ),
    services: z
      .array(serviceSchema, { error: expected('a list of services (e.g. [{ "name": "demo-app", ... }])') })
      .min(1, { error: 'list at least one service the agent manages' })
      .superRefine((services, ctx) => {
        const seenNames = new Set<string>();
        const seenPorts = new Set<number>();
        services.forEach((s, i) => {
          if (seenNames.has(s.name)) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `service name "${s.name}" is used twice; names must be unique`,
            });
          }
          if (seenPorts.has(s.port)) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'port'],
              message: `port ${s.port} is used by two services; each service needs its own port`,
            });
          }
          seenNames.add(s.name);
          seenPorts.add(s.port);
        });
      }),
    // Where backupFiles and dbBackup keep their files; default <dataDir>/backups.
    backupsDir: pathString('the directory for backups', '/var/backups/rollgate').optional(),
    // On the test machine: accounts the login probes use, by name (the password never travels).
    testAccounts: z
      .record(
        z.string().regex(SAFE_NAME, { error: expected('account names like "student"') }),
        testAccountSchema,
        {
          error: expected(
            'an object of named accounts (e.g. { "student": { "username": "u", "password": "p" } })',
          ),
        },
      )
      .default({}),
    // On the test machine: commands the launch probes run, by name.
    testCommands: z
      .record(
        z.string().regex(SAFE_NAME, { error: expected('command names like "launch-app"') }),
        commandSchema('/opt/test/launch.sh'),
        {
          error: expected(
            'an object of named commands (e.g. { "launch-app": { "command": "/opt/test/launch.sh", "args": [] } })',
          ),
        },
      )
      .default({}),
    // On the test machine: the only hosts its functionality probes may reach ("host" or "host:port";
    // default none, so a probe is refused until listed). A cluster's tests.baseUrl names where the
    // test account's password goes: a coordinator's setting alone must not be able to send it anywhere.
    testHosts: z
      .array(
        z
          .string({ error: expected('a host name or "host:port" (e.g. "lb.example.com:443")') })
          .refine((h) => parseTestHost(h) !== null, {
            error: expected(
              'a host name, IP address or "host:port" without scheme or path (e.g. "lb.example.com", "10.0.0.5:8080", "[::1]:80")',
            ),
          }),
        { error: expected('a list of hosts (e.g. ["lb.example.com", "10.0.0.5:8080"])') },
      )
      .max(100, { error: 'list at most 100 test hosts' })
      .default([]),
    // Bounds on archives and on the heavy-work child (docs/adr/0016); every key optional.
    limits: limitsSchema.default(() => limitsSchema.parse({})),
    // Prometheus metrics at http://host:port/metrics (docs/adr/0030); off when absent, loopback by default.
    metrics: obj(
      {
        host: z
          .string({ error: expected('an address to bind (e.g. "127.0.0.1")') })
          .min(1, { error: expected('an address to bind (e.g. "127.0.0.1")') })
          .default('127.0.0.1'),
        port: port(9470),
      },
      'an object like { "port": 9470 } or { "host": "0.0.0.0", "port": 9470 }',
    ).optional(),
    logLevel: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
        error: expected('one of trace, debug, info, warn, error, fatal, silent'),
      })
      .optional(),
  },
  'a JSON object with agentId, cluster, role, coordinator, dataDir, gate and services',
).superRefine((cfg, ctx) => {
  // The agent-check listens on its own port: sharing one with the gate or a service cannot bind.
  // The metrics port too, when it is on the gate's host or any address.
  const metricsPort = cfg.metrics?.port;
  if (metricsPort !== undefined) {
    const taken =
      metricsPort === cfg.gate.port
        ? 'gate.port'
        : metricsPort === cfg.gate.agentCheckPort
          ? 'gate.agentCheckPort'
          : cfg.services.some((s) => s.port === metricsPort)
            ? 'the port of a service'
            : null;
    if (taken !== null) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', 'port'],
        message: `port ${metricsPort} is already ${taken}; give the metrics a port of their own (e.g. 9470)`,
      });
    }
  }
  const agentCheckPort = cfg.gate.agentCheckPort;
  if (agentCheckPort === undefined) return;
  const clash =
    agentCheckPort === cfg.gate.port
      ? "the gate's HTTP port (gate.port)"
      : cfg.services.find((s) => s.port === agentCheckPort)?.name;
  if (clash !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['gate', 'agentCheckPort'],
      message: `port ${agentCheckPort} is already ${clash.startsWith('the gate') ? clash : `the port of service "${clash}"`}; give the agent-check a port of its own (e.g. ${cfg.gate.port + 1})`,
    });
  }
});

type RawConfig = z.infer<typeof agentConfigSchema>;

/** Where the agent connects: `addresses` in order of preference, `address` the first of them. */
export interface CoordinatorConfig {
  address: string;
  addresses: string[];
  /** The enrolment endpoint (HTTPS); default the first address's host, port 7402. */
  enrolAddress: string;
  /** Plaintext, no identity (both sides must opt in); default false. */
  insecure: boolean;
}
type RawService = RawConfig['services'][number];

/** One managed service, with paths resolved and defaults filled in. */
export interface ServiceConfig extends Omit<RawService, 'healthUrl' | 'systemd'> {
  healthUrl: string;
  /** Set when manager is "systemd"; envFile defaults to /etc/rollgate/<name>.env. */
  systemd?: { unit: string; envFile: string };
}

/** The validated config: every path absolute, every default applied. */
export interface AgentConfig extends Omit<RawConfig, 'services' | 'backupsDir' | 'coordinator'> {
  coordinator: CoordinatorConfig;
  services: ServiceConfig[];
  /** Absolute; default <dataDir>/backups. */
  backupsDir: string;
}

export type ConfigResult = { ok: true; config: AgentConfig } | { ok: false; errors: string[] };

/** `services[0].port` from a zod path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(top level)' : out;
}

/**
 * Validates a parsed config object. Relative paths are resolved against baseDir (the config
 * file's directory); healthUrl defaults to http://127.0.0.1:<port>/health.
 */
export function parseConfig(input: unknown, baseDir: string = process.cwd()): ConfigResult {
  const parsed = agentConfigSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const raw = parsed.data;
  const dataDir = abs(raw.dataDir);
  // `address` alone (the original form) is a list of one; with both, `address` is tried first.
  const addresses = [
    ...new Set([
      ...(raw.coordinator.address ? [raw.coordinator.address] : []),
      ...(raw.coordinator.addresses ?? []),
    ]),
  ];
  return {
    ok: true,
    config: {
      ...raw,
      coordinator: {
        address: addresses[0]!,
        addresses,
        enrolAddress:
          raw.coordinator.enrolAddress ?? `${addresses[0]!.slice(0, addresses[0]!.lastIndexOf(':'))}:7402`,
        insecure: raw.coordinator.insecure ?? false,
      },
      dataDir,
      backupsDir: raw.backupsDir === undefined ? join(dataDir, 'backups') : abs(raw.backupsDir),
      services: raw.services.map((s) => ({
        ...s,
        healthUrl: s.healthUrl ?? `http://127.0.0.1:${s.port}/health`,
        configDir: s.configDir === undefined ? undefined : abs(s.configDir),
        initialEdition: s.initialEdition && { ...s.initialEdition, archive: abs(s.initialEdition.archive) },
        backup: s.backup && { directories: s.backup.directories.map(abs) },
        database: s.database && {
          ...s.database,
          pgBinDir: s.database.pgBinDir === undefined ? undefined : abs(s.database.pgBinDir),
        },
        systemd: s.systemd && {
          unit: s.systemd.unit,
          envFile: abs(s.systemd.envFile ?? `/etc/rollgate/${s.name}.env`),
        },
        supervisor: s.supervisor && {
          ...s.supervisor,
          configFile: s.supervisor.configFile === undefined ? undefined : abs(s.supervisor.configFile),
          envFile: s.supervisor.envFile === undefined ? undefined : abs(s.supervisor.envFile),
        },
      })),
    },
  };
}

/** Reads and validates a config file; never throws for a bad file, it returns the errors. */
export async function loadConfig(path: string): Promise<ConfigResult> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT'
        ? 'check the path given to --config or ROLLGATE_AGENT_CONFIG'
        : 'check its permissions';
    return { ok: false, errors: [`cannot read config file ${file} (${code ?? String(err)}): ${hint}`] };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      errors: [
        `config file ${file} is not valid JSON: ${(err as Error).message}; fix the syntax (no comments or trailing commas)`,
      ],
    };
  }
  return parseConfig(json, dirname(file));
}
