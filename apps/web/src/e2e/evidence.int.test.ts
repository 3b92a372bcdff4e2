/**
 * The live run page's evidence view in a real browser (issue 15 item 4): a fleet of two web
 * servers behind a real HAProxy, with a test machine that runs the functionality tests through it,
 * and the BUILT console. Every result the run recorded is a row of the evidence view, one per result
 * (not one per action, not only the last), in the words `rollgate upgrade evidence` prints.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeActionResult } from '@rollgate/domain';
import {
  behindHaproxy,
  freePort,
  startFleet,
  waitFor,
  type Fleet,
  type FleetHaproxy,
} from '@rollgate/demo-fleet';
import {
  assertConsoleBuilt,
  launchChromium,
  signInThroughForm,
  startNextConsole,
  stopNextConsole,
} from './next-console';

describe('the evidence view on the live run page (issue 15 item 4)', { timeout: 180_000 }, () => {
  let dir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  let next: ChildProcess | null = null;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    assertConsoleBuilt();
    dir = await mkdtemp(join(tmpdir(), 'rollgate-evidence-'));
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      testMachine: true,
      agents: [
        { id: 'web-1', role: 'web' },
        { id: 'web-2', role: 'web' },
      ],
    });
    lb = await behindHaproxy(fleet);
    await fleet.api.cluster.configure.mutate({
      cluster: 'demo',
      settings: {
        tests: {
          testMachine: fleet.testMachineId!,
          baseUrl: lb.front,
          probes: [{ kind: 'http', name: 'health', path: '/health', bodyContains: 'ok' }],
        },
      },
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    next = await startNextConsole({ coordinatorUrl: fleet.url, port, timeoutMs: 30_000 });
    browser = await launchChromium();
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await stopNextConsole(next);
    await lb?.stop();
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('issue 15 item 4: lists every recorded result of the run, one row each, as the API and the CLI give them', async () => {
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      drainageIntervalSec: 0,
    });
    const runId = start.run.id;
    await waitFor(
      `run ${runId} to wait for its sign-off`,
      async () => {
        const { run } = await fleet.api.upgrade.status.query({ runId });
        if (['paused', 'failed', 'aborted'].includes(run.status))
          throw new Error(`run ${run.status}: ${run.failure}`);
        return run.status === 'waiting-approval' || run.status === 'succeeded';
      },
      150_000,
      250,
    );
    const evidence = await fleet.api.upgrade.evidence.query({ runId });
    const expected = evidence.steps.flatMap((s) =>
      s.results.map((r) => `${r.serverId} ${describeActionResult(r.result)}`),
    );
    // The functionality tests ran from the test machine at more than one stage of the run.
    const tests = evidence.steps.flatMap((s) => s.results).filter((r) => r.result.kind === 'functionalTest');
    expect(tests.length).toBeGreaterThan(1);
    expect(tests.every((r) => r.serverId === fleet.testMachineId)).toBe(true);

    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.setDefaultTimeout(30_000);
    await signInThroughForm(page, base, fleet.admin);
    await page.goto(`${base}/runs/${encodeURIComponent(runId)}`);
    const rows = page.locator('[data-evidence-step] li[data-result-kind]');
    await expect.poll(() => rows.count()).toBe(expected.length);
    const shown = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    expect(shown).toEqual(expected);
    expect(shown[0]).toMatch(/^tester-1 1\/1 probes passed via http:\/\/127\.0\.0\.1:\d+: health ok \d+ ms$/);
  });
});
