// A client for HAProxy's runtime API (the "stats socket" at level admin), so the coordinator can drain
// a server at once instead of waiting for health checks to notice a closed gate.
//
// Non-interactive mode: every call opens a connection, writes its command(s) and a newline, and
// reads until HAProxy closes. Several commands go in one exchange separated by ';' (HAProxy runs
// them back to back) so a group of servers can be switched together.
import { connect, type Socket } from 'node:net';
import {
  parseServersState,
  parseShowStat,
  splitResponses,
  type HaproxyAdminState,
  type HaproxyOpState,
  type ServerStateRow,
  type ServerStatRow,
} from './haproxy-parse';

export interface HaproxyRuntimeOptions {
  /** Unix socket of `stats socket <path> ... level admin`. Give this, or `port` for a TCP socket. */
  socketPath?: string;
  /** Host of a TCP stats socket (`stats socket ipv4@127.0.0.1:9999 level admin`); default 127.0.0.1. */
  host?: string;
  /** Port of a TCP stats socket; ignored when socketPath is given. */
  port?: number;
  /** Per call: connect, send and read the whole answer; default 5000 ms. */
  timeoutMs?: number;
}

/** What `set server <backend>/<server> state <state>` accepts. */
export type HaproxyServerStateName = HaproxyAdminState;

export interface ServerStateChange {
  backend: string;
  server: string;
  state: HaproxyServerStateName;
}

/** `show stat` for one server, with its admin and operational state from `show servers state`. */
export interface ServerStat extends ServerStatRow {
  adminState: HaproxyAdminState;
  opState: HaproxyOpState;
}

export type ServerState = ServerStateRow;

export interface HaproxyRuntime {
  /** "unix:/run/haproxy/admin.sock" or "tcp:127.0.0.1:9999", for messages. */
  readonly address: string;
  /** Sets one server's admin state: ready (in rotation), drain (no new sessions), maint (none at all). */
  setState(backend: string, server: string, state: HaproxyServerStateName): Promise<void>;
  /**
   * Sets several servers' states in ONE exchange (commands joined by ';', applied by HAProxy back
   * to back, in the given order). Every backend and server is checked to exist first, so a typo
   * changes nothing. Put `ready` changes before `drain`/`maint` ones when swapping groups, so the
   * backend is never without a server between two commands.
   */
  setStates(changes: ServerStateChange[]): Promise<void>;
  /** Every server of the backend: status, sessions, weight, check results, admin state. */
  serverStats(backend: string): Promise<ServerStat[]>;
  /** `show servers state <backend>`: operational and admin state of every server. */
  serversState(backend: string): Promise<ServerState[]>;
  /**
   * Replaces every entry of a map file atomically (HAProxy 2.x `prepare map` / `add map @ver` /
   * `commit map @ver`): lookups see the old entries until the commit, then all the new ones. No
   * reload, so no connection is dropped. The file must be named in haproxy.cfg.
   */
  replaceMap(file: string, entries: readonly (readonly [string, string])[]): Promise<void>;
  /** The entries HAProxy holds for a map file now, in order. */
  showMap(file: string): Promise<[string, string][]>;
  /**
   * Sends one command line as is and returns HAProxy's answer without its final blank line. Only
   * connection failures throw: HAProxy's own messages are returned for the caller to read.
   */
  raw(command: string): Promise<string>;
}

/** A failed runtime API call; `message` says what failed and what to check. */
export class HaproxyRuntimeError extends Error {
  constructor(
    message: string,
    /** The command line sent, when it got that far. */
    readonly command?: string,
    /** HAProxy's answer, when there was one. */
    readonly output?: string,
  ) {
    super(message);
    this.name = 'HaproxyRuntimeError';
  }
}

// HAProxy names: letters, digits, '-', '_', '.', ':' (configuration manual, section 2.3). Anything
// else could also smuggle a second command (';') or a new line into the exchange.
const HAPROXY_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
const STATES: readonly string[] = ['ready', 'drain', 'maint'];
// Map files are absolute paths; keys and values are single printable words (map files split on
// whitespace, and ';' would end the command).
const MAP_FILE = /^\/[A-Za-z0-9._/-]{1,255}$/;
const MAP_WORD = /^[\x21-\x3a\x3c-\x7e]{1,256}$/;

function checkMap(file: string, entries: readonly (readonly [string, string])[] = []): void {
  if (typeof file !== 'string' || !MAP_FILE.test(file) || file.includes('..')) {
    throw new HaproxyRuntimeError(
      `invalid map file ${JSON.stringify(file)}: give the absolute path exactly as in haproxy.cfg`,
    );
  }
  for (const [k, v] of entries) {
    if (!MAP_WORD.test(k) || !MAP_WORD.test(v)) {
      throw new HaproxyRuntimeError(
        `invalid map entry ${JSON.stringify(k)} → ${JSON.stringify(v)}: keys and values are printable words without spaces or ';'`,
      );
    }
  }
}

