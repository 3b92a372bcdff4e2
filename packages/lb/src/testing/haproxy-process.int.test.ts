// The HAProxy test helper itself: clear errors for a bad config or a missing binary, and a reload
// that swaps the worker while the master (and its pid) stays.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startHaproxy } from './haproxy-process';
import { freePort } from './index';

describe('startHaproxy', () => {
  it('starts, reloads to a new worker under the same master, and stops cleanly', async () => {
    const port = await freePort();
    const hp = await startHaproxy({
      config: `defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nfrontend fe\n    bind 127.0.0.1:${port}\n    http-request return status 200 content-type text/plain string ok\n`,
    });
    const { pid, workerPid, dir } = hp;
    expect(existsSync(hp.socketPath)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    await hp.reload();
    expect(hp.pid).toBe(pid);
    expect(hp.workerPid).not.toBe(workerPid);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    await hp.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it("fails with HAProxy's own complaint when the config is wrong", async () => {
    await expect(startHaproxy({ config: 'frontend fe\n    bindd 127.0.0.1:1\n' })).rejects.toThrow(
      /haproxy exited \(1\) while starting; config .*haproxy\.cfg:[\s\S]*unknown keyword 'bindd'/,
    );
  });

  it('says how to get the binary when it cannot run it', async () => {
    await expect(startHaproxy({ binary: '/nonexistent/haproxy', config: '' })).rejects.toThrow(
      /cannot run \/nonexistent\/haproxy: spawn \/nonexistent\/haproxy ENOENT/,
    );
  });
});
