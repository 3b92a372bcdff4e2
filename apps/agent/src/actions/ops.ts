// What each op does on this server. An op either resolves with a one-line summary or throws an
// Error whose message tells an operator what happened and what to do; the executor adds which op.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { MSG, editionUrlForLogs, type ActionOp, type CommandResult } from '@rollgate/domain';
import {
  ArchiveLimitError,
  ArchiveRefusedError,
  DEFAULT_ARCHIVE_LIMITS,
  formatBytes,
  type ArchiveLimits,
} from '../heavy/archive-errors';
import { createBackupOps } from './backup-ops';
import type { AgentConfig, ServiceConfig } from '../config';
import { ENV_FILE, checkEditionName, type EditionStore } from '../heavy/edition-store';
import { emptyDir, errorMessage, sleep, type SyncLater } from '../lib/fs-util';
import { createHeavyClient, type HeavyClient } from '../heavy/heavy-client';
import { THREAD_MAX_EXPANDED_BYTES, THREAD_MAX_INPUT_BYTES } from '../heavy/heavy-thread';
import { INLINE_MAX_INPUT_BYTES, takeSmall, unpackSmallArchive } from '../heavy/small-archive';
import type { HeavyResults } from '../heavy/heavy-jobs';
import { createFunctionalTest } from './functional-test';
import type { HealthMonitor } from '../rotation/health-monitor';
import { httpGet } from '../lib/http-get';
import { OpError, type OpContext, type OpOutcome, type OpRunner } from './op-result';
import { createRedactor, redactDeep, type Redactor } from './redact';
import { createLogger } from '@rollgate/logger';
import { createServiceManagers } from '../service-managers/create-service-manager';
import type { ServiceManager } from '../service-managers/service-manager';
import type { GateWish } from '../rotation/state-store';
import type { Supervisor } from '../processes/supervisor';
import {
  DEFAULT_URL_FETCH_LIMITS,
  UrlFetchError,
  fetchUrlBytes,
  type UrlFetchLimits,
} from '../heavy/url-fetch';
import type { ArtifactPiece } from '../coordinator/wire';

/** Defaults for a zero timeout: proto3 cannot tell "unset" from 0, and 0 is never meant literally. */

/** gRPC status codes that mean "try again": UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, RESOURCE_EXHAUSTED, ABORTED, UNKNOWN. */
const TRANSIENT_GRPC = new Set([14, 4, 13, 8, 10, 2]);

class TransientFetchError extends Error {}
/** An install failure whose message is complete (says what happened and that nothing was installed). */
class InstallFailed extends Error {}

type InstallOp = Extract<ActionOp, { op: 'install' }>;

export const OP_DEFAULTS = {
  drainMaxWaitMs: 30_000,
  stopTimeoutMs: 10_000,
  waitHealthyTimeoutMs: 30_000,
  probeTimeoutMs: 5_000,
  commandTimeoutMs: 300_000,
  fetchTimeoutMs: 30 * 60_000,
} as const;

export type { OpContext, OpOutcome, OpRunner } from './op-result';

/**
 * Every secret the agent knows from its config and environment: database URLs (and their
 * passwords) and test account passwords. The redactor masks them in anything an op reports.
 */
export function configSecrets(
  cfg: Pick<AgentConfig, 'services' | 'testAccounts'>,
  env: Record<string, string>,
): string[] {
  const out: string[] = [];
  for (const s of cfg.services) {
    const url = s.database?.url ?? (s.database?.urlEnv !== undefined ? env[s.database.urlEnv] : undefined);
    if (!url) continue;
    try {
      const p = new URL(url).password;
      if (p) out.push(decodeURIComponent(p), p);
    } catch {
      // not a URL: config validation already refused it, or the env var is wrong (reported by the op)
    }
  }
  for (const a of Object.values(cfg.testAccounts ?? {})) out.push(a.password);
  return out;
}

export interface OpRunnerDeps {
  dataDir: string;
  services: ServiceConfig[];
  /** Where backups are kept; default <dataDir>/backups. */
  backupsDir?: string;
  /** On the test machine: accounts for login probes and commands for launch probes. */
  testAccounts?: AgentConfig['testAccounts'];
  testCommands?: AgentConfig['testCommands'];
  /** On the test machine: the hosts its probes may reach (config testHosts); default none. */
  testHosts?: AgentConfig['testHosts'];
  /** Masks secrets in summaries, errors, progress lines and results; default from the config. */
  redact?: Redactor;
  /** The agent's own environment; children get it plus service env plus rollgate.env.json. */
  baseEnv: Record<string, string>;
  editions: EditionStore;
  /** Runs `process` services, second instances and named commands. */
  supervisor: Supervisor;
  /**
   * How each service is started, stopped and asked (docs/adr/0022), by name; default built from
   * services (process services over `supervisor`).
   */
  managers?: ReadonlyMap<string, ServiceManager>;
  health: HealthMonitor;
  /** With `later`, the wish's fsync is left to the action's end (docs/adr/0050). */
  setGateWish: (wish: GateWish, reason: string, later?: SyncLater) => Promise<void>;
  countConnections: (port: number) => Promise<number>;
  /** Does anything listen on this local port? */
  isListening: (port: number) => Promise<boolean>;
  /** Streams an artifact from the coordinator (FetchArtifact). */
  fetchArtifact: (sha256: string, signal: AbortSignal) => AsyncIterable<ArtifactPiece>;
  /** Last output line of each service, for "exited before becoming healthy" messages. */
  lastOutput: (service: string) => string | undefined;
  /** Drain poll interval, and how often a waiting op checks the service is still running, ms; default 100. */
  pollMs?: number;
  /**
   * How often waitHealthy asks the health URL while its port refuses connections, ms; default 5
   * (the rollout waits on the first healthy answer). Once the service answers: every pollMs.
   */
  healthPollMs?: number;
  /** Runs downloads, checksums and backups off the agent's loop; default a client with default limits. */
  heavy?: HeavyClient;
  /** Bounds on archives the agent reads back (backups); default DEFAULT_ARCHIVE_LIMITS. */
  archiveLimits?: ArchiveLimits;
  /** Bounds on an edition the agent downloads from its URL (docs/adr/0039); default DEFAULT_URL_FETCH_LIMITS. */
  urlFetch?: UrlFetchLimits;
  /** Counts bytes an edition downloaded from its URL (the agent's metrics); default none. */
  onUrlBytes?: (n: number) => void;
}

