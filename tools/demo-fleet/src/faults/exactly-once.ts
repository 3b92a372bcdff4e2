// "Every action ran exactly once", checked from the agents' own journals (the records the agent
// fsyncs before it runs anything; format in apps/agent/src/actions/journal.ts) against the actions the
// coordinator persisted. Pure: the tests read the files and the run, this says what is wrong.

export interface JournalLine {
  t?: unknown;
  id?: unknown;
  status?: unknown;
}

export interface CoordinatorAction {
  id: string;
  serverId: string;
  status: string;
}

/** Problems found (empty: every action ran once, on its own server, with the result reported). */
export function checkExactlyOnce(
  journals: Record<string, JournalLine[]>,
  actions: CoordinatorAction[],
  opts: { runIds?: string[] } = {},
): string[] {
  const problems: string[] = [];
  const byId = new Map(actions.map((a) => [a.id, a]));
  const inRuns = (id: string) => !opts.runIds || opts.runIds.some((r) => id.startsWith(`${r}.`));
  const startedOn = new Map<string, string[]>();
  for (const [serverId, lines] of Object.entries(journals)) {
    const started = new Map<string, number>();
    const finished = new Map<string, string[]>();
    for (const l of lines) {
      if (typeof l.id !== 'string' || !inRuns(l.id)) continue;
      if (l.t === 'started') started.set(l.id, (started.get(l.id) ?? 0) + 1);
      if (l.t === 'finished') finished.set(l.id, [...(finished.get(l.id) ?? []), String(l.status)]);
    }
    for (const [id, n] of started) {
      startedOn.set(id, [...(startedOn.get(id) ?? []), serverId]);
      if (n > 1) problems.push(`${serverId} started ${id} ${n} times`);
      const known = byId.get(id);
      if (!known) problems.push(`${serverId} ran ${id}, which the coordinator never created`);
      else if (known.serverId !== serverId)
        problems.push(`${id} is for ${known.serverId} but ran on ${serverId}`);
      const fin = finished.get(id) ?? [];
      if (fin.length !== 1) problems.push(`${serverId} journaled ${fin.length} results for ${id}`);
      const coord = known?.status;
      const agentStatus = fin[0]?.toLowerCase();
      if (known && agentStatus && coord !== agentStatus && coord !== 'skipped') {
        problems.push(`${id}: the agent journaled ${agentStatus}, the coordinator recorded ${coord}`);
      }
    }
    for (const id of finished.keys())
      if (!started.has(id)) problems.push(`${serverId} finished ${id} without starting it`);
  }
  for (const a of actions) {
    if (!inRuns(a.id)) continue;
    const on = startedOn.get(a.id) ?? [];
    const ran = a.status === 'succeeded' || a.status === 'failed';
    if (ran && on.length !== 1)
      problems.push(`${a.id} is ${a.status} at the coordinator but started on ${on.length} agents`);
  }
  return problems;
}
