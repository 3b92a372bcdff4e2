// `npm run bench -- vs-ansible`: Rollgate and the peer baseline's Ansible playbook
// (../shared/peer-ansible: `serial: 1` + community.general.haproxy drain) side by side on the same
// 4-server fleet (svc.js, 1 s start-up) behind the same HAProxy configuration, in interleaved trials
// with no load, keep-alive load and Connection: close load (wrk + editions.lua, as run.sh). Then a
// gate-only variant: 6 servers in 3 groups, HAProxy checks every 500 ms. Issue 18, item 6.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { atLeast, atMost, median, round, type BenchResult, type Figure } from '../lib/figures';
import { tempDir } from '../lib/proc';
import { ansibleTrial, haproxyModulePresent, type AnsibleTrial } from './vs-ansible-ansible';
import { checkPeerDir, DEFAULT_PEER_DIR, ensureTools, type Load } from './vs-ansible-fleet';
import { PHASES, type GroupPhases, type PhaseName } from './vs-ansible-phases';
import {
  agentBundle,
  findCli,
  rollgateTrial,
  startRollgateFleet,
  type RollgateTrial,
} from './vs-ansible-rollgate';

export interface VsAnsibleOptions {
  /** Trials per load and tool; default 1. */
  trials: number;
  /** Loads, in the order each round runs them; default none, keepalive, close. */
  loads: Load[];
  /** Rollgate only (no Ansible trials); default false. */
  skipAnsible: boolean;
  /** Gate-only trials (6 servers, 3 groups); 0 skips the variant; default 1. */
  gateTrials: number;
  /** The peer baseline's folder; default ../shared/peer-ansible. */
  peerDir?: string;
  /** The cluster's readmitTimeoutMs; default 3000 (the issue's measurement). */
  readmitTimeoutMs: number;
}

/** Rollgate's targets per load (issue 18): wall ≤ this × intrinsic. */
const INTRINSIC_TARGET: Record<Load, number> = { none: 1.3, keepalive: 1.6, close: 1.6 };
const DRAINAGE_S = 5;

const LOAD_NAME: Record<Load, string> = {
  none: 'no load',
  keepalive: 'keep-alive',
  close: 'Connection: close',
};

