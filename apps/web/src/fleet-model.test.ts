import { describe, expect, it } from 'vitest';
import {
  filtersKey,
  groupsByServer,
  NO_FILTERS,
  pageQuery,
  pagesFor,
  serverHealth,
  stagedEditions,
  summaryView,
  toggleSort,
  visibleRange,
} from './fleet-model';
import { serverRow } from './testing/fixtures';

describe('virtualised rows', () => {
  it('draws only the rows in view plus the overscan, clamped to the fleet', () => {
    // 10,000 rows of 30 px, a 600 px viewport scrolled to row 5000.
    expect(visibleRange(150_000, 600, 30, 10_000, 8)).toEqual({ start: 4992, end: 5029 });
    expect(visibleRange(0, 600, 30, 10_000, 8)).toEqual({ start: 0, end: 29 });
    expect(visibleRange(0, 600, 30, 4, 8)).toEqual({ start: 0, end: 4 });
    // Scrolled past the end (the fleet shrank under a filter): still a valid range.
    expect(visibleRange(900_000, 600, 30, 10, 2)).toEqual({ start: 7, end: 10 });
    expect(visibleRange(0, 600, 30, 0)).toEqual({ start: 0, end: 0 });
  });

  it('asks for the pages that hold those rows', () => {
    expect(pagesFor({ start: 4992, end: 5029 }, 200)).toEqual([24, 25]);
    expect(pagesFor({ start: 0, end: 29 }, 200)).toEqual([0]);
    expect(pagesFor({ start: 0, end: 0 }, 200)).toEqual([]);
  });
});

describe('the servers.page query', () => {
  it('leaves empty filters out and trims the search', () => {
    expect(pageQuery(NO_FILTERS, 0, 200)).toEqual({ sort: 'id', desc: false, offset: 0, limit: 200 });
    expect(
      pageQuery(
        { ...NO_FILTERS, cluster: 'demo', role: 'admin', status: 'lost', gate: 'closed', q: ' adm ' },
        400,
        200,
      ),
    ).toEqual({
      cluster: 'demo',
      role: 'admin',
      status: 'lost',
      gate: 'closed',
      q: 'adm',
      sort: 'id',
      desc: false,
      offset: 400,
      limit: 200,
    });
  });

  it('keys the cache by the filters and flips the sort on a second click', () => {
    expect(filtersKey(NO_FILTERS)).toBe(filtersKey({ ...NO_FILTERS, q: '  ' }));
    expect(filtersKey(NO_FILTERS)).not.toBe(filtersKey({ ...NO_FILTERS, role: 'admin' }));
    const byRole = toggleSort(NO_FILTERS, 'role');
    expect(byRole).toMatchObject({ sort: 'role', desc: false });
    expect(toggleSort(byRole, 'role')).toMatchObject({ sort: 'role', desc: true });
  });
});

describe('server facts', () => {
  it('reports the worst health of the services and the staged editions', () => {
    const svc = serverRow().services[0]!;
    expect(serverHealth(serverRow())).toBe('healthy');
    expect(serverHealth(serverRow({ services: [] }))).toBe('none');
    expect(
      serverHealth(
        serverRow({
          services: [svc, { ...svc, name: 'b', health: 'unhealthy' }, { ...svc, health: 'stopped' }],
        }),
      ),
    ).toBe('unhealthy');
    expect(stagedEditions(serverRow())).toBe('—');
    expect(stagedEditions(serverRow({ services: [{ ...svc, installedEditions: ['1.0', '2.0'] }] }))).toBe(
      'demo-app 2.0',
    );
  });

  it('maps servers to their plan group', () => {
    const g = groupsByServer([
      { index: 1, servers: [{ id: 'a' }, { id: 'b' }] },
      { index: 2, servers: [{ id: 'c' }] },
    ]);
    expect([...g]).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 2],
    ]);
  });
});

describe('summaryView', () => {
  it('turns the counts into segments that add up to the total', () => {
    const v = summaryView(
      { connected: 9000, lost: 900, disconnected: 100, gateClosed: 50, unhealthy: 5 },
      10_000,
    );
    expect(v.agents.map((a) => [a.key, a.count, a.pct])).toEqual([
      ['connected', 9000, 90],
      ['lost', 900, 9],
      ['disconnected', 100, 1],
    ]);
    expect(v.gateClosed).toEqual({ count: 50, pct: 0.5 });
    expect(
      summaryView({ connected: 0, lost: 0, disconnected: 0, gateClosed: 0, unhealthy: 0 }, 0).agents[0]!.pct,
    ).toBe(0);
  });
});
