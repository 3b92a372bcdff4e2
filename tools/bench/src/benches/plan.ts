import { compileMinorUpgrade, type ServerRef } from '@rollgate/domain';
import { atMost, median, round, type BenchResult, type Figure } from '../lib/figures';

export function fleet(n: number, roles = 2): ServerRef[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `s${String(i).padStart(5, '0')}`,
    cluster: 'bench',
    role: `role${i % roles}`,
  }));
}

export const edition = { app: 'app', name: '2.0', sha256: 'a'.repeat(64), size: 1 };

/** Plan compilation (validation, grouping, capacity-floor simulation) for fleets of growing size. */
export function benchPlan(): BenchResult {
  const figures: Figure[] = [];
  for (const n of [100, 1000, 10_000]) {
    const servers = fleet(n);
    const times: number[] = [];
    let named = 0;
    let steps = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const plan = compileMinorUpgrade({
        cluster: 'bench',
        service: 'app',
        servers,
        toEdition: edition,
        drainMs: 0,
      });
      times.push(performance.now() - t0);
      steps = plan.steps.length;
      named = plan.steps.reduce((s, x) => s + x.servers.length, 0);
    }
    const f: Figure = {
      bench: 'plan',
      case: `compile ${n} servers`,
      value: round(median(times), 1),
      unit: 'ms',
      note: `median of 5 (first ${round(times[0]!, 0)} ms); ${steps} steps naming ${named} servers`,
    };
    figures.push(n === 10_000 ? atMost(f, 200, '≤ 200 ms') : f);
  }
  return {
    figures,
    method:
      'compileMinorUpgrade() in this process on a 2-role fleet (servers/2 groups), 5 runs each, median; ' +
      'includes input validation, the op schema backstop and the capacity-floor simulation.',
  };
}