const range = (xs: number[]) =>
  xs.length === 0 ? '–' : `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const load1 = () => round(loadavg()[0]!, 2);

export async function benchVsAnsible(opts: VsAnsibleOptions): Promise<BenchResult> {
  const peerDir = opts.peerDir ?? DEFAULT_PEER_DIR;
  checkPeerDir(peerDir);
  ensureTools();
  const moduleNote = haproxyModulePresent()
    ? "community.general.haproxy from Debian's ansible package"
    : "community.general.haproxy NOT found in Debian's ansible: the Ansible trials will fail; install the collection REPORT.md used (community.general 6.6.2)";
  const cli = findCli();
  process.stderr.write(`vs-ansible: CLI ${cli.kind} (${cli.describe}); ${moduleNote}\n`);
  const work = tempDir('vs-ansible');
  const loadAvgStart = load1();

  // Every rollout goes to a new edition: 1.0 is installed, then 2.0, 3.0, …
  const bundle = await agentBundle(join(work.path, 'agent'));
  const rollouts = opts.trials * opts.loads.length;
  const editions = Array.from({ length: rollouts + 1 }, (_, i) => `${i + 1}.0`);
  const fleet = await startRollgateFleet({
    dir: join(work.path, 'rollgate'),
    peerDir,
    cluster: 'peer',
    servers: 4,
    editions,
    mode: 'haproxy-runtime',
    interMs: 1000,
    fall: 2,
    rise: 2,
    readmitTimeoutMs: opts.readmitTimeoutMs,
    agentBundle: bundle,
  });
  const rg: Record<Load, RollgateTrial[]> = { none: [], keepalive: [], close: [] };
  const ans: Record<Load, AnsibleTrial[]> = { none: [], keepalive: [], close: [] };
  const trialLog: Record<string, unknown>[] = [];
  let n = 0;
  for (let t = 1; t <= opts.trials; t++) {
    for (const load of opts.loads) {
      n++;
      // Interleaved, and who goes first alternates: neither tool always meets the machine warmer.
      const order = opts.skipAnsible
        ? ['rollgate']
        : t % 2 === 1
          ? ['ansible', 'rollgate']
          : ['rollgate', 'ansible'];
      for (const tool of order) {
        const la = load1();
        process.stderr.write(`vs-ansible: trial ${t} ${load} ${tool} (load average ${la})…\n`);
        if (tool === 'ansible') {
          const r = await ansibleTrial(
            peerDir,
            join(work.path, `ansible-t${String(n).padStart(2, '0')}-${load}`),
            load,
          );
          ans[load].push(r);
          trialLog.push({ tool, trial: t, kind: load, loadAverage: la, ...r });
        } else {
          const r = await rollgateTrial(
            fleet,
            cli,
            peerDir,
            { cluster: 'peer', edition: editions[n]!, groupSize: 1, drainageIntervalSec: DRAINAGE_S },
            load,
          );
          rg[load].push(r);
          trialLog.push({ tool, trial: t, kind: load, loadAverage: la, ...r });
        }
      }
    }
  }
  await fleet.stop();

  const figures: Figure[] = [];
  for (const load of opts.loads) {
    figures.push(...loadFigures(load, rg[load], ans[load], opts.skipAnsible));
  }
  process.stderr.write(`${issueTable(opts.loads, rg, ans)}\n`);

  // Gate-only: 6 servers in 3 groups of 2, HAProxy checking every 500 ms (service check and
  // agent-check), no runtime API: the engine waits what the checks need and no more.
  const gate: RollgateTrial[] = [];
  if (opts.gateTrials > 0) {
    const interMs = 500;
    const fall = 2;
    const rise = 2;
    const gateEditions = Array.from({ length: opts.gateTrials + 1 }, (_, i) => `${i + 1}.0`);
    const gf = await startRollgateFleet({
      dir: join(work.path, 'gate'),
      peerDir,
      cluster: 'gate',
      servers: 6,
      editions: gateEditions,
      mode: 'gate-only',
      interMs,
      fall,
      rise,
      readmitTimeoutMs: opts.readmitTimeoutMs,
      agentBundle: bundle,
    });
    for (let t = 1; t <= opts.gateTrials; t++) {
      const la = load1();
      process.stderr.write(`vs-ansible: gate-only trial ${t} (load average ${la})…\n`);
      const r = await rollgateTrial(
        gf,
        cli,
        peerDir,
        { cluster: 'gate', edition: gateEditions[t]!, groupSize: 2, drainageIntervalSec: DRAINAGE_S },
        'none',
      );
      gate.push(r);
      trialLog.push({
        tool: 'rollgate',
        variant: 'gate-only',
        trial: t,
        kind: 'none',
        loadAverage: la,
        ...r,
      });
    }
    await gf.stop();
    const intrinsic = median(gate.map((g) => g.intrinsicS));
    const targetS = (3 * (fall + rise + 1) * interMs) / 1000 + intrinsic;
    const walls = gate.map((g) => g.wallS);
    figures.push(
      atMost(
        {
          bench: 'vs-ansible gate-only',
          case: '6 servers, 3 groups of 2, checks every 500 ms: Rollgate wall (median)',
          value: round(median(walls), 2),
          unit: 's',
          note: `range ${range(walls)} s over ${walls.length}; intrinsic (Σ stop + start-to-ready) ${intrinsic.toFixed(2)} s; run itself ${median(gate.map((g) => g.runS ?? NaN)).toFixed(2)} s`,
        },
        targetS,
        `≤ 3 × (fall + rise + 1) × inter + intrinsic = ${targetS.toFixed(2)} s`,
      ),
      ...phaseFigures('vs-ansible gate-only', gate, 3),
    );
  }

  return {
    figures,
    method:
      `The fleet of ${peerDir} (REPORT.md): svc.js (1 s start-up) on 4 servers behind HAProxy with run.sh's configuration ` +
      '(option httpchk GET /health, inter 1s fall 2 rise 2, runtime socket at level admin). Ansible: a fresh fleet per trial ' +
      "on inventory.ini's ports, `ansible-playbook rolling.yml -e work_dir=…` as given (serial: 1, " +
      `${moduleNote}), under a child subreaper as run.sh runs it; wall = around ansible-playbook. Rollgate: one real coordinator ` +
      "at its unit's Nice= (its embedded PostgreSQL at 0) and 4 real agents (the bundle, with its systemd unit's node flags and Nice=) " +
      'running svc.js as their service, lb configure haproxy-runtime ' +
      `(readmitTimeoutMs ${opts.readmitTimeoutMs}), each trial rolls to a new edition with \`rollgate edition rollout --group-size 1 ` +
      `--drainage-interval ${DRAINAGE_S} --wait\` (${cli.kind}: ${cli.describe}); wall = around the CLI process. Loads: wrk -t2 -c8 ` +
      '--timeout 5s -s editions.lua (keep-alive, or -- close), started 2 s before and stopped (SIGINT) 2 s after; failed = ' +
      "non-2xx + socket errors. Intrinsic = Σ over servers of (exit − SIGTERM) + (ready − process start) from svc.js's own log. " +
      'Trials interleaved per load, the first tool alternating. Phases from the run log and view (see tools/bench/README.md). ' +
      `Load average (1 min) ${loadAvgStart} at the start, ${load1()} at the end; the machine is shared, figures are indicative.`,
    details: { cli: cli.describe, trials: trialLog },
  };
}

