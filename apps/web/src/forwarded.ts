/**
 * Whose X-Forwarded-* headers the console believes (docs/adr/0020). `next start` keeps a client's
 * own X-Forwarded-For (it fills the header only when absent), so a browser could name any address
 * and the coordinator's rate limit and audit log would believe it. Before Next sees a request, the
 * console REPLACES the header with one address: the socket's peer, or, when that peer is one of
 * the console's trusted proxies (ROLLGATE_TRUSTED_PROXIES, ROLLGATE_TRUSTED_PROXY_HOPS), the
 * address that proxy forwarded. An untrusted peer's X-Forwarded-Proto/-Host are dropped too, so
 * the Secure cookie decision and the same-origin check see what the socket says.
 */
import { BlockList, isIP } from 'node:net';

export interface ProxyTrust {
  proxies: BlockList;
  /** How many trusted proxies may stand in a row in front of the console. */
  hops: number;
}

const normalize = (addr: string) => {
  const bare = addr.startsWith('[') && addr.endsWith(']') ? addr.slice(1, -1) : addr;
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(bare) ? bare.slice(7) : bare;
};

/** Comma-separated IPs, CIDRs or `loopback`; empty trusts no one. Throws naming the wrong entry. */
export function parseTrustedProxies(spec: string): BlockList {
  const list = new BlockList();
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    for (const cidr of entry === 'loopback' ? ['127.0.0.0/8', '::1/128'] : [entry]) {
      const [addr, bits, extra] = cidr.split('/');
      const family = isIP(addr ?? '');
      const max = family === 6 ? 128 : 32;
      const prefix = bits === undefined ? max : Number(bits);
      if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
        throw new Error(`"${entry}" is not an IP address, a CIDR (e.g. 10.0.0.0/8) or "loopback"`);
      }
      list.addSubnet(addr!, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
  }
  return list;
}

const trusted = (list: BlockList, addr: string) => {
  const family = isIP(addr);
  return family !== 0 && list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
};

/** The client's address: X-Forwarded-For walked from the right, only through trusted proxies. */
export function resolveClient(peer: string, forwardedFor: string | undefined, trust: ProxyTrust): string {
  let current = normalize(peer);
  const chain = (forwardedFor ?? '')
    .split(',')
    .map((e) => normalize(e.trim()))
    .filter(Boolean);
  for (let hop = 0; hop < trust.hops && chain.length > 0 && trusted(trust.proxies, current); hop++) {
    const next = chain.pop()!;
    if (isIP(next) === 0) break;
    current = next;
  }
  return current;
}

type Headers = Record<string, string | string[] | undefined>;

/** Rewrites a request's X-Forwarded-* headers in place (see the file's comment). */
export function rewriteForwarded(headers: Headers, peer: string | undefined, trust: ProxyTrust): void {
  const xff = headers['x-forwarded-for'];
  const peerAddr = normalize(peer ?? '');
  const fromProxy = trusted(trust.proxies, peerAddr) && trust.hops > 0;
  const client = resolveClient(peerAddr, Array.isArray(xff) ? xff.join(',') : xff, trust);
  if (isIP(client)) headers['x-forwarded-for'] = client;
  else delete headers['x-forwarded-for'];
  if (!fromProxy) {
    delete headers['x-forwarded-proto'];
    delete headers['x-forwarded-host'];
    delete headers['x-forwarded-port'];
  }
}
