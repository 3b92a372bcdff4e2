// Where the request being served came from, for the audit log: every mutation's audit entry says
// from where, without each service passing the address along. The HTTP server runs each API call
// inside the caller's origin; the store's appendAudit adds it to the entry's details.
import { AsyncLocalStorage } from 'node:async_hooks';
import { BlockList, isIP } from 'node:net';
import type { EngineStore } from '@rollgate/engine';

const origin = new AsyncLocalStorage<{ from: string }>();

/** Runs `fn` (and everything it awaits) as serving a request from `from`. */
export function withRequestOrigin<T>(from: string, fn: () => T): T {
  return origin.run({ from }, fn);
}

/** The address of the request being served, if any (the engine's own work has none). */
export function requestOrigin(): string | undefined {
  return origin.getStore()?.from;
}

/**
 * The store, with every audit entry written while serving a request carrying `details.from`
 * (unless the caller set one). Entries the coordinator writes on its own (a scheduled start, an
 * automatic rollback) have none.
 */
export function auditWithOrigin<S extends Pick<EngineStore, 'appendAudit'>>(store: S): S {
  const append = store.appendAudit.bind(store);
  // The stores are plain objects of closures: a copy with one method replaced is the same store.
  return {
    ...store,
    appendAudit: (event: Parameters<EngineStore['appendAudit']>[0]) => {
      const from = requestOrigin();
      return append(
        from === undefined || 'from' in event.details
          ? event
          : { ...event, details: { ...event.details, from } },
      );
    },
  };
}

/**
 * Which peers' X-Forwarded-For is believed (docs/adr/0020): only configured proxies, and only as
 * many hops as configured. Anyone else's header is ignored: the socket's address is the caller.
 */
export interface ProxyTrust {
  /** Addresses and CIDRs of trusted proxies (e.g. the console, a TLS terminator). */
  proxies: BlockList;
  /** How many trusted proxies may stand in a row in front of the coordinator; default 1. */
  hops: number;
}

const LOOPBACK_CIDRS = ['127.0.0.0/8', '::1/128'];

/** `::ffff:10.0.0.1` → `10.0.0.1`, so one rule covers both forms of an IPv4 peer. */
export function normalizeAddress(addr: string): string {
  const bare = addr.startsWith('[') && addr.endsWith(']') ? addr.slice(1, -1) : addr;
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(bare) ? bare.slice(7) : bare;
}

/**
 * Parses `ROLLGATE_TRUSTED_PROXIES`: comma-separated IP addresses, CIDRs, or `loopback`; empty
 * trusts no one. Throws with the entry that is wrong and what to write instead.
 */
export function parseTrustedProxies(spec: string): BlockList {
  const list = new BlockList();
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const cidrs = entry === 'loopback' ? LOOPBACK_CIDRS : [entry];
    for (const cidr of cidrs) {
      const [addr, bits, extra] = cidr.split('/');
      const family = isIP(addr ?? '');
      const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
      if (
        family === 0 ||
        extra !== undefined ||
        !Number.isInteger(prefix) ||
        prefix < 0 ||
        prefix > (family === 6 ? 128 : 32)
      ) {
        throw new Error(`"${entry}" is not an IP address, a CIDR (e.g. 10.0.0.0/8, fd00::/8) or "loopback"`);
      }
      list.addSubnet(addr!, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
  }
  return list;
}

/** The default: the console on the same machine (loopback), one hop. */
export const DEFAULT_PROXY_TRUST: ProxyTrust = { proxies: parseTrustedProxies('loopback'), hops: 1 };

function trusted(list: BlockList, addr: string): boolean {
  const family = isIP(addr);
  return family !== 0 && list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The caller's address: walking X-Forwarded-For from the right, each entry is believed only when
 * the hop that wrote it (the peer, then each believed entry) is a trusted proxy, for at most
 * `hops` hops. An entry that is not an IP address ends the walk at the hop that wrote it.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trust: ProxyTrust,
): string {
  let current = normalizeAddress(peer ?? 'unknown');
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  const chain = header
    .split(',')
    .map((e) => normalizeAddress(e.trim()))
    .filter((e) => e !== '');
  for (let hop = 0; hop < trust.hops && chain.length > 0 && trusted(trust.proxies, current); hop++) {
    const next = chain.pop()!;
    if (isIP(next) === 0) break;
    current = next;
  }
  return current;
}