function checkName(what: 'backend' | 'server', name: string): void {
  if (typeof name !== 'string' || !HAPROXY_NAME.test(name)) {
    throw new HaproxyRuntimeError(
      `invalid HAProxy ${what} name ${JSON.stringify(name)}: use the name exactly as in haproxy.cfg (letters, digits, '.', '_', '-' or ':')`,
    );
  }
}

function checkState(state: string): void {
  if (!STATES.includes(state)) {
    throw new HaproxyRuntimeError(
      `invalid server state ${JSON.stringify(state)}: expected "ready", "drain" or "maint"`,
    );
  }
}

export function createHaproxyRuntime(opts: HaproxyRuntimeOptions): HaproxyRuntime {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const host = opts.host ?? '127.0.0.1';
  if (!opts.socketPath && opts.port === undefined) {
    throw new HaproxyRuntimeError(
      'createHaproxyRuntime needs socketPath (the path of "stats socket ... level admin" in haproxy.cfg) or port (for a TCP stats socket)',
    );
  }
  const address = opts.socketPath ? `unix:${opts.socketPath}` : `tcp:${host}:${opts.port}`;
  const socketHint = opts.socketPath
    ? `is HAProxy running, and does the global section of haproxy.cfg have "stats socket ${opts.socketPath} mode 600 level admin"?`
    : `is HAProxy running, and does the global section of haproxy.cfg have "stats socket ipv4@${host}:${opts.port} level admin"?`;

  /** One exchange: write the line, read until HAProxy closes the connection. */
  function exchange(line: string): Promise<string> {
    if (line.includes('\n') || line.includes('\r')) {
      return Promise.reject(
        new HaproxyRuntimeError(
          `a runtime API command must be one line; join several with ';' (got ${JSON.stringify(line)})`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const sock: Socket = opts.socketPath
        ? connect({ path: opts.socketPath })
        : connect({ host, port: opts.port ?? 0 });
      const fail = (err: HaproxyRuntimeError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new HaproxyRuntimeError(
              `HAProxy runtime API at ${address} did not answer "${line}" within ${timeoutMs} ms; ${socketHint}`,
              line,
            ),
          ),
        timeoutMs,
      );
      sock.on('connect', () => sock.write(`${line}\n`));
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('error', (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'ENOENT'
            ? `no socket at ${opts.socketPath}`
            : err.code === 'ECONNREFUSED'
              ? 'connection refused (HAProxy is not listening there; a stale socket file?)'
              : err.code === 'EACCES'
                ? 'permission denied on the socket file (run as the user HAProxy gives it to, or adjust "mode"/"user" on the stats socket line)'
                : err.message;
        fail(
          new HaproxyRuntimeError(
            `cannot reach the HAProxy runtime API at ${address}: ${why}; ${socketHint}`,
            line,
          ),
        );
      });
      sock.on('close', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
  }

  /** Turns HAProxy's one-line complaints into errors that say what to check. */
  function explain(output: string, ctx: { backend?: string; server?: string; command: string }): string {
    const o = output.trim();
    const be = ctx.backend === undefined ? '' : `"${ctx.backend}"`;
    if (o === 'No such backend.' || o === 'No such proxy.' || o === "Can't find backend.")
      return `HAProxy has no backend ${be}: check the backend name against haproxy.cfg ("show backend" on the runtime API lists them)`;
    if (o === 'No such server.')
      return `HAProxy backend ${be} has no server "${ctx.server ?? ''}": check the server name against haproxy.cfg ("show servers state ${ctx.backend ?? ''}" lists them)`;
    if (/^Permission denied/i.test(o))
      return `HAProxy refused "${ctx.command}": permission denied; the stats socket must be at "level admin" (stats socket <path> mode 600 level admin)`;
    if (/^Unknown command/i.test(o))
      return `HAProxy does not know "${ctx.command}" (${o.split('\n')[0]}); this needs HAProxy 2.x`;
    return `HAProxy answered "${ctx.command}" with: ${o.split('\n').slice(0, 3).join(' / ')}`;
  }

  async function setStates(changes: ServerStateChange[]): Promise<void> {
    for (const c of changes) {
      checkName('backend', c.backend);
      checkName('server', c.server);
      checkState(c.state);
    }
    if (changes.length === 0) return;

    // Several changes: check every backend and server exists first, so a typo changes nothing
    // (HAProxy runs the remaining commands of an exchange even after one fails).
    if (changes.length > 1) {
      const backends = [...new Set(changes.map((c) => c.backend))];
      const line = backends.map((b) => `show servers state ${b}`).join(';');
      const outs = splitResponses(await exchange(line));
      const problems: string[] = [];
      backends.forEach((b, i) => {
        const out = outs[i] ?? '';
        let names: Set<string>;
        try {
          names = new Set(parseServersState(out).map((s) => s.name));
        } catch {
          problems.push(explain(out, { backend: b, command: `show servers state ${b}` }));
          return;
        }
        for (const c of changes)
          if (c.backend === b && !names.has(c.server))
            problems.push(explain('No such server.', { backend: b, server: c.server, command: '' }));
      });
      if (problems.length > 0)
        throw new HaproxyRuntimeError(`no server state was changed: ${problems.join('; ')}`, line);
    }

    const commands = changes.map((c) => `set server ${c.backend}/${c.server} state ${c.state}`);
    const line = commands.join(';');
    const text = await exchange(line);
    const outs = splitResponses(text);
    const failures: string[] = [];
    changes.forEach((c, i) => {
      const out = outs[i];
      if (out === undefined) failures.push(`no answer for "${commands[i]}"`);
      else if (out.trim() !== '')
        failures.push(explain(out, { backend: c.backend, server: c.server, command: commands[i] ?? '' }));
    });
    if (failures.length > 0) {
      const applied = changes.filter((_, i) => outs[i] !== undefined && outs[i]!.trim() === '');
      const note =
        changes.length > 1
          ? ` (applied: ${applied.map((c) => `${c.backend}/${c.server} ${c.state}`).join(', ') || 'none'})`
          : '';
      throw new HaproxyRuntimeError(`${failures.join('; ')}${note}`, line, text);
    }
  }

  return {
    address,
    setState: (backend, server, state) => setStates([{ backend, server, state }]),
    setStates,
    async serverStats(backend) {
      checkName('backend', backend);
      // Type 4 = servers only; both commands in one exchange, so the two views are of one instant.
      const line = `show stat ${backend} 4 -1;show servers state ${backend}`;
      const text = await exchange(line);
      const [statOut = '', stateOut = ''] = splitResponses(text);
      if (!statOut.startsWith('# pxname'))
        throw new HaproxyRuntimeError(
          explain(statOut, { backend, command: `show stat ${backend}` }),
          line,
          text,
        );
      const states = new Map(parseServersState(stateOut).map((s) => [s.name, s]));
      return parseShowStat(statOut)
        .filter((r) => r.backend === backend)
        .map((r) => {
          const s = states.get(r.name);
          const fromStat = r.status === 'MAINT' ? 'maint' : r.status === 'DRAIN' ? 'drain' : 'ready';
          return {
            ...r,
            // A server started "disabled" keeps its configuration-maintenance flag after
            // `set server state ready` although it serves; `show stat` tells the truth then.
            adminState: s && !(s.adminState === 'maint' && r.status !== 'MAINT') ? s.adminState : fromStat,
            opState: s?.opState ?? (r.status === 'DOWN' || r.status === 'MAINT' ? 'stopped' : 'running'),
          };
        });
    },
    async serversState(backend) {
      checkName('backend', backend);
      const line = `show servers state ${backend}`;
      const out = splitResponses(await exchange(line))[0] ?? '';
      if (!out.startsWith('1\n'))
        throw new HaproxyRuntimeError(explain(out, { backend, command: line }), line, out);
      return parseServersState(out);
    },
    async replaceMap(file, entries) {
      checkMap(file, entries);
      const prepared = (await exchange(`prepare map ${file}`)).trim();
      const version = /New version created: (\d+)/.exec(prepared)?.[1];
      if (!version) {
        throw new HaproxyRuntimeError(
          /Unknown map/i.test(prepared)
            ? `HAProxy has no map "${file}": reference it in haproxy.cfg (rollgate lb haproxy-config prints the lines) and reload once`
            : explain(prepared, { command: `prepare map ${file}` }),
          `prepare map ${file}`,
          prepared,
        );
      }
      // Every add and the commit in one exchange: nothing else runs in between on this connection.
      const commands = [
        ...entries.map(([k, v]) => `add map @${version} ${file} ${k} ${v}`),
        `commit map @${version} ${file}`,
      ];
      const line = commands.join(';');
      const outs = splitResponses(await exchange(line));
      const problems = outs
        .map((o, i) => (o.trim() === '' ? null : `${commands[i]}: ${o.trim()}`))
        .filter(Boolean);
      if (problems.length > 0) {
        throw new HaproxyRuntimeError(
          `map ${file} was not replaced: ${problems.slice(0, 3).join('; ')}`,
          line,
        );
      }
    },
    async showMap(file) {
      checkMap(file);
      const out = (await exchange(`show map ${file}`)).trim();
      if (/Unknown map/i.test(out)) {
        throw new HaproxyRuntimeError(`HAProxy has no map "${file}"`, `show map ${file}`, out);
      }
      return out
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [, key = '', value = ''] = l.split(' ');
          return [key, value] as [string, string];
        });
    },
    async raw(command) {
      const text = await exchange(command);
      if (text === '\n') return '';
      return text.endsWith('\n\n') ? text.slice(0, -1) : text;
    },
  };
}
