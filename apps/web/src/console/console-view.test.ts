/**
 * Renders the console with data to static HTML: the check that the page shows what an operator
 * needs (a real-browser test comes with the e2e tier).
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { INITIAL_SNAPSHOT, type Snapshot } from '../snapshot';
import { NOW, pausedRun, SERVERS } from '../testing/fixtures';
import { ConsoleView } from './console-view';

const render = (snapshot: Snapshot) => renderToStaticMarkup(createElement(ConsoleView, { snapshot }));
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

const connected: Snapshot = {
  connection: 'connected',
  version: '0.1.0',
  servers: SERVERS,
  run: pausedRun(),
  noRunYet: false,
  error: null,
  updatedAt: NOW - 1000,
  now: NOW,
};

describe('ConsoleView', () => {
  it('shows the connection, the servers and the run with its timeline', () => {
    const html = render(connected);
    const t = text(html);
    expect(html).toContain('data-connection="connected"');
    expect(t).toContain('coordinator connected');
    expect(t).toContain('v0.1.0');

    // Servers: one row each, status dot, gate, edition, heartbeat age.
    expect(html.match(/<tr data-server=/g)).toHaveLength(4);
    expect(html).toMatch(
      /data-server="stream-2".*?dot tone-warn.*?lost.*?gate-closed.*?demo-app 1\.0.*?1m 35s ago/s,
    );

    // Run: status, progress, failure, servers out of rotation.
    expect(html).toContain('data-run-status="paused"');
    expect(html).toMatch(/role="progressbar"[^>]*aria-valuemax="6"[^>]*aria-valuenow="3"/);
    expect(html).toContain('style="width:50%"');
    expect(t).toContain('3/6 steps');
    expect(t).toContain('Paused on a failure: stop demo-app on stream-2 timed out after 60 s');
    expect(t).toMatch(/Out of rotation now: admin-2 1m 10s stream-2 1m 10s/);

    // Timeline: phase banners in order, a row per step coloured by status.
    const banners = [...html.matchAll(/<h4 class="phase-banner">([^<]+)<\/h4>/g)].map((m) => m[1]);
    expect(banners).toEqual([
      'Service at risk / limited capability',
      'Limited service restored',
      'Full service restored',
    ]);
    expect(
      [...html.matchAll(/<li class="step tone-(\w+)" data-status="(\w+)"/g)].map((m) => `${m[1]}:${m[2]}`),
    ).toEqual(['ok:succeeded', 'ok:succeeded', 'ok:succeeded', 'bad:failed', 'idle:pending', 'idle:pending']);
    expect(t).toContain('group 2 · engineer · admin-2, stream-2 · 10s · attempt 2');
    expect(t).toContain("customer / administrator · waits for the customer's decision");
  });

  it('says so when there is no run yet', () => {
    const t = text(render({ ...connected, run: null, noRunYet: true }));
    expect(t).toContain('No run yet.');
    expect(t).toContain('rollgate upgrade start');
  });

  it('shows an unreachable coordinator, keeping the last data marked stale', () => {
    const html = render({
      ...connected,
      connection: 'unreachable',
      error: 'Cannot reach the coordinator at http://127.0.0.1:7400: connect ECONNREFUSED.',
    });
    expect(html).toContain('data-connection="unreachable"');
    expect(text(html)).toContain(
      'Coordinator unreachable. Cannot reach the coordinator at http://127.0.0.1:7400',
    );
    expect(text(html)).toContain('The data below is from the last successful update.');
    expect(html).toContain('class="card stale"');
  });

  it('renders the first paint (before any poll) without data', () => {
    const t = text(render(INITIAL_SNAPSHOT));
    expect(t).toContain('coordinator connecting…');
    expect(t).toContain('Loading…');
  });
});