/** Where an install's archive was received and unpacked, for its result line. */
interface InstallHow {
  where: string;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const short = (sha: string) => sha.slice(0, 12);
const conns = (n: number) => `${n} connection${n === 1 ? '' : 's'}`;

export function createOpRunner(deps: OpRunnerDeps): OpRunner {
  const redact =
    deps.redact ??
    createRedactor(
      configSecrets({ services: deps.services, testAccounts: deps.testAccounts ?? {} }, deps.baseEnv),
    );
  const pollMs = deps.pollMs ?? 100;
  const healthPollMs = deps.healthPollMs ?? Math.min(5, pollMs);
  const byName = new Map(deps.services.map((s) => [s.name, s]));
  const downloads = join(deps.dataDir, 'downloads');
  const heavy = deps.heavy ?? createHeavyClient();
  const limits = deps.archiveLimits ?? DEFAULT_ARCHIVE_LIMITS;
  const urlLimits = deps.urlFetch ?? DEFAULT_URL_FETCH_LIMITS;
  const managers =
    deps.managers ??
    createServiceManagers(deps.services, {
      dataDir: deps.dataDir,
      supervisor: deps.supervisor,
      baseEnv: deps.baseEnv,
      log: createLogger({ name: 'agent', level: 'silent' }),
    });
  const managerOf = (s: ServiceConfig): ServiceManager => {
    const m = managers.get(s.name);
    if (!m) throw new Error(`no service manager for ${s.name}; this is a bug in the agent's wiring`);
    return m;
  };
  /** What the manager last said, for a "not running" message; the process manager's log file otherwise. */
  const whereToLook = (s: ServiceConfig, m: ServiceManager) => {
    const said = m.lastStatus()?.detail;
    return m.kind === 'process'
      ? `see ${join(deps.dataDir, 'logs', `${s.name}.log`)}`
      : `${m.kind} says: ${said ?? 'nothing yet'}`;
  };

  /** The download needs room too (the unpack checks again for the expanded size, in the child). */
  async function checkRoomForDownload(s: ServiceConfig, op: InstallOp) {
    await mkdir(downloads, { recursive: true });
    const st = await statfs(downloads);
    const free = Number(st.bavail) * Number(st.bsize);
    const need = op.size + limits.freeSpaceMarginBytes;
    if (free < need) {
      throw new ArchiveLimitError(
        `downloading ${s.name} ${op.edition} needs ${formatBytes(need)} free on ${deps.dataDir} (${formatBytes(op.size)} for the archive + ${formatBytes(limits.freeSpaceMarginBytes)} margin) but only ${formatBytes(free)} is free; free some space there (or lower limits.freeSpaceMarginBytes in the agent config)`,
        'freeSpaceMarginBytes',
      );
    }
  }

  function service(name: string): ServiceConfig {
    const s = byName.get(name);
    if (!s) {
      throw new Error(
        `this agent does not manage a service named "${name}" (it manages: ${[...byName.keys()].join(', ')}); fix the plan or the agent config`,
      );
    }
    return s;
  }

  async function activeDir(s: ServiceConfig): Promise<{ edition: string; dir: string }> {
    const edition = await deps.editions.activeEdition(s.name);
    if (!edition) throw new Error(`${s.name} has no active edition; install and activate one first`);
    return { edition, dir: deps.editions.editionDir(s.name, edition) };
  }

  async function childEnv(s: ServiceConfig, dir: string): Promise<Record<string, string>> {
    return { ...deps.baseEnv, ...(await serviceEnv(s, dir)) };
  }

  /** services[].env with the edition's rollgate.env.json on top (no agent environment). */
  async function serviceEnv(s: ServiceConfig, dir: string): Promise<Record<string, string>> {
    let fileEnv: Record<string, string> = {};
    try {
      fileEnv = JSON.parse(await readFile(join(dir, ENV_FILE), 'utf8')) as Record<string, string>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(
          `${join(dir, ENV_FILE)} is unreadable: ${errorMessage(err)}; run the configure op again`,
        );
      }
    }
    return { ...s.env, ...fileEnv };
  }

