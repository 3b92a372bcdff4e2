'use client';

import { useCallback, useEffect, useMemo, useRef, useState, type UIEvent } from 'react';
import type { ServerRow, ServersPage } from '../api-types';
import { errorInfo } from '../errors';
import {
  filtersKey,
  groupsByServer,
  healthTone,
  NO_FILTERS,
  pageQuery,
  pagesFor,
  serverHealth,
  stagedEditions,
  summaryView,
  toggleSort,
  visibleRange,
  type FleetFilters,
  type SortKey,
} from '../fleet-model';
import { consoleClient } from '../trpc-client';
import { formatAge } from '@rollgate/domain';
import { activeEditions, agentTone } from '../view-model';
import { useNow, usePolled } from './hooks';
import { SummaryBar } from './summary-bar';

/** Fixed row height: the table draws only the rows in view, positioned by index. */
export const ROW_HEIGHT = 30;
/** Rows fetched per `servers.page` call. */
const PAGE_SIZE = 200;
const REFRESH_MS = 5000;

interface Cache {
  key: string;
  pages: Map<number, ServerRow[]>;
  inFlight: Set<number>;
}

const COLUMNS: { label: string; sort?: SortKey; className?: string }[] = [
  { label: 'Server', sort: 'id' },
  { label: 'Cluster', sort: 'cluster' },
  { label: 'Group' },
  { label: 'Role', sort: 'role' },
  { label: 'Agent', sort: 'status' },
  { label: 'Last heartbeat', sort: 'lastHeartbeatAt' },
  { label: 'Health' },
  { label: 'Gate' },
  { label: 'Active edition' },
  { label: 'Staged' },
];

