/**
 * Renders the console's presentational components with data to static HTML: the check that each
 * shows what an operator needs (the real-browser scenario is src/e2e/console.int.test.ts).
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { summaryView } from '../fleet-model';
import { NOW, pausedRun, planPreview } from '../testing/fixtures';
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
});
