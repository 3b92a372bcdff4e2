// The port probe on real loopback sockets: a listener is found, a free port is not, and an agent
// whose event loop was blocked past the probe's deadline still reads the kernel's refusal (a busy
// agent once took a free port for a listening one and refused to start its service).
import { createServer, type Server } from 'node:net';
import { freePort } from '@rollgate/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { isPortListening, probeOnce } from './port-probe';

describe('port probe', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('finds a listener and not a free port', async () => {
    server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    expect(await isPortListening(port)).toBe(true);
    expect(await probeOnce('127.0.0.1', await freePort(), 250)).toBe('refused');
  });

  it('a refusal that arrived while the event loop was blocked past the deadline still reads as refused', async () => {
    const port = await freePort();
    const answer = probeOnce('127.0.0.1', port, 50);
    // Block the loop well past the 50 ms deadline: the refusal is in by then, unread.
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // busy: as an agent is while it hashes or unpacks on a loaded machine
    }
    expect(await answer).toBe('refused');
  });
});