/** The issue's side-by-side table (Markdown), for the README. */
function issueTable(
  loads: Load[],
  rg: Record<Load, RollgateTrial[]>,
  ans: Record<Load, AnsibleTrial[]>,
): string {
  const med = (xs: number[]) => (xs.length > 0 ? median(xs) : NaN);
  const wall = (xs: number[]) => (xs.length > 0 ? `${med(xs).toFixed(1)} s (${range(xs)})` : '–');
  const rows = loads.map((load) => {
    const rw = rg[load].map((r) => r.wallS);
    const aw = ans[load].map((a) => a.wallS);
    const intrinsic = med(rg[load].map((r) => r.intrinsicS));
    const failed = (xs: { load: { failed: number } | null }[]) =>
      load === 'none' ? '–' : String(sum(xs.map((x) => x.load?.failed ?? 0)));
    return `| ${LOAD_NAME[load]} (${rw.length}) | ${intrinsic.toFixed(1)} s | ${wall(aw)} | ${wall(rw)} | ${(med(rw) / intrinsic).toFixed(1)} × | ${aw.length > 0 ? `${(med(aw) / med(rw)).toFixed(1)} ×` : '–'} | ${failed(rg[load])} / ${ans[load].length > 0 ? failed(ans[load]) : '–'} |`;
  });
  return [
    '| load (trials each) | Rollgate intrinsic, median | Ansible wall, median (range) | Rollgate wall, median (range) | Rollgate / intrinsic | Ansible / Rollgate | failed requests Rollgate / Ansible |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

function loadFigures(load: Load, rg: RollgateTrial[], ans: AnsibleTrial[], skipAnsible: boolean): Figure[] {
  const bench = `vs-ansible ${LOAD_NAME[load]}`;
  const rw = rg.map((r) => r.wallS);
  const aw = ans.map((a) => a.wallS);
  const intrinsic = median(rg.map((r) => r.intrinsicS));
  const figures: Figure[] = [
    {
      bench,
      case: 'Rollgate wall (median)',
      value: round(median(rw), 2),
      unit: 's',
      note: `range ${range(rw)} s over ${rw.length}; the run itself ${median(rg.map((r) => r.runS ?? NaN)).toFixed(2)} s`,
    },
    {
      bench,
      case: 'Rollgate intrinsic: Σ stop + start-to-ready (median)',
      value: round(intrinsic, 2),
      unit: 's',
      note: ans.length > 0 ? `Ansible's trials: ${median(ans.map((a) => a.intrinsicS)).toFixed(2)} s` : '',
    },
    atMost(
      { bench, case: 'Rollgate wall / intrinsic', value: round(median(rw) / intrinsic, 2), unit: '×' },
      INTRINSIC_TARGET[load],
      `≤ ${INTRINSIC_TARGET[load]} ×`,
    ),
  ];
  if (!skipAnsible && ans.length > 0) {
    figures.push(
      {
        bench,
        case: 'Ansible wall (median)',
        value: round(median(aw), 2),
        unit: 's',
        note: `range ${range(aw)} s over ${aw.length}; ansible-playbook start-up ${median(ans.map((a) => a.startupS ?? NaN)).toFixed(2)} s`,
      },
      atLeast(
        { bench, case: 'Ansible wall / Rollgate wall', value: round(median(aw) / median(rw), 2), unit: '×' },
        3,
        '≥ 3 ×',
      ),
    );
  }
  if (load !== 'none') {
    const rf = sum(rg.map((r) => r.load?.failed ?? 0));
    const rq = sum(rg.map((r) => r.load?.requests ?? 0));
    figures.push(
      atMost(
        {
          bench,
          case: 'Rollgate failed requests (all trials)',
          value: rf,
          unit: 'requests',
          note: `of ${rq}; ${JSON.stringify(rg.map((r) => r.load?.errors))}`,
        },
        0,
        '0',
      ),
    );
    if (ans.length > 0) {
      figures.push({
        bench,
        case: 'Ansible failed requests (all trials)',
        value: sum(ans.map((a) => a.load?.failed ?? 0)),
        unit: 'requests',
        note: `of ${sum(ans.map((a) => a.load?.requests ?? 0))}`,
      });
    }
  }
  const wrong = [...rg, ...ans].filter((r) => r.served.length !== 1);
  if (wrong.length > 0) {
    figures.push({
      bench,
      case: 'trials whose LB served other than the new edition after the rollout',
      value: wrong.length,
      unit: 'trials',
      note: JSON.stringify(wrong.map((w) => w.served)),
    });
  }
  figures.push(...phaseFigures(bench, rg, 4));
  return figures;
}

/** Rollgate's per-phase medians (seconds per rollout) and the engine's own share per group. */
function phaseFigures(bench: string, trials: RollgateTrial[], groups: number): Figure[] {
  if (trials.length === 0) return [];
  const src = trials[0]!.phases.source;
  const perGroupKey: Partial<Record<PhaseName, keyof GroupPhases>> = {
    'LB reaction': 'LB reaction',
    drain: 'drain',
    stop: 'stop',
    'start-to-ready': 'start-to-ready',
    're-admission': 're-admission',
    'engine share': 'engine',
  };
  const figures: Figure[] = PHASES.map((p: PhaseName) => {
    const key = perGroupKey[p];
    const groupsNote = key
      ? `per group ${trials[0]!.phases.perGroup.map((g) => (g[key] as number).toFixed(2)).join(' / ')} s (first trial); `
      : '';
    return {
      bench,
      case: `Rollgate phase: ${p} (median${key ? ', Σ over groups' : ''})`,
      value: round(median(trials.map((t) => t.phases.totals[p])), 2),
      unit: 's',
      note: `${groupsNote}from ${src}`,
    };
  });
  const share = median(trials.flatMap((t) => t.phases.perGroup.map((g) => g.engine)));
  const groupsAll = trials.flatMap((t) => t.phases.perGroup);
  const split = groupsAll.every((g) => g.agentOverhead !== undefined && g.engineOwn !== undefined)
    ? `; of which the agent beyond the service's own stop and start ${Math.round(median(groupsAll.map((g) => g.agentOverhead!)) * 1000)} ms, re-admission ${Math.round(median(groupsAll.map((g) => g['re-admission'])) * 1000)} ms, the engine's own (its timing line) with the gap to the next step ${Math.round(median(groupsAll.map((g) => g.engineOwn!)) * 1000)} ms (medians)`
    : '';
  figures.push(
    atMost(
      {
        bench,
        case: "Rollgate engine's own share per group (median)",
        value: round(share * 1000, 0),
        unit: 'ms',
        note: `${groups} groups; everything in a group but LB reaction, drain, stop, start-to-ready${split}`,
      },
      100,
      '≤ 100 ms',
    ),
  );
  return figures;
}
