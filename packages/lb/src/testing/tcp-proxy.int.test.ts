// The partition proxy against a real echo server on loopback: traffic flows, stops without any
// socket closing, and flows again (late bytes included) after resume().
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';
import { waiter } from '@rollgate/test-kit';

function connect(port: number): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let data = '';
    let closed = false;
    const socket = createConnection({ host: '127.0.0.1', port }, () =>
      resolve({ socket, received: () => data, closed: () => closed }),
    );
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (data += c));
    socket.on('close', () => (closed = true));
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { until } = waiter({ timeoutMs: 2000, everyMs: 10 });

describe('startTcpProxy', () => {
  let echo: Server;
  let proxy: TcpProxy;

  beforeAll(async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const addr = echo.address();
    proxy = await startTcpProxy({
      target: { host: '127.0.0.1', port: addr && typeof addr === 'object' ? addr.port : 0 },
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('forwards, blackholes without closing a socket, then delivers again after resume', async () => {
    const c = await connect(proxy.port);
    c.socket.write('a');
    await until('the echo of a', () => c.received() === 'a');

    proxy.blackhole();
    expect(proxy.blackholed).toBe(true);
    c.socket.write('b');
    // A connection opened during the partition is accepted but goes nowhere.
    const held = await connect(proxy.port);
    held.socket.write('h');
    await sleep(400);
    expect(c.received()).toBe('a');
    expect(held.received()).toBe('');
    expect(c.closed()).toBe(false);
    expect(held.closed()).toBe(false);
    expect(proxy.connections).toBe(2);

    proxy.resume();
    // What was sent during the partition arrives late, as TCP's retransmission would deliver it.
    await until('the late echo of b', () => c.received() === 'ab');
    await until('the held connection to be connected upstream', () => held.received() === 'h');
    c.socket.write('c');
    await until('the echo of c', () => c.received() === 'abc');
    c.socket.destroy();
    held.socket.destroy();
  });
});
