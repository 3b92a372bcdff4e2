// A loopback TCP proxy that can cut a link without closing it: the fault tests put it between an
// agent and the coordinator to simulate a network partition.
//
// blackhole() stops every byte in both directions and leaves every socket open: nothing is read
// from either side (the kernel buffers fill and the sender's TCP stalls), and new connections are
// accepted but not connected upstream. That is what a partition looks like to both ends: no FIN,
// no RST, just silence, so only their own timeouts (gRPC keepalive, heartbeats) can notice it.
// resume() lets the traffic flow again, as a healed partition does: what TCP would have
// retransmitted arrives late, and held connections are connected upstream.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxyOptions {
  /** Where traffic goes, e.g. 127.0.0.1:7401. */
  target: { host: string; port: number };
  /** Listen port on 127.0.0.1; default 0 (a free one). */
  port?: number;
}

export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  readonly address: string;
  /** True between blackhole() and resume(). */
  readonly blackholed: boolean;
  /** Client connections open now (including held ones). */
  readonly connections: number;
  /** Bytes forwarded so far, both directions. */
  readonly forwardedBytes: number;
  blackhole(): void;
  resume(): void;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let blackholed = false;
  let forwardedBytes = 0;

  function pipe(from: Socket, to: Socket) {
    from.on('data', (chunk: Buffer) => {
      forwardedBytes += chunk.length;
      // Honour back-pressure so a paused (blackholed) peer is not buffered without bound here.
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (!blackholed) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  }

  function connectUpstream(pair: Pair) {
    const upstream = createConnection(opts.target);
    pair.upstream = upstream;
    const drop = () => {
      pair.client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    upstream.on('error', drop);
    upstream.on('close', drop);
    pipe(pair.client, upstream);
    pipe(upstream, pair.client);
    pair.client.resume();
  }

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    const pair: Pair = { client, upstream: null };
    pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    // A connection made during the partition is held: accepted, but nothing goes through.
    if (!blackholed) connectUpstream(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : 0;

  return {
    port,
    address: `127.0.0.1:${port}`,
    get blackholed() {
      return blackholed;
    },
    get connections() {
      return pairs.size;
    },
    get forwardedBytes() {
      return forwardedBytes;
    },
    blackhole() {
      blackholed = true;
      for (const p of pairs) {
        p.client.pause();
        p.upstream?.pause();
      }
    },
    resume() {
      blackholed = false;
      for (const p of pairs) {
        if (!p.upstream) connectUpstream(p);
        p.client.resume();
        p.upstream?.resume();
      }
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
