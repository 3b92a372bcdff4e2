/**
 * The fleet page's logic without React: which rows are on screen (the table is virtualised), which
 * pages of `servers.page` they need, the query a set of filters makes, and the health summary.
 */
import type { FleetSummary, ServerRow, ServersPageQuery } from './api-types';
import type { Tone } from './view-model';

export type SortKey = NonNullable<ServersPageQuery['sort']>;

export interface FleetFilters {
  cluster: string;
  role: string;
  status: '' | 'connected' | 'lost' | 'disconnected';
  gate: '' | 'open' | 'closed';
  q: string;
  sort: SortKey;
  desc: boolean;
}

export const NO_FILTERS: FleetFilters = {
  cluster: '',
  role: '',
  status: '',
  gate: '',
  q: '',
  sort: 'id',
  desc: false,
};

/** The `servers.page` input for one page: empty filters are left out. */
export function pageQuery(f: FleetFilters, offset: number, limit: number): ServersPageQuery {
  const q = f.q.trim();
  return {
    ...(f.cluster ? { cluster: f.cluster } : {}),
    ...(f.role ? { role: f.role } : {}),
    ...(f.status ? { status: f.status } : {}),
    ...(f.gate ? { gate: f.gate } : {}),
    ...(q ? { q } : {}),
    sort: f.sort,
    desc: f.desc,
    offset,
    limit,
  };
}

/** A stable key for a set of filters: a new key means the cached pages are of another query. */
export function filtersKey(f: FleetFilters): string {
  return JSON.stringify([f.cluster, f.role, f.status, f.gate, f.q.trim(), f.sort, f.desc]);
}

export interface RowRange {
  /** First row index to draw. */
  start: number;
  /** One past the last row index to draw. */
  end: number;
}

/** The rows a scroll position shows, plus `overscan` rows either side so a fast scroll is not blank. */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  total: number,
  overscan = 8,
): RowRange {
  if (total <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const count = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(first, total - 1) - overscan);
  const end = Math.min(total, first + count + overscan);
  return { start, end: Math.max(start, end) };
}

/** Page numbers (of `pageSize` rows) that hold the rows of a range. */
export function pagesFor(range: RowRange, pageSize: number): number[] {
  if (range.end <= range.start) return [];
  const first = Math.floor(range.start / pageSize);
  const last = Math.floor((range.end - 1) / pageSize);
  const pages: number[] = [];
  for (let p = first; p <= last; p++) pages.push(p);
  return pages;
}

/** Clicking a column header: sort by it, or flip the direction when it is already the sort. */
export function toggleSort(f: FleetFilters, key: SortKey): FleetFilters {
  return f.sort === key ? { ...f, desc: !f.desc } : { ...f, sort: key, desc: false };
}

export type ServerHealth = 'healthy' | 'unhealthy' | 'stopped' | 'unknown' | 'none';

const HEALTH_RANK: Record<ServerHealth, number> = {
  none: 0,
  healthy: 1,
  unknown: 2,
  stopped: 3,
  unhealthy: 4,
};

/** The worst health of a server's services ('none' when it manages none). */
export function serverHealth(row: Pick<ServerRow, 'services'>): ServerHealth {
  let worst: ServerHealth = 'none';
  for (const s of row.services) if (HEALTH_RANK[s.health] > HEALTH_RANK[worst]) worst = s.health;
  return worst;
}

export function healthTone(h: ServerHealth): Tone {
  return h === 'healthy' ? 'ok' : h === 'unhealthy' ? 'bad' : h === 'stopped' ? 'warn' : 'idle';
}

/** Editions installed side by side but not active (staged), per service: `demo-app 2.0`, or `—`. */
export function stagedEditions(row: Pick<ServerRow, 'services'>): string {
  const parts: string[] = [];
  for (const s of row.services) {
    const staged = s.installedEditions.filter((e) => e !== s.activeEdition);
    if (staged.length > 0) parts.push(`${s.name} ${staged.join(', ')}`);
  }
  return parts.length > 0 ? parts.join('; ') : '—';
}

export interface SummarySegment {
  key: 'connected' | 'lost' | 'disconnected';
  label: string;
  count: number;
  /** Share of the matching servers, 0-100. */
  pct: number;
  tone: Tone;
}

export interface SummaryView {
  total: number;
  /** Agent status: the three segments add up to the total. */
  agents: SummarySegment[];
  gateClosed: { count: number; pct: number };
  unhealthy: { count: number; pct: number };
}

const pctOf = (n: number, total: number) => (total > 0 ? (n / total) * 100 : 0);

/** The health summary drawn above the table, from the counts `servers.page` returns. */
export function summaryView(summary: FleetSummary, total: number): SummaryView {
  const seg = (key: SummarySegment['key'], label: string, tone: Tone): SummarySegment => ({
    key,
    label,
    count: summary[key],
    pct: pctOf(summary[key], total),
    tone,
  });
  return {
    total,
    agents: [
      seg('connected', 'connected', 'ok'),
      seg('lost', 'lost', 'warn'),
      seg('disconnected', 'disconnected', 'bad'),
    ],
    gateClosed: { count: summary.gateClosed, pct: pctOf(summary.gateClosed, total) },
    unhealthy: { count: summary.unhealthy, pct: pctOf(summary.unhealthy, total) },
  };
}

/** Server → its group in a plan (groups are formed when a plan is compiled). */
export function groupsByServer(groups: { index: number; servers: { id: string }[] }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const g of groups) for (const s of g.servers) out.set(s.id, g.index);
  return out;
}