export function FleetPage() {
  const [filters, setFilters] = useState<FleetFilters>(NO_FILTERS);
  const [search, setSearch] = useState('');
  const [meta, setMeta] = useState<Omit<ServersPage, 'rows'> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [, setVersion] = useState(0);
  const [view, setView] = useState({ top: 0, height: 600 });
  const cache = useRef<Cache>({ key: '', pages: new Map(), inFlight: new Set() });
  const scroller = useRef<HTMLDivElement>(null);
  const now = useNow();
  const key = filtersKey(filters);

  // The latest run's plan says which group each server of its cluster is in.
  const latest = usePolled(
    () =>
      consoleClient()
        .upgrade.status.query({})
        .catch(() => null),
    15_000,
  );
  const groups = useMemo(() => {
    const plan = latest.data?.run.plan;
    return plan ? { cluster: plan.cluster, of: groupsByServer(plan.groups) } : null;
  }, [latest.data]);

  const load = useCallback(
    async (page: number, force = false) => {
      const c = cache.current;
      if (c.inFlight.has(page) || (!force && c.pages.has(page))) return;
      c.inFlight.add(page);
      try {
        const res = await consoleClient().servers.page.query(pageQuery(filters, page * PAGE_SIZE, PAGE_SIZE));
        if (cache.current !== c) return; // the filters changed meanwhile
        c.pages.set(page, res.rows);
        const { rows: _rows, ...rest } = res;
        setMeta(rest);
        setError(null);
        setVersion((v) => v + 1);
      } catch (err) {
        if (cache.current === c) setError(errorInfo(err).message);
      } finally {
        c.inFlight.delete(page);
      }
    },
    [filters],
  );

  // New filters: a new cache, back to the top, first page at once.
  useEffect(() => {
    cache.current = { key, pages: new Map(), inFlight: new Set() };
    if (scroller.current) scroller.current.scrollTop = 0;
    setView((v) => ({ ...v, top: 0 }));
    void load(0);
  }, [key, load]);

  // Debounced search box.
  useEffect(() => {
    const t = setTimeout(() => setFilters((f) => (f.q === search ? f : { ...f, q: search })), 250);
    return () => clearTimeout(t);
  }, [search]);

  // Viewport height follows the window.
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setView((v) => ({ ...v, height: el.clientHeight }));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const total = meta?.total ?? 0;
  const range = visibleRange(view.top, view.height, ROW_HEIGHT, total);
  const neededKey = pagesFor(range, PAGE_SIZE).join(',');

  // Fetch the pages the visible rows need.
  useEffect(() => {
    for (const p of pagesOf(neededKey)) void load(p);
  }, [neededKey, load]);

  // Keep what is on screen fresh (agent status, heartbeats, gates) and the summary with it.
  useEffect(() => {
    const t = setInterval(() => {
      if (document.visibilityState === 'hidden') return;
      const pages = pagesOf(neededKey);
      for (const p of pages.length > 0 ? pages : [0]) void load(p, true);
    }, REFRESH_MS);
    return () => clearInterval(t);
  }, [neededKey, load]);

  const onScroll = (e: UIEvent<HTMLDivElement>) => {
    const top = e.currentTarget.scrollTop;
    setView((v) => (v.top === top ? v : { ...v, top }));
  };

  const rows: { index: number; row: ServerRow | undefined }[] = [];
  for (let i = range.start; i < range.end; i++) {
    rows.push({ index: i, row: cache.current.pages.get(Math.floor(i / PAGE_SIZE))?.[i % PAGE_SIZE] });
  }
  const set = (patch: Partial<FleetFilters>) => setFilters((f) => ({ ...f, ...patch }));
  const filtered = filters.cluster || filters.role || filters.status || filters.gate || filters.q;

  return (
    <section className="card" aria-labelledby="fleet-h">
      <div className="card-head">
        <h2 id="fleet-h">Fleet</h2>
        <span className="muted" data-total={meta ? total : undefined}>
          {meta
            ? `${total.toLocaleString('en')} server${total === 1 ? '' : 's'}${filtered ? ' match' : ''}`
            : 'Loading…'}
        </span>
      </div>
      {meta ? <SummaryBar summary={summaryView(meta.summary, total)} /> : null}
      <div className="filters" role="search">
        <label>
          Cluster
          <select value={filters.cluster} onChange={(e) => set({ cluster: e.target.value })} name="cluster">
            <option value="">all</option>
            {(meta?.clusters ?? []).map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          Role
          <select value={filters.role} onChange={(e) => set({ role: e.target.value })} name="role">
            <option value="">all</option>
            {(meta?.roles ?? []).map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          Agent
          <select
            value={filters.status}
            onChange={(e) => set({ status: e.target.value as FleetFilters['status'] })}
            name="status"
          >
            <option value="">all</option>
            <option value="connected">connected</option>
            <option value="lost">lost</option>
            <option value="disconnected">disconnected</option>
          </select>
        </label>
        <label>
          Gate
          <select
            value={filters.gate}
            onChange={(e) => set({ gate: e.target.value as FleetFilters['gate'] })}
            name="gate"
          >
            <option value="">all</option>
            <option value="open">open</option>
            <option value="closed">closed</option>
          </select>
        </label>
        <label className="grow">
          Search
          <input
            type="search"
            name="q"
            placeholder="server, host, role or edition"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </label>
        {filtered ? (
          <button
            type="button"
            className="btn btn-quiet"
            onClick={() => {
              setSearch('');
              setFilters((f) => ({ ...NO_FILTERS, sort: f.sort, desc: f.desc }));
            }}
          >
            Clear filters
          </button>
        ) : null}
      </div>
      {error ? (
        <div className="alert alert-bad" role="alert">
          {error}
        </div>
      ) : null}
      <div className="vt">
        <div className="vt-inner" role="table" aria-label="servers" aria-rowcount={total + 1}>
          <div className="vt-row vt-head" role="row">
            {COLUMNS.map((c) => (
              <div
                key={c.label}
                role="columnheader"
                className="vt-cell"
                aria-sort={
                  c.sort && filters.sort === c.sort ? (filters.desc ? 'descending' : 'ascending') : undefined
                }
              >
                {c.sort ? (
                  <button
                    type="button"
                    className="sort"
                    onClick={() => setFilters((f) => toggleSort(f, c.sort!))}
                  >
                    {c.label}
                    {filters.sort === c.sort ? (filters.desc ? ' ▾' : ' ▴') : ''}
                  </button>
                ) : (
                  c.label
                )}
              </div>
            ))}
          </div>
          <div className="vt-body" ref={scroller} onScroll={onScroll}>
            {meta && total === 0 ? (
              <p className="empty pad">
                {filtered
                  ? 'No server matches these filters.'
                  : 'No servers have registered yet. Start an agent pointed at this coordinator.'}
              </p>
            ) : null}
            <div className="vt-space" style={{ height: total * ROW_HEIGHT }}>
              {rows.map(({ index, row }) =>
                row ? (
                  <div
                    key={row.id}
                    className="vt-row"
                    role="row"
                    aria-rowindex={index + 2}
                    data-server={row.id}
                    style={{ transform: `translateY(${index * ROW_HEIGHT}px)` }}
                  >
                    <div role="cell" className="vt-cell mono">
                      {row.id}
                    </div>
                    <div role="cell" className="vt-cell">
                      {row.cluster}
                    </div>
                    <div role="cell" className="vt-cell num">
                      {groups && groups.cluster === row.cluster ? (groups.of.get(row.id) ?? '—') : '—'}
                    </div>
                    <div role="cell" className="vt-cell">
                      {row.role}
                    </div>
                    <div role="cell" className="vt-cell">
                      <span className={`dot tone-${agentTone(row.status)}`} aria-hidden="true" />
                      {row.status}
                      {row.insecure ? (
                        <span
                          className="badge tone-bad insecure"
                          title="This agent's stream is plaintext (--insecure): no mTLS"
                        >
                          insecure
                        </span>
                      ) : null}
                    </div>
                    <div role="cell" className="vt-cell num">
                      {formatAge(row.lastHeartbeatAt, now)}
                    </div>
                    <div role="cell" className="vt-cell">
                      <HealthCell row={row} />
                    </div>
                    <div role="cell" className="vt-cell">
                      <span className={`gate ${row.gateOpen ? 'gate-open' : 'gate-closed'}`}>
                        {row.gateOpen ? 'open' : 'closed'}
                      </span>
                    </div>
                    <div role="cell" className="vt-cell mono">
                      {activeEditions(row)}
                    </div>
                    <div role="cell" className="vt-cell mono muted">
                      {stagedEditions(row)}
                    </div>
                  </div>
                ) : (
                  <div
                    key={`i${index}`}
                    className="vt-row vt-loading"
                    role="row"
                    aria-rowindex={index + 2}
                    style={{ transform: `translateY(${index * ROW_HEIGHT}px)` }}
                  >
                    <div role="cell" className="vt-cell muted">
                      …
                    </div>
                  </div>
                ),
              )}
            </div>
          </div>
        </div>
      </div>
    </section>
  );
}

const pagesOf = (key: string): number[] => (key === '' ? [] : key.split(',').map(Number));

function HealthCell({ row }: { row: ServerRow }) {
  const h = serverHealth(row);
  return (
    <span
      className={`badge tone-${healthTone(h)}`}
      title={row.services.map((s) => `${s.name}: ${s.health}`).join(', ')}
    >
      {h === 'none' ? 'no service' : h}
    </span>
  );
}