  /**
   * Receives one archive into the heavy-work child, which hashes it into a file and unpacks it into
   * `dest` only if its sha256 is the plan's, all in one process (docs/adr/0044), or in one worker
   * thread when the plan says it is small (docs/adr/0047), or here when it is smaller still and
   * plain (docs/adr/0051). `signal` cancels
   * the whole job; the download's own deadline is the caller's, on `input`. The file never
   * outlives the call.
   */
  async function receiveAndUnpack(
    op: InstallOp,
    input: AsyncIterable<Uint8Array>,
    dest: string,
    signal: AbortSignal,
    how: InstallHow,
  ): Promise<HeavyResults['install']> {
    const part = join(downloads, `${op.sha256}.part`);
    const job = { kind: 'install', file: part, sha256: op.sha256, dest, limits } as const;
    try {
      if (op.size > 0 && op.size <= INLINE_MAX_INPUT_BYTES) {
        // Small: hashed and, if verified, unpacked here (docs/adr/0051); else the same bytes go on.
        const { whole, replay } = await takeSmall(input, INLINE_MAX_INPUT_BYTES);
        input = replay;
        if (whole) {
          const sha256 = createHash('sha256').update(whole).digest('hex');
          if (sha256 !== op.sha256) return { sha256, bytes: whole.length };
          const unpacked = await unpackSmallArchive(whole, dest, limits, { signal });
          if (unpacked) {
            how.where = 'the agent itself (a small archive)';
            return { sha256, bytes: whole.length, unpacked };
          }
        }
      }
      if (op.size <= 0 || op.size > THREAD_MAX_INPUT_BYTES) return await heavy.run(job, { signal, input });
      try {
        how.where = 'a worker thread';
        return await heavy.run(job, { signal, input, inThread: true });
      } catch (err) {
        // Verified, but it unpacks past what a thread takes while the agent's limits allow more:
        // the same file, unpacked again by a process (the thread wrote only into dest).
        const threadBound =
          err instanceof ArchiveLimitError &&
          err.limit === 'maxExpandedBytes' &&
          limits.maxExpandedBytes > THREAD_MAX_EXPANDED_BYTES;
        if (!threadBound || signal.aborted) throw err;
        await emptyDir(dest);
        how.where = 'a work process (past the thread bound)';
        const unpacked = await heavy.run({ kind: 'unpack', archive: part, dest, limits }, { signal });
        return { sha256: op.sha256, bytes: op.size, unpacked };
      }
    } finally {
      await rm(part, { force: true });
    }
  }

  /** A checksum mismatch: logged as a rejected artifact, nothing unpacked. */
  function refuse(ctx: OpContext, reason: string): InstallFailed {
    ctx.log('error', MSG.artifactRejected.code, `${MSG.artifactRejected.text}: ${reason}`);
    return new InstallFailed(reason);
  }

