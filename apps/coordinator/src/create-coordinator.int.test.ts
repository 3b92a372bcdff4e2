// createCoordinator(opts) → { start, stop } (issue 15 item 2, docs/adr/0038): the whole coordinator
// in this process on its real embedded PostgreSQL, configured by its options alone.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { until, seedFromTemplate } from '@rollgate/test-kit';
import { createLogger } from '@rollgate/logger';
import { createCoordinator, type Coordinator } from './index';

/** Whether something accepts TCP connections on the loopback port right now. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const dirs: string[] = [];
const started: Coordinator[] = [];
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-create-coordinator-'));
  // The embedded PostgreSQL runs as `postgres` when the tests run as root.
  await chmod(dir, 0o755);
  dirs.push(dir);
  // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
  await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, join(dir, 'data'));
  return join(dir, 'data');
}

afterAll(async () => {
  for (const c of started) await c.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('issue 15 item 2: createCoordinator(opts) → { start, stop }', () => {
  it('issue 15 item 2: starts on free ports from its options alone, answers /healthz, /readyz and enrolment, and after stop() nothing listens', async () => {
    const dir = await dataDir();
    const c = createCoordinator({
      dataDir: dir,
      httpPort: 0,
      grpcPort: 0,
      enrolPort: 0,
      log: createLogger({ name: 'create-coordinator-test', level: 'warn' }),
    });
    started.push(c);
    expect(() => c.engine).toThrow(/once start\(\) has resolved/);

    const at = await c.start();
    expect(at.httpPort).toBeGreaterThan(0);
    expect(at.grpcPort).toBeGreaterThan(0);
    expect(at.enrolPort).toBeGreaterThan(0);
    expect(at.caFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(() => c.start()).toThrow(/already called/);

    const healthz = await fetch(`http://127.0.0.1:${at.httpPort}/healthz`);
    expect(healthz.status).toBe(200);
    await until('/readyz to answer 200', async () => {
      return (await fetch(`http://127.0.0.1:${at.httpPort}/readyz`)).status === 200;
    });
    expect(await listening(at.grpcPort)).toBe(true);
    expect(await listening(at.enrolPort!)).toBe(true);
    // Its data directory is the one it was given: the CA and the bootstrap secret are there.
    expect(
      (await readFile(join(dir, 'agent-ca', 'ca.crt'), 'utf8')).startsWith('-----BEGIN CERTIFICATE'),
    ).toBe(true);
    expect((await readFile(join(dir, 'bootstrap-secret'), 'utf8')).length).toBeGreaterThan(0);
    expect(c.agents.isConnected('nobody')).toBe(false);

    await c.stop();
    expect(await listening(at.httpPort)).toBe(false);
    expect(await listening(at.grpcPort)).toBe(false);
    expect(await listening(at.enrolPort!)).toBe(false);
    await c.stop(); // a second stop() is a no-op
  });

  it('issue 15 item 2: with insecureAgents there is no enrolment listener and no CA', async () => {
    const dir = await dataDir();
    const c = createCoordinator({
      dataDir: dir,
      httpPort: 0,
      grpcPort: 0,
      insecureAgents: true,
      log: createLogger({ name: 'create-coordinator-test', level: 'error' }),
    });
    started.push(c);
    const at = await c.start();
    expect(at.enrolPort).toBeUndefined();
    expect(at.caFingerprint).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${at.httpPort}/healthz`)).status).toBe(200);
    await c.stop();
    expect(await listening(at.httpPort)).toBe(false);
  });
});
