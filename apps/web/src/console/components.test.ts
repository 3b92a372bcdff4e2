/**
 * Renders the console's presentational components with data to static HTML: the check that each
 * shows what an operator needs (the real-browser scenario is src/e2e/console.int.test.ts).
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { groupEditions } from '../editions-model';
import { summaryView } from '../fleet-model';
import { NOW, pausedRun, planPreview } from '../testing/fixtures';
import type { PlanPreview } from '../api-types';
import { AppTable } from './editions-page';
import { PlanView } from './plan-view';
import { RunChart } from './run-chart';
import { RunPanel } from './run-panel';
import { StepTimeline } from './step-timeline';
import { SummaryBar } from './summary-bar';

const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

describe('RunPanel', () => {
  it('shows the run: status, progress, failure and the servers out of rotation', () => {
    const html = renderToStaticMarkup(createElement(RunPanel, { view: pausedRun(), now: NOW }));
    const t = text(html);
    expect(html).toContain('data-run-status="paused"');
    expect(html).toMatch(/role="progressbar"[^>]*aria-valuemax="6"[^>]*aria-valuenow="3"/);
    expect(html).toContain('style="width:50%"');
    expect(t).toContain('3/6 steps');
    expect(t).toContain('Paused on a failure: stop demo-app on stream-2 timed out after 60 s');
    expect(t).toMatch(/Out of rotation now: admin-2 1m 10s stream-2 1m 10s/);
    expect(html).toContain('data-current-step="3"');
  });
});

describe('StepTimeline', () => {
  it('lists the steps under their phase banners, coloured by status', () => {
    const html = renderToStaticMarkup(createElement(StepTimeline, { steps: pausedRun().steps, now: NOW }));
    const banners = [...html.matchAll(/<h4 class="phase-banner">([^<]+)<\/h4>/g)].map((m) => m[1]);
    expect(banners).toEqual([
      'Service at risk / limited capability',
      'Limited service restored',
      'Full service restored',
    ]);
    expect(
      [...html.matchAll(/<li class="step tone-(\w+)" data-status="(\w+)"/g)].map((m) => `${m[1]}:${m[2]}`),
    ).toEqual(['ok:succeeded', 'ok:succeeded', 'ok:succeeded', 'bad:failed', 'idle:pending', 'idle:pending']);
    expect(text(html)).toContain('group 2 · engineer · admin-2, stream-2 · 10s · attempt 2');
  });
});

describe('RunChart', () => {
  it('draws one SVG cell per step on its group row, coloured by status, the current one marked', () => {
    const view = pausedRun();
    const html = renderToStaticMarkup(createElement(RunChart, { steps: view.steps, currentIndex: 3 }));
    expect(html).toContain('<svg');
    const cells = [
      ...html.matchAll(/<g class="cell tone-(\w+)( current)?" data-step="(\d)" data-status="(\w+)"/g),
    ];
    expect(cells.map((m) => `${m[3]}:${m[4]}:${m[1]}${m[2] ? '*' : ''}`)).toEqual([
      '0:succeeded:ok',
      '1:succeeded:ok',
      '2:succeeded:ok',
      '3:failed:bad*',
      '4:pending:idle',
      '5:pending:idle',
    ]);
    // Rows: "all" (the sign-off) and the two groups.
    expect([...html.matchAll(/class="row-label">([^<]+)</g)].map((m) => m[1])).toEqual([
      'all',
      'group 1',
      'group 2',
    ]);
  });
});

describe('SummaryBar', () => {
  it('draws the agent status as segments and counts gates closed and unhealthy servers', () => {
    const html = renderToStaticMarkup(
      createElement(SummaryBar, {
        summary: summaryView({ connected: 3, lost: 1, disconnected: 0, gateClosed: 2, unhealthy: 1 }, 4),
      }),
    );
    expect(html).toContain('style="width:75%" title="3 connected" data-segment="connected"');
    expect(html).toContain('style="width:25%" title="1 lost" data-segment="lost"');
    expect(html).not.toContain('data-segment="disconnected"');
    const t = text(html);
    expect(t).toContain('3 connected');
    expect(t).toMatch(/Gate closed 2 of 4/);
    expect(t).toMatch(/Unhealthy 1 of 4/);
  });
});

describe('PlanView', () => {
  it('shows the windows (seed and learned), the readiness gates and the steps under phase banners', () => {
    const html = renderToStaticMarkup(createElement(PlanView, { plan: planPreview() }));
    const t = text(html);
    expect(t).toContain('Announced window service at risk 40 min , no downtime');
    expect(t).toContain('Learned service at risk 12 min');
    expect(html).toContain('data-gate="contacts" data-gate-status="unmet"');
    expect(t).toContain('Give the contacts');
    expect([...html.matchAll(/<h4 class="phase-banner">([^<]+)<\/h4>/g)].map((m) => m[1])).toEqual([
      'Pre-upgrade requirements',
      'Service at risk / limited capability',
    ]);
    expect(html).toMatch(/who-customer/);
  });

  it('says how a rollout replaces the edition: grouped, atomic, or a lone server side by side', () => {
    const rollout = (opts: Partial<NonNullable<PlanPreview['rollout']>>, groups = planPreview().groups) =>
      text(
        renderToStaticMarkup(
          createElement(PlanView, {
            plan: {
              ...planPreview(),
              procedure: 'rollout',
              groups,
              rollout: {
                strategy: 'grouped',
                groupSize: 2,
                reset: 'soft',
                drainageIntervalSec: 1,
                fastPath: false,
                ...opts,
              },
            },
          }),
        ),
      );
    expect(rollout({})).toContain('Rollout grouped, groups of 2, soft reset, drainage 1 s');
    const atomic = rollout({ strategy: 'atomic' });
    expect(atomic).toContain('Rollout atomic, two halves switched in one load-balancer exchange');
    expect(atomic).not.toContain('side by side');
    const solo = [{ index: 1, servers: [{ id: 'solo-1', cluster: 'prod', role: 'web' }] }];
    const beside = rollout({ groupSize: 1, beside: true }, solo);
    expect(beside).toContain('Rollout side by side');
    expect(beside).toContain(
      'The single server solo-1 is rolled out side by side: a second instance of the new edition starts beside it and serves while the server itself is upgraded',
    );
  });
});

describe('AppTable (editions)', () => {
  it('shows a VALIDATING edition in its own tone, with the servers its clone runs on', () => {
    const edition = (name: string, createdAt: number) => ({
      app: 'demo-app',
      name,
      sha256: 'a'.repeat(64),
      size: 1,
      createdAt,
      createdBy: 'op',
    });
    const state = (
      name: string,
      st: 'ACTIVE' | 'INACTIVE' | 'VALIDATING',
      activeOn: number,
      cloneOn: number,
    ) => ({
      app: 'demo-app',
      edition: name,
      cluster: 'demo',
      state: st,
      activeOn,
      installedOn: 4,
      cloneOn,
      servers: 4,
    });
    const [app] = groupEditions(
      [edition('1.0', 1), edition('2.0', 2), edition('3.0', 3)],
      [state('1.0', 'ACTIVE', 4, 0), state('2.0', 'VALIDATING', 0, 2), state('3.0', 'INACTIVE', 0, 0)],
    );
    const html = renderToStaticMarkup(createElement(AppTable, { app: app! }));
    const cell = (e: string) => html.split(`data-edition="${e}"`)[1]!.split('</tr>')[0]!;
    expect(cell('2.0')).toContain('data-state="VALIDATING"');
    expect(cell('2.0')).toContain('badge tone-pilot');
    expect(text(cell('2.0'))).toContain('VALIDATING active 0/4 · installed 4/4 · clone on 2');
    expect(cell('1.0')).toContain('badge tone-ok');
    expect(cell('3.0')).toContain('badge tone-idle');
    expect(text(cell('3.0'))).not.toContain('clone on');
  });
});
