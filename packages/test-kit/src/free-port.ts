// A loopback port for a test's or a tool's server, never the same one twice in a process.
import { createServer } from 'node:net';

/** A port the OS offers on 127.0.0.1 right now (closed again at once). */
function offeredPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Ports this process has handed out. Once a probe socket is closed the OS may offer the same port
 * to the next probe, before the first caller has bound it: a demo fleet once gave two servers'
 * services one port, and one of them could not start (commit 9b4de34).
 */
const handedOut = new Set<number>();

/** A TCP port free on 127.0.0.1 right now and not handed out before by this process (bind it soon). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await offeredPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port that this process has not handed out already (100 tries)');
}