  /**
   * An edition the operator chose agents fetch themselves (docs/adr/0039): from its URL, through
   * a sha256 into a file in the heavy-work process, verified before anything is unpacked. Any
   * failure removes the file and names the URL's origin and path only (a query string may be a
   * signature). Not retried: a wrong URL or digest does not get better by asking again.
   */
  async function downloadFromUrl(
    s: ServiceConfig,
    op: InstallOp & { url: string },
    ctx: OpContext,
    dest: string,
    how: InstallHow,
  ): Promise<number> {
    const from = editionUrlForLogs(op.url);
    // `done` ends the fetch when the child is gone (killed mid-job) and no longer reads it.
    const done = new AbortController();
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(urlLimits.timeoutMs), done.signal]);
    let streamed = false;
    async function* counted(): AsyncIterable<Uint8Array> {
      for await (const chunk of fetchUrlBytes(op.url, {
        declaredSize: op.size,
        maxBytes: urlLimits.maxBytes,
        signal,
      })) {
        deps.onUrlBytes?.(chunk.length);
        yield chunk;
      }
      streamed = true;
    }
    let got: HeavyResults['install'];
    try {
      got = await receiveAndUnpack(op, counted(), dest, ctx.signal, how);
    } catch (err) {
      done.abort();
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (streamed) throw err; // the unpack's own failure (a limit, the disk): install() names it
      const reason =
        err instanceof UrlFetchError ? err.message : `fetching ${from} failed: ${errorMessage(err)}`;
      throw new InstallFailed(
        `could not fetch the archive of ${s.name} ${op.edition} (sha256 ${short(op.sha256)}): ${reason}; nothing was installed — check the edition's URL (rollgate edition add --from-url … --fetch-by agents)`,
      );
    }
    if (!got.unpacked) {
      throw refuse(
        ctx,
        `checksum mismatch for ${s.name} ${op.edition}: ${from} served sha256 ${got.sha256}, expected ${op.sha256}; the archive was refused and nothing was installed — check the URL and the --sha256 given with it`,
      );
    }
    return got.unpacked.files;
  }

  /** Streams the archive from the coordinator into the heavy-work child; returns the files unpacked. */
  async function download(
    s: ServiceConfig,
    op: InstallOp,
    ctx: OpContext,
    dest: string,
    how: InstallHow,
  ): Promise<number> {
    if (op.url) return downloadFromUrl(s, { ...op, url: op.url }, ctx, dest, how);
    let received = 0;
    let labelled: string | undefined;
    let streamed = false;
    const timeout = AbortSignal.timeout(OP_DEFAULTS.fetchTimeoutMs);
    const done = new AbortController();
    const signal = AbortSignal.any([ctx.signal, timeout, done.signal]);
    // The stream stays on the agent's one connection (its identity never leaves this process);
    // hashing, writing and unpacking happen in the work process it is piped to, which unpacks
    // only after this ends the input: a throw here stops it with nothing unpacked.
    async function* bytes(): AsyncIterable<Uint8Array> {
      for await (const chunk of deps.fetchArtifact(op.sha256, signal)) {
        if (chunk.sha256 && chunk.sha256 !== op.sha256) {
          labelled = chunk.sha256;
          throw new Error(`the coordinator labelled the artifact ${chunk.sha256}`);
        }
        if (chunk.offset !== received) {
          throw new Error(
            `the artifact stream for ${s.name} ${op.edition} skipped from byte ${received} to ${chunk.offset}; retry the step`,
          );
        }
        received += chunk.data.length;
        yield chunk.data;
      }
      streamed = true;
    }
    let got: HeavyResults['install'];
    try {
      got = await receiveAndUnpack(op, bytes(), dest, ctx.signal, how);
    } catch (err) {
      done.abort(); // the child is gone: end the stream it no longer reads
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (streamed) throw err; // the unpack's own failure (a limit, the disk): install() names it
      if (labelled !== undefined) {
        throw refuse(
          ctx,
          `checksum mismatch for ${s.name} ${op.edition}: expected ${op.sha256}, got ${labelled} (as labelled by the coordinator); the archive was refused and nothing was installed — re-upload the edition`,
        );
      }
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number' && TRANSIENT_GRPC.has(code) && !timeout.aborted) {
        throw new TransientFetchError(errorMessage(err));
      }
      throw new InstallFailed(
        `could not fetch the archive of ${s.name} ${op.edition} (sha256 ${short(op.sha256)}) from the coordinator: ${errorMessage(err)}; nothing was installed — check that the edition was uploaded, then retry`,
      );
    }
    if (!got.unpacked) {
      throw refuse(
        ctx,
        `checksum mismatch for ${s.name} ${op.edition}: expected ${op.sha256}, got ${got.sha256}; the archive was refused and nothing was installed — re-upload the edition`,
      );
    }
    if (op.size > 0 && received !== op.size) {
      ctx.log(
        'warn',
        MSG.synchronizing.code,
        `${s.name} ${op.edition}: the plan said ${op.size} bytes, received ${received}; the sha256 matches, installed`,
      );
    }
    return got.unpacked.files;
  }

  /**
   * download() again after a transient fault (a coordinator restart, a network blip), with
   * back-off, for as long as the fetch timeout allows. `dest` is still empty then: the child
   * unpacks only a complete, verified stream.
   */
  async function downloadWithRetries(
    s: ServiceConfig,
    op: InstallOp,
    ctx: OpContext,
    dest: string,
    started: number,
    how: InstallHow,
  ): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await download(s, op, ctx, dest, how);
      } catch (err) {
        if (!(err instanceof TransientFetchError)) throw err;
        if (performance.now() - started > OP_DEFAULTS.fetchTimeoutMs) {
          throw new InstallFailed(
            `could not fetch the archive of ${s.name} ${op.edition} (sha256 ${short(op.sha256)}) from the coordinator: ${err.message}; check that the coordinator is reachable, then retry`,
          );
        }
        const delay = Math.min(5000, 250 * 2 ** Math.min(attempt, 5));
        ctx.log(
          'warn',
          MSG.synchronizing.code,
          `download of ${s.name} ${op.edition} interrupted (${err.message}); retrying in ${delay} ms`,
        );
        await new Promise((r) => setTimeout(r, delay));
        if (ctx.signal.aborted) throw ctx.signal.reason;
      }
    }
  }

  async function install(op: InstallOp, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    checkEditionName(op.edition);
    const existing = await deps.editions.readMeta(s.name, op.edition);
    if (existing) {
      if (existing.sha256 === op.sha256)
        return `${s.name} edition ${op.edition} already installed (sha256 ${short(op.sha256)})`;
      throw new Error(
        `${s.name} edition ${op.edition} is already installed with a different archive (sha256 ${short(existing.sha256)}, this one ${short(op.sha256)}); editions are never overwritten — upload the new archive under a new edition name`,
      );
    }
    ctx.log(
      'info',
      MSG.synchronizing.code,
      `${MSG.synchronizing.text}: ${s.name} edition ${op.edition} (${op.size > 0 ? `${op.size} bytes` : 'size unknown'}, sha256 ${short(op.sha256)})${op.url ? ` from ${editionUrlForLogs(op.url)}` : ''}`,
    );
    const started = performance.now();
    try {
      await checkRoomForDownload(s, op);
    } catch (err) {
      throw new Error(`${errorMessage(err)}; nothing was installed`);
    }
    let files: number;
    const how: InstallHow = { where: 'a work process' };
    try {
      ({ files } = await deps.editions.installWith(s.name, op.edition, op.sha256, op.size, async (dest) => ({
        files: await downloadWithRetries(s, op, ctx, dest, started, how),
      })));
    } catch (err) {
      if (err instanceof InstallFailed || ctx.signal.aborted) throw err;
      if (err instanceof ArchiveLimitError) {
        throw new Error(
          `the archive of ${s.name} ${op.edition} was refused: ${err.message}; nothing was installed`,
        );
      }
      if (err instanceof ArchiveRefusedError) {
        throw new Error(
          `the archive of ${s.name} ${op.edition} was refused: ${err.message}; nothing was installed — rebuild the archive without it and upload it under a new edition name`,
        );
      }
      throw new Error(
        `installing ${s.name} ${op.edition} failed: ${errorMessage(err)}; nothing was installed`,
      );
    }
    return `installed ${s.name} edition ${op.edition}: ${files} files in ${secs(performance.now() - started)}, unpacked in ${how.where}`;
  }

  async function drain(op: Extract<ActionOp, { op: 'drain' }>, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    const minWait = op.minWaitMs ?? 0;
    const maxWait = Math.max(op.maxWaitMs || OP_DEFAULTS.drainMaxWaitMs, minWait);
    const started = performance.now();
    if (minWait > 0) {
      // The load balancer only learns of the closed gate at its next checks: until then it may
      // still send new requests, so zero connections now would prove nothing.
      ctx.log(
        'info',
        MSG.draining.code,
        `${MSG.draining.text} ${s.name}: letting the load balancer notice the closed gate (${secs(minWait)})`,
      );
      await sleep(minWait, ctx.signal);
    }
    let n = await deps.countConnections(s.port);
    ctx.log(
      'info',
      MSG.draining.code,
      `${MSG.draining.text} ${s.name}: ${conns(n)} on port ${s.port}, waiting up to ${secs(maxWait)}`,
    );
    let zeros = n === 0 ? 1 : 0;
    let lastReport = started;
    // Zero twice, 100 ms apart: a single zero can be the gap between two keep-alive requests.
    while (zeros < 2) {
      const elapsed = performance.now() - started;
      if (elapsed >= maxWait) {
        ctx.log(
          'warn',
          MSG.draining.code,
          `${s.name} still has ${conns(n)} after ${secs(elapsed)}; drain time is up, continuing`,
        );
        return `drain of ${s.name} ended after ${secs(elapsed)} with ${conns(n)} still open`;
      }
      await sleep(Math.min(pollMs, maxWait - elapsed), ctx.signal);
      n = await deps.countConnections(s.port);
      zeros = n === 0 ? zeros + 1 : 0;
      if (performance.now() - lastReport >= 5000) {
        lastReport = performance.now();
        ctx.log(
          'info',
          MSG.draining.code,
          `${MSG.draining.text} ${s.name}: ${conns(n)} after ${secs(lastReport - started)}`,
        );
      }
    }
    const took = performance.now() - started;
    ctx.log('info', MSG.draining.code, `${s.name} drained in ${secs(took)}`);
    return `${s.name} drained in ${secs(took)}`;
  }

  async function stop(op: Extract<ActionOp, { op: 'stop' }>, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    const timeout = op.timeoutMs || OP_DEFAULTS.stopTimeoutMs;
    const m = managerOf(s);
    const pid = m.running()?.pid;
    ctx.log(
      'info',
      MSG.stopping.code,
      `${MSG.stopping.text} ${s.name}${pid ? ` (pid ${pid})` : ''}: ${m.stopsWith(timeout)}`,
    );
    const r = await m.stop(timeout, ctx.signal);
    // The monitor learns it is down at once, but the rollout does not wait for it to say so.
    void deps.health.checkNow(s.name);
    if (r.alreadyStopped) {
      if (await deps.isListening(s.port)) {
        // Not ours to kill: it may be a hand-started copy, and start would then collide with it.
        ctx.log(
          'warn',
          MSG.stopping.code,
          `${s.name} is not run by this agent, but something listens on port ${s.port}; it was left alone`,
        );
      }
      return `${s.name} was already stopped`;
    }
    return r.killed
      ? `${s.name} did not stop within ${secs(timeout)} and was killed`
      : `${s.name} stopped in ${secs(r.ms)}`;
  }

  async function start(op: Extract<ActionOp, { op: 'start' }>, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    const { edition, dir } = await activeDir(s);
    const m = managerOf(s);
    const running = m.running();
    if (running && (await m.refresh())) {
      const pidText = running.pid === null ? m.kind : `pid ${running.pid}`;
      if (running.edition === edition) return `${s.name} edition ${edition} already running (${pidText})`;
      throw new Error(
        `${s.name} is still running edition ${running.edition} (${pidText}); stop it before starting ${edition}`,
      );
    }
    if (await deps.isListening(s.port)) {
      throw new Error(
        `port ${s.port} of ${s.name} is already in use by a process this agent does not run; stop that process, then retry`,
      );
    }
    ctx.log('info', MSG.starting.code, `${MSG.starting.text} ${s.name} edition ${edition}: ${m.startsWith}`);
    let rec;
    try {
      rec = await m.start({ edition, dir, env: await serviceEnv(s, dir), signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      throw new Error(
        `${s.name} edition ${edition} could not be started: ${errorMessage(err)}${m.kind === 'process' ? '; check start.command in the agent config' : ''}`,
      );
    }
    void deps.health.checkNow(s.name);
    return `${s.name} edition ${edition} started (${rec.pid === null ? `by ${m.kind}` : `pid ${rec.pid}`})`;
  }

  /** The supervisor's name for a service's second instance (its own pid file and log). */
  const besideKey = (s: ServiceConfig) => `${s.name}@beside`;

  function besideOf(s: ServiceConfig): NonNullable<ServiceConfig['beside']> {
    if (!s.beside) {
      throw new Error(
        `${s.name} has no beside port: add "beside": { "port": <free port> } to its entry in the agent config (a single server is rolled out by starting the new edition there, next to the running one)`,
      );
    }
    return s.beside;
  }

  /**
   * The new edition as a second process on the service's beside port, while the first keeps
   * serving; healthy at the health URL moved to that port before the op succeeds.
   */
  async function startBeside(op: Extract<ActionOp, { op: 'startBeside' }>, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    const beside = besideOf(s);
    const key = besideKey(s);
    if (!(await deps.editions.listInstalled(s.name)).includes(op.edition)) {
      throw new Error(`${s.name} edition ${op.edition} is not installed here; install it first`);
    }
    // The same carried-over configuration the configure op writes for the server's own instance.
    await deps.editions.configure(s.name, op.edition, s.configDir, { ...s.env, ...op.env }, ctx.syncLater);
    const running = deps.supervisor.running(key);
    if (running && (await deps.supervisor.refresh(key))) {
      if (running.edition !== op.edition) {
        throw new Error(
          `a second instance of ${s.name} (edition ${running.edition}, pid ${running.pid}) already runs on port ${beside.port}; stop it first (stopBeside)`,
        );
      }
    } else {
      if (await deps.isListening(beside.port)) {
        throw new Error(
          `beside port ${beside.port} of ${s.name} is in use by a process this agent does not run; free it or choose another beside.port`,
        );
      }
      const dir = deps.editions.editionDir(s.name, op.edition);
      ctx.log(
        'info',
        MSG.starting.code,
        `${MSG.starting.text} ${s.name} edition ${op.edition} beside the running instance, on port ${beside.port}`,
      );
      const env = { ...(await childEnv(s, dir)), [beside.portEnv]: String(beside.port) };
      try {
        await deps.supervisor.start(key, { ...s.start!, cwd: dir, env, edition: op.edition });
      } catch (err) {
        throw new Error(`${s.name} edition ${op.edition} could not be started beside: ${errorMessage(err)}`);
      }
    }
    const url = new URL(s.healthUrl);
    url.port = String(beside.port);
    const timeout = op.timeoutMs || OP_DEFAULTS.waitHealthyTimeoutMs;
    const started = performance.now();
    let lastError = 'no check completed';
    for (;;) {
      if (!(await deps.supervisor.refresh(key))) {
        const out = deps.lastOutput(key);
        throw new Error(
          `the second instance of ${s.name} exited${out ? `; its last output: ${out}` : ''}; see ${join(deps.dataDir, 'logs', `${key}.log`)}`,
        );
      }
      try {
        const res = await httpGet(url.toString(), {
          timeoutMs: Math.min(2000, timeout),
          signal: ctx.signal,
          maxBody: 512,
        });
        if (res.status === 200) {
          return `${s.name} edition ${op.edition} healthy beside the running instance on port ${beside.port} after ${secs(performance.now() - started)}`;
        }
        lastError = `${url} answered ${res.status}`;
      } catch (err) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        lastError = `${url}: ${errorMessage(err)}`;
      }
      const elapsed = performance.now() - started;
      if (elapsed >= timeout) {
        throw new Error(
          `the second instance of ${s.name} was not healthy within ${secs(timeout)}; last error: ${lastError}`,
        );
      }
      await sleep(Math.min(healthPollMs, timeout - elapsed), ctx.signal);
    }
  }

  async function stopBeside(op: Extract<ActionOp, { op: 'stopBeside' }>, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    const beside = besideOf(s);
    const timeout = op.timeoutMs || OP_DEFAULTS.stopTimeoutMs;
    ctx.log(
      'info',
      MSG.stopping.code,
      `${MSG.stopping.text} the second instance of ${s.name} on port ${beside.port}`,
    );
    const r = await deps.supervisor.stop(besideKey(s), timeout, ctx.signal);
    if (r.alreadyStopped) return `the second instance of ${s.name} was already stopped`;
    return r.killed
      ? `the second instance of ${s.name} did not stop within ${secs(timeout)} and was killed`
      : `the second instance of ${s.name} stopped in ${secs(r.ms)}`;
  }

  async function waitHealthy(op: Extract<ActionOp, { op: 'waitHealthy' }>, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    const timeout = op.timeoutMs || OP_DEFAULTS.waitHealthyTimeoutMs;
    const started = performance.now();
    let lastError = 'no check completed';
    let aliveAt = -Infinity;
    for (;;) {
      // Our process must be alive: a healthy answer from anything else on the port proves nothing.
      // Asked at most every pollMs (a manager may ask supervisorctl or systemctl), while the
      // health URL is asked every healthPollMs: the rollout waits on the first healthy answer.
      const m = managerOf(s);
      const notRunning = () => {
        const out = deps.lastOutput(s.name);
        return new Error(
          `${s.name} is not running (it exited or was never started)${out ? `; its last output: ${out}` : ''}; ${whereToLook(s, m)}`,
        );
      };
      if (performance.now() - aliveAt >= pollMs) {
        aliveAt = performance.now();
        if (!(await m.refresh())) throw notRunning();
      }
      let healthy = false;
      // Asked again soon while nothing listens yet (a refused connect costs the service nothing);
      // once it answers, every pollMs, so a service that says 503 while it warms up is not flooded.
      let again = healthPollMs;
      try {
        const res = await httpGet(s.healthUrl, {
          timeoutMs: Math.min(2000, timeout),
          signal: ctx.signal,
          maxBody: 512,
        });
        healthy = res.status === 200;
        if (!healthy) lastError = `${s.healthUrl} answered ${res.status}`;
        again = pollMs;
      } catch (err) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        lastError = `${s.healthUrl}: ${errorMessage(err)}`;
        if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED') again = pollMs;
      }
      if (healthy) {
        // Asked again for the answer that counts: ours must still be the process that gave it.
        if (!(await m.refresh())) throw notRunning();
        // The answer just got counts for the monitor too (the gate and agent-check read it).
        await deps.health.passed(s.name);
        return `${s.name} healthy after ${secs(performance.now() - started)}`;
      }
      const elapsed = performance.now() - started;
      if (elapsed >= timeout) {
        throw new Error(`${s.name} was not healthy within ${secs(timeout)}; last error: ${lastError}`);
      }
      await sleep(Math.min(again, timeout - elapsed), ctx.signal);
    }
  }

  async function probe(op: Extract<ActionOp, { op: 'probe' }>, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    const url = `http://127.0.0.1:${s.port}${op.path}`;
    let res;
    try {
      res = await httpGet(url, { timeoutMs: op.timeoutMs || OP_DEFAULTS.probeTimeoutMs, signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      throw new Error(`probe GET ${url} failed: ${errorMessage(err)}`);
    }
    if (res.status !== op.expectStatus) {
      throw new Error(
        `probe GET ${url} answered ${res.status}, expected ${op.expectStatus}; body: ${res.body.slice(0, 200)}`,
      );
    }
    if (op.expectBodyContains !== '' && !res.body.includes(op.expectBodyContains)) {
      throw new Error(
        `probe GET ${url} answered ${res.status} but the body does not contain ${JSON.stringify(op.expectBodyContains)}; body: ${res.body.slice(0, 200)}`,
      );
    }
    return `probe GET ${op.path} answered ${res.status} in ${res.ms} ms`;
  }

  function commandSpec(s: ServiceConfig, name: string) {
    const spec = s.commands[name];
    if (!spec) {
      const known = Object.keys(s.commands);
      throw new Error(
        `${s.name} has no command "${name}" (configured: ${known.length > 0 ? known.join(', ') : 'none'}); add it under services[].commands in the agent config`,
      );
    }
    return spec;
  }

  /** Runs a named command in the active edition (or the data dir when none is active). */
  async function runServiceCommand(
    s: ServiceConfig,
    name: string,
    extraEnv: Record<string, string>,
    timeout: number,
    ctx: OpContext,
  ): Promise<CommandResult & { timedOut: boolean; how: string }> {
    const spec = commandSpec(s, name);
    const edition = await deps.editions.activeEdition(s.name);
    const dir = edition ? deps.editions.editionDir(s.name, edition) : deps.dataDir;
    const r = await deps.supervisor.runCommand(
      s.name,
      { ...spec, cwd: dir, env: { ...(await childEnv(s, dir)), ...extraEnv } },
      timeout,
      ctx.signal,
    );
    const how = r.timedOut
      ? `did not finish within ${secs(timeout)} and was stopped`
      : r.code === null
        ? `was killed by ${r.signal ?? 'a signal'}`
        : `exited with code ${r.code}`;
    return {
      kind: 'command',
      command: name,
      exitCode: r.code ?? -1,
      outputTail: r.outputTail,
      ms: r.ms,
      timedOut: r.timedOut,
      how,
    };
  }

  async function command(op: Extract<ActionOp, { op: 'command' }>, ctx: OpContext): Promise<OpOutcome> {
    const s = service(op.service);
    commandSpec(s, op.command);
    await activeDir(s);
    const timeout = op.timeoutMs || OP_DEFAULTS.commandTimeoutMs;
    const { timedOut, how, ...result } = await runServiceCommand(s, op.command, {}, timeout, ctx);
    const lastLine = result.outputTail.trimEnd().split('\n').pop() ?? '';
    const last = lastLine ? `; last output: ${lastLine.slice(0, 500)}` : '';
    if (timedOut || result.exitCode !== 0) {
      throw new OpError(`${s.name} command ${op.command} ${how}${last}`, result);
    }
    return { summary: `${s.name} command ${op.command} succeeded in ${secs(result.ms)}`, result };
  }

  async function uninstall(op: Extract<ActionOp, { op: 'uninstall' }>, ctx: OpContext): Promise<string> {
    const s = service(op.service);
    const m = managerOf(s);
    if (await m.refresh()) {
      const running = m.running();
      throw new Error(
        `${s.name} is running (${running?.pid ? `pid ${running.pid}` : m.kind}, edition ${running?.edition ?? 'unknown'}); stop it first, then uninstall`,
      );
    }
    if (await deps.isListening(s.port)) {
      ctx.log(
        'warn',
        MSG.stopping.code,
        `${s.name} is not run by this agent, but something listens on port ${s.port}; it was left alone`,
      );
    }
    const { editions, active } = await deps.editions.uninstall(s.name);
    // The runtime state: a stale pid file must not be re-adopted after the rebuild.
    await rm(join(deps.dataDir, 'run', `${s.name}.json`), { force: true });
    await deps.health.checkNow(s.name);
    return editions.length === 0
      ? `${s.name} had no installed edition; nothing to remove`
      : `uninstalled ${s.name}: removed edition${editions.length === 1 ? '' : 's'} ${editions.join(', ')}${active ? ` (active was ${active})` : ''}; the next install downloads again`;
  }

  const backups = createBackupOps({
    backupsDir: deps.backupsDir ?? join(deps.dataDir, 'backups'),
    heavy,
    archiveLimits: limits,
    baseEnv: deps.baseEnv,
    runServiceCommand: async (s, name, env, timeout, ctx) => {
      const { timedOut, how, ...r } = await runServiceCommand(s, name, env, timeout, ctx);
      if (timedOut) throw new Error(`${s.name} command ${name} ${how}`);
      return r;
    },
  });
  const functionalTest = createFunctionalTest({
    testAccounts: deps.testAccounts ?? {},
    testCommands: deps.testCommands ?? {},
    testHosts: deps.testHosts ?? [],
    baseEnv: deps.baseEnv,
    cwd: deps.dataDir,
  });

  const dispatch = async (op: ActionOp, ctx: OpContext): Promise<OpOutcome> => {
    switch (op.op) {
      case 'gate':
        if (op.state === 'closed')
          ctx.log('info', MSG.quiescing.code, `${MSG.quiescing.text} (gate closed by coordinator)`);
        // An open wish lost to a crash before the action's end leaves the gate closed after the
        // restart, the safe side (and the coordinator says its wish again on reconnect): its
        // fsync waits for the action's end, off the server's way back. A closed wish is durable
        // before the op goes on to stop the service.
        await deps.setGateWish(
          op.state,
          `action ${ctx.actionId}`,
          op.state === 'open' ? ctx.syncLater : undefined,
        );
        if (op.state === 'open') ctx.log('info', MSG.gateOpened.code, MSG.gateOpened.text);
        return `gate wish is now ${op.state}`;
      case 'drain':
        return drain(op, ctx);
      case 'stop':
        return stop(op, ctx);
      case 'install':
        return install(op, ctx);
      case 'activate': {
        const s = service(op.service);
        const { previous } = await deps.editions.activate(s.name, op.edition, ctx.syncLater);
        ctx.log(
          'info',
          MSG.editionActivated.code,
          `${s.name}: edition ${previous && previous !== op.edition ? `${previous} deactivated, ` : ''}${op.edition} activated`,
        );
        return `${s.name} edition ${op.edition} is now active${previous && previous !== op.edition ? ` (was ${previous})` : ''}`;
      }
      case 'configure': {
        const s = service(op.service);
        await deps.editions.configure(
          s.name,
          op.edition,
          s.configDir,
          { ...s.env, ...op.env },
          ctx.syncLater,
        );
        const overrides = Object.keys(op.env);
        return `configured ${s.name} edition ${op.edition}${s.configDir ? ` (config from ${s.configDir})` : ''}${overrides.length ? `, overrides: ${overrides.join(', ')}` : ''}`;
      }
      case 'start':
        return start(op, ctx);
      case 'waitHealthy':
        return waitHealthy(op, ctx);
      case 'probe':
        return probe(op, ctx);
      case 'command':
        return command(op, ctx);
      case 'backupFiles':
        return backups.backupFiles(service(op.service), op, ctx);
      case 'dbBackup':
        return backups.dbBackup(service(op.service), op, ctx);
      case 'dbRestore':
        return backups.dbRestore(service(op.service), op, ctx);
      case 'functionalTest':
        return functionalTest(op, ctx);
      case 'startBeside':
        return startBeside(op, ctx);
      case 'stopBeside':
        return stopBeside(op, ctx);
      case 'uninstall':
        return uninstall(op, ctx);
    }
  };

  // Nothing an op reports may carry a secret: summaries, errors, progress lines and results are
  // all passed through the redactor before they reach the executor (and so the journal and wire).
  return async (op, ctx) => {
    const safeCtx: OpContext = {
      ...ctx,
      log: (level, code, message) => ctx.log(level, code, redact(message)),
    };
    try {
      const out = await dispatch(op, safeCtx);
      if (typeof out === 'string') return redact(out);
      return out.result === undefined
        ? { summary: redact(out.summary) }
        : { summary: redact(out.summary), result: redactDeep(out.result, redact) };
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const result = err instanceof OpError && err.result ? redactDeep(err.result, redact) : undefined;
      throw new OpError(redact(errorMessage(err)), result);
    }
  };
}
