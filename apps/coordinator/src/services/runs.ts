import {
  checkSchedule,
  compileMajorUpgrade,
  compileMinorUpgrade,
  planPools,
  learnWindow,
  noticeText,
  type Edition,
  type GateRecord,
  type Plan,
  type StepKind,
  type Phase,
} from '@rollgate/domain';
import {
  ApiError,
  type ApiServices,
  type EvidenceView,
  type PlanPreview,
  type UpgradeInput,
} from '@rollgate/api';
import { type RunRecord } from '@rollgate/engine';
import { assertMayWaive } from './waive-rule';
import { blockingGates, previewReadiness } from './readiness-check';
import type { CoordinatorServicesOptions, SharedServices } from './options';

/** Runs: plan and start (compiled, checked, the waive rule), commands, portal links, evidence. */
export function createRunServices(
  opts: CoordinatorServicesOptions,
  shared: SharedServices,
): ApiServices['runs'] {
  const { store, engine } = opts;
  const { queries, audit } = shared;
  /** Step durations of the cluster's last successful runs, for the learned window. */
  async function durationSamples(cluster: string) {
    const past = (await store.listRuns({ statuses: ['succeeded'], limit: 50 }))
      .filter((r) => r.plan.cluster === cluster && r.plan.procedure !== 'rollback')
      .slice(0, 10);
    const samples: { kind: StepKind; phase: Phase; servers: number; durationMs: number }[] = [];
    for (const r of past) {
      for (const st of await store.getSteps(r.id)) {
        const ps = r.plan.steps[st.index];
        if (!ps || st.status !== 'succeeded' || st.startedAt === null || st.finishedAt === null) continue;
        if (ps.kind === 'sign-off') continue; // waiting for a person says nothing about the next run
        samples.push({
          kind: ps.kind,
          phase: ps.phase,
          servers: ps.servers.length,
          durationMs: st.finishedAt - st.startedAt,
        });
      }
    }
    return { samples, runs: past.length };
  }

  /** What the servers run now: the edition every server reports active, if they agree. */
  function activeEdition(
    servers: { services: { name: string; activeEdition: string }[] }[],
    app: string,
  ): string | undefined {
    const names = new Set(servers.map((s) => s.services.find((x) => x.name === app)?.activeEdition ?? ''));
    const [only] = [...names];
    return names.size === 1 && only ? only : undefined;
  }

  async function compile(input: UpgradeInput, backupLabel: string) {
    const edition = await store.getEdition(input.app, input.edition);
    if (!edition) {
      const known = (await store.listEditions(input.app)).map((e) => e.name);
      throw new ApiError(
        'NOT_FOUND',
        `Edition "${input.edition}" of ${input.app} has not been uploaded${known.length ? ` (uploaded: ${known.join(', ')})` : ''}. Upload it with \`rollgate edition upload --app ${input.app} --name ${input.edition} --file <archive>\`.`,
      );
    }
    const servers = await store.listServers({ cluster: input.cluster });
    if (servers.length === 0) {
      throw new ApiError(
        'NOT_FOUND',
        `No server has registered in cluster "${input.cluster}". Start the agents (their config names the cluster) and check \`rollgate servers\`.`,
      );
    }
    const notServing = servers.filter((s) => !s.services.some((svc) => svc.name === input.app));
    if (notServing.length > 0) {
      throw new ApiError(
        'PRECONDITION_FAILED',
        `Servers ${notServing.map((s) => s.id).join(', ')} in cluster "${input.cluster}" do not manage "${input.app}". Add the service to their agent config, or upgrade a cluster whose servers all run it.`,
      );
    }
    const fromName = input.fromEdition ?? activeEdition(servers, input.app);
    let fromEdition: Edition | undefined;
    if (fromName) {
      fromEdition = (await store.getEdition(input.app, fromName)) ?? undefined;
      if (!fromEdition && input.fromEdition) {
        throw new ApiError(
          'NOT_FOUND',
          `The previous edition "${input.fromEdition}" of ${input.app} is not in the edition store; a rollback would have nothing to reinstall. Upload it first.`,
        );
      }
    }
    const settings = await store.getClusterSettings(input.cluster);
    const prep = settings.preparation ?? {};
    const major = input.procedure === 'major';
    const snapshots =
      prep.snapshots === 'all'
        ? servers.map((s) => s.id)
        : (prep.snapshots ?? []).filter((id) => servers.some((s) => s.id === id));
    // Each load-balancer pool keeps a server in rotation while a group is out (docs/adr/0026).
    const storedLb = await store.getClusterLb(input.cluster);
    const pools = planPools(storedLb, servers);
    const common = {
      cluster: input.cluster,
      service: input.app,
      servers: servers.map((s) => ({ id: s.id, cluster: s.cluster, role: s.role, hostname: s.hostname })),
      ...(pools.length > 0 ? { pools } : {}),
      toEdition: edition,
      ...(fromEdition ? { fromEdition } : {}),
      // The run's own interval, else the cluster's, else 30 s (the seed's edition manager default).
      drainMs: (input.drainageIntervalSec ?? storedLb?.drainageIntervalSec ?? 30) * 1000,
      healthTimeoutMs: input.healthTimeoutSec * 1000,
      signOff: input.signOff,
      probe: { path: input.probePath, expectStatus: 200, expectBodyContains: '' },
      ...(settings.minutesPerServer ? { minutesPerServer: settings.minutesPerServer } : {}),
      ...(settings.designatedServer ? { designatedServer: settings.designatedServer } : {}),
      ...(settings.tests ? { tests: settings.tests } : {}),
      preparation: {
        fileBackup: prep.fileBackup ?? major,
        snapshots,
        databaseBackup: major || (prep.databaseBackup ?? false),
        ...(prep.repositoryCheck ? { repositoryCheck: prep.repositoryCheck } : {}),
        backupLabel,
      },
    };
    const compiled = major ? compileMajorUpgrade(common) : compileMinorUpgrade(common);
    const { samples, runs } = await durationSamples(input.cluster);
    const learned = learnWindow(compiled, samples, runs);
    const plan: Plan = learned ? { ...compiled, window: { ...compiled.window, learned } } : compiled;
    return { plan, servers, settings };
  }

  /** Backup labels name the run's archives on the servers; the time makes them unique and sortable. */
  function newBackupLabel(): string {
    const d = new Date(opts.clock.now());
    const p = (n: number) => String(n).padStart(2, '0');
    return `rg-${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  }

  async function preview(input: UpgradeInput, actor: string, backupLabel: string) {
    const { plan, servers, settings } = await compile(input, backupLabel);
    const testMachine = settings.tests ? await store.getServer(settings.tests.testMachine) : null;
    const now = opts.clock.now();
    const { preview: readiness, records } = previewReadiness({
      plan,
      settings,
      servers,
      testMachine,
      coordinatorVersion: opts.version,
      contacts: input.contacts,
      waive: input.waive,
      actor,
      now,
    });
    let schedule: PlanPreview['schedule'] = null;
    let scheduleProblems: { code: string; message: string; hint: string }[] = [];
    if (input.at) {
      const startAt = Date.parse(input.at);
      const window = plan.window.learned?.atRiskMinutes ?? plan.window.atRiskMinutes;
      const check = checkSchedule(startAt, window * 60_000, settings.schedule ?? {}, now);
      schedule = { startAt, insideBusinessHours: check.insideBusinessHours };
      scheduleProblems = check.problems;
    }
    return { plan, readiness, records, schedule, scheduleProblems };
  }

  async function mustRun(runId: string): Promise<RunRecord> {
    const run = await store.getRun(runId);
    if (!run) throw new ApiError('NOT_FOUND', `No run "${runId}". List runs with \`rollgate upgrade list\`.`);
    return run;
  }
  return {
    async plan(input) {
      const p = await preview(input, 'preview', newBackupLabel());
      return { ...p.plan, readiness: p.readiness, schedule: p.schedule };
    },
    async start(input, actor, user) {
      assertMayWaive(user, input.waive);
      const backupLabel = newBackupLabel();
      const p = await preview(input, actor, backupLabel);
      const active = await store.listRuns({
        statuses: ['pending', 'running', 'paused', 'waiting-approval'],
      });
      const clash = active.find((r) => r.plan.cluster === input.cluster);
      if (clash) {
        throw new ApiError(
          'CONFLICT',
          `Run ${clash.id} is still ${clash.status} on cluster "${input.cluster}". Finish it, or abort it with \`rollgate upgrade abort ${clash.id}\`, before starting another.`,
        );
      }
      const blocking = [...blockingGates(p.readiness), ...p.scheduleProblems];
      if (blocking.length > 0) {
        // Nothing is written: the refusal names each gate and how to meet it.
        throw new ApiError(
          'PRECONDITION_FAILED',
          `The run cannot start:\n${blocking.map((b) => `- ${b.message} ${b.hint}`).join('\n')}`,
          blocking,
        );
      }
      const startAt = p.schedule?.startAt ?? opts.clock.now();
      const windowMinutes =
        input.windowMinutes ?? p.plan.window.learned?.atRiskMinutes ?? p.plan.window.atRiskMinutes;
      const usesBackups = p.plan.steps.some(
        (s) => s.kind === 'prepare' && s.gate !== 'installation-files' && s.gate !== 'repository',
      );
      return engine.createRun(p.plan, actor, {
        scheduledAt: p.schedule?.startAt ?? null,
        readiness: p.records,
        options: {
          onFailure: input.onFailure,
          windowEndsAt: startAt + windowMinutes * 60_000,
          backupLabel: usesBackups ? backupLabel : null,
        },
      });
    },
    pause: (runId, actor, reason) => engine.pause(runId, actor, reason),
    resume: (runId, actor) => engine.resume(runId, actor),
    abort: (runId, actor, reason) => engine.abort(runId, actor, reason),
    signOff: (runId, decision, comment, actor) => engine.signOff(runId, decision, comment, actor),
    async skipDrain(runId, serverId, actor) {
      await engine.skipDrain(runId, serverId, actor);
      return mustRun(runId);
    },
    skipServer: (runId, serverId, actor) => engine.skipServer(runId, serverId, actor),
    exclude: (runId, serverId, actor) => engine.exclude(runId, serverId, actor),
    rollbackOptions: (runId) => engine.rollbackOptions(runId),
    rollback: (runId, actor, method, reason) => engine.rollback(runId, actor, method, reason),
    decideRollback: (runId, decision, comment, actor) =>
      engine.decideRollback(runId, decision, comment, actor),
    async waive(runId, gate, reason, actor) {
      const run = await mustRun(runId);
      const prior = run.readiness.find((g) => g.gate === gate);
      const record: GateRecord = {
        gate,
        required: prior?.required ?? false,
        status: 'waived',
        evidence: prior?.evidence ?? null,
        by: actor,
        at: opts.clock.now(),
        reason,
      };
      return engine.recordGate(runId, record, actor);
    },
    async createPortalLink(input, actor) {
      const run = await queries.requireRun(input.runId);
      const link = await opts.auth.createPortalToken(
        run.id,
        input.recipient,
        input.ttlHours * 3600_000,
        actor,
      );
      // The id (not the token) is what the audit log and a later revocation name.
      await audit({
        actor,
        action: 'run.portal-link',
        target: run.id,
        details: {
          recipient: input.recipient,
          expiresAt: new Date(link.expiresAt).toISOString(),
          linkId: link.id,
        },
      });
      return link;
    },
    async portalLinks(runId) {
      return opts.auth.listPortalLinks((await queries.requireRun(runId)).id);
    },
    async revokePortalLink(input, actor) {
      const run = await queries.requireRun(input.runId);
      const { link, changed } = await opts.auth.revokePortalLink(run.id, input.linkId);
      if (changed) {
        await audit({
          actor,
          action: 'run.portal-link.revoke',
          target: run.id,
          details: { linkId: link.id, recipient: link.recipient },
        });
      }
      return link;
    },
    async notice(runId, timeZone) {
      const run = await mustRun(runId);
      const settings = await store.getClusterSettings(run.plan.cluster);
      const zone = timeZone ?? settings.schedule?.timeZone ?? 'UTC';
      try {
        return noticeText(run.plan, {
          startAt: run.scheduledAt ?? run.startedAt ?? run.createdAt,
          timeZone: zone,
        });
      } catch (err) {
        throw new ApiError(
          'BAD_REQUEST',
          `Cannot write the notice in time zone "${zone}": ${(err as Error).message}`,
        );
      }
    },
    async evidence(runId): Promise<EvidenceView> {
      const run = await mustRun(runId);
      const actions = await store.getActions(runId);
      return {
        runId,
        readiness: run.readiness,
        steps: run.plan.steps
          .map((ps) => ({
            index: ps.index,
            key: ps.key,
            title: ps.title,
            // Every result of every action, in op order: not only what an action ended with.
            results: actions
              .filter((a) => a.stepIndex === ps.index)
              .flatMap((a) =>
                a.results.map((result) => ({
                  actionId: a.id,
                  serverId: a.serverId,
                  status: a.status,
                  finishedAt: a.finishedAt,
                  result,
                })),
              ),
          }))
          .filter((s) => s.results.length > 0),
      };
    },
  };
}
