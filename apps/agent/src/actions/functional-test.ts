// The seed's functionality tests, run by the agent on the test machine against the service
// through the load balancer: HTTP checks, login with a configured test account (its cookies kept
// for the following probes), navigation, launching an application, and the version the service
// reports. Probes run in order; each is timed. A password never appears in a detail.
import { spawn } from 'node:child_process';
import {
  functionalProbeSchema,
  type ActionOp,
  type FunctionalProbeResolved,
  type FunctionalTestResult,
} from '@rollgate/domain';
import { parseTestHost } from '../config';
import { errorMessage } from '../lib/fs-util';
import { OpError, type OpContext, type OpOutcome } from './op-result';

export const FUNCTIONAL_DEFAULTS = { timeoutMs: 5 * 60_000, requestTimeoutMs: 30_000 } as const;

export interface FunctionalTestDeps {
  testAccounts: Record<string, { username: string; password: string }>;
  testCommands: Record<string, { command: string; args: string[] }>;
  baseEnv: Record<string, string>;
  /** Working directory of launch commands. */
  cwd: string;
  /**
   * The hosts the probes may reach ("host" or "host:port", the agent config's testHosts). Default
   * none: every probe is refused before any request until the test machine's operator lists them.
   */
  testHosts?: readonly string[];
}

const defaultPort = (u: URL) => (u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80);

/** Is this URL's host (and port) one the agent config lists? */
export function hostAllowed(url: URL, testHosts: readonly string[]): boolean {
  const hostname = url.hostname.toLowerCase();
  const port = defaultPort(url);
  return testHosts.some((entry) => {
    const h = parseTestHost(entry);
    return h !== null && h.hostname === hostname && (h.port === null || h.port === port);
  });
}

/** Why a probe URL is refused, or null: only http(s) to a listed host. */
export function refuseHost(url: URL, testHosts: readonly string[]): string | null {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `${url.protocol} is not http or https; probes speak HTTP only`;
  if (url.username || url.password) return 'the URL carries a user name or password; probes send none';
  if (hostAllowed(url, testHosts)) return null;
  const listed = testHosts.length > 0 ? testHosts.join(', ') : 'none';
  return `host ${url.host} is not one this test machine may probe (testHosts: ${listed}); add "${url.hostname}" or "${url.hostname}:${defaultPort(url)}" to testHosts in the test machine's agent config if it is the service's load balancer`;
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
  ms: number;
}

const MAX_BODY = 1024 * 1024;
const clip = (s: string, n = 200) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > n ? `${flat.slice(0, n - 3)}...` : flat;
};

/** Name → value, from Set-Cookie headers; sent back as one Cookie header. */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(headers: Headers) {
    for (const line of headers.getSetCookie()) {
      const first = line.split(';')[0] ?? '';
      const eq = first.indexOf('=');
      if (eq <= 0) continue;
      const name = first.slice(0, eq).trim();
      const value = first.slice(eq + 1).trim();
      if (/max-age=0\b/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get size() {
    return this.cookies.size;
  }
}

export function createFunctionalTest(deps: FunctionalTestDeps) {
  return async function functionalTest(
    op: Extract<ActionOp, { op: 'functionalTest' }>,
    ctx: OpContext,
  ): Promise<OpOutcome> {
    const timeout = op.timeoutMs || FUNCTIONAL_DEFAULTS.timeoutMs;
    const opDeadline = performance.now() + timeout;
    const jar = new CookieJar();
    const base = op.baseUrl.replace(/\/+$/, '');
    const result: FunctionalTestResult = {
      kind: 'functionalTest',
      baseUrl: op.baseUrl,
      probes: [],
      passed: 0,
      failed: 0,
    };

    const remaining = () => Math.max(0, opDeadline - performance.now());
    const testHosts = deps.testHosts ?? [];
    let origin: string;
    try {
      origin = new URL(base).origin;
    } catch {
      origin = 'null';
    }

    /** One request, following up to 5 redirects by hand (so cookies set on the way are kept). */
    async function request(
      path: string,
      init: { method: string; body?: string; contentType?: string },
      expectStatus: number,
    ): Promise<Answer> {
      const started = performance.now();
      let url = new URL(base + path);
      // A path such as "@other.example/" turns the base's host into a user name: check the result.
      if (url.origin !== origin) throw new Error(`${url.origin} is not the base URL's origin ${origin}`);
      let method = init.method;
      let body = init.body;
      const follow = expectStatus < 300 || expectStatus >= 400;
      for (let hop = 0; ; hop++) {
        const headers: Record<string, string> = { 'user-agent': 'rollgate-agent functional-test' };
        const cookie = jar.header();
        if (cookie) headers.cookie = cookie;
        if (body !== undefined && init.contentType) headers['content-type'] = init.contentType;
        const wait = Math.floor(Math.min(FUNCTIONAL_DEFAULTS.requestTimeoutMs, remaining()));
        if (wait <= 0) throw new Error(`the op's ${timeout} ms timeout ran out`);
        const res = await fetch(url, {
          method,
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(wait)]),
        });
        jar.take(res.headers);
        const location = res.headers.get('location');
        if (follow && res.status >= 300 && res.status < 400 && location && hop < 5) {
          await res.body?.cancel();
          const next = new URL(location, url);
          // Cookies, form fields and the test account's password are for the service under test
          // only: a redirect elsewhere is reported, never followed.
          if (next.origin !== origin)
            throw new Error(
              `${url.pathname} redirected to another origin (${next.origin}); probes follow redirects within ${origin} only`,
            );
          url = next;
          if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
            method = 'GET';
            body = undefined;
          }
          continue;
        }
        let text = '';
        if (method !== 'HEAD') {
          text = await res.text();
          if (text.length > MAX_BODY) text = text.slice(0, MAX_BODY);
        }
        return {
          status: res.status,
          headers: res.headers,
          body: text,
          ms: Math.round(performance.now() - started),
        };
      }
    }

    async function launch(name: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
      const spec = deps.testCommands[name];
      if (!spec) {
        const known = Object.keys(deps.testCommands);
        return {
          ok: false,
          detail: `this agent has no test command "${name}" (configured: ${known.length > 0 ? known.join(', ') : 'none'}); add it under testCommands in the test machine's agent config`,
        };
      }
      const limit = Math.max(1, Math.min(timeoutMs || 60_000, remaining()));
      const child = spawn(spec.command, spec.args, {
        cwd: deps.cwd,
        env: deps.baseEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let out = '';
      const keep = (c: Buffer) => (out = (out + c.toString('utf8')).slice(-2000));
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      let timedOut = false;
      const kill = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, limit);
      ctx.signal.addEventListener('abort', kill, { once: true });
      try {
        const code = await new Promise<number | null>((resolve, reject) => {
          child.once('error', reject);
          child.once('close', (c) => resolve(c));
        });
        const last = clip(out.trim().split('\n').slice(-1)[0] ?? '', 160);
        if (timedOut)
          return { ok: false, detail: `${spec.command} did not finish within ${limit} ms and was killed` };
        if (code !== 0)
          return {
            ok: false,
            detail: `${spec.command} exited with code ${code ?? 'signal'}${last ? `: ${last}` : ''}`,
          };
        return { ok: true, detail: `${spec.command} exited 0${last ? `: ${last}` : ''}` };
      } catch (err) {
        return { ok: false, detail: `could not run ${spec.command}: ${errorMessage(err)}` };
      } finally {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', kill);
      }
    }

    async function runProbe(p: FunctionalProbeResolved): Promise<{ ok: boolean; detail: string }> {
      switch (p.kind) {
        case 'http': {
          const r = await request(p.path, { method: p.method }, p.expectStatus);
          const problems: string[] = [];
          if (r.status !== p.expectStatus) problems.push(`answered ${r.status}, expected ${p.expectStatus}`);
          if (p.bodyContains !== undefined && !r.body.includes(p.bodyContains))
            problems.push(`body does not contain ${JSON.stringify(p.bodyContains)} (body: ${clip(r.body)})`);
          if (p.header) {
            const v = r.headers.get(p.header.name);
            if (v === null) problems.push(`no ${p.header.name} header`);
            else if (!v.includes(p.header.contains))
              problems.push(
                `header ${p.header.name} is ${JSON.stringify(clip(v, 100))}, expected it to contain ${JSON.stringify(p.header.contains)}`,
              );
          }
          return problems.length > 0
            ? { ok: false, detail: `${p.method} ${p.path} ${problems.join('; ')}` }
            : { ok: true, detail: `${p.method} ${p.path} answered ${r.status} in ${r.ms} ms` };
        }
        case 'login': {
          const account = deps.testAccounts[p.account];
          if (!account) {
            const known = Object.keys(deps.testAccounts);
            return {
              ok: false,
              detail: `this agent has no test account "${p.account}" (configured: ${known.length > 0 ? known.join(', ') : 'none'}); add it under testAccounts in the test machine's agent config`,
            };
          }
          const fields = { [p.usernameField]: account.username, [p.passwordField]: account.password };
          const r = await request(
            p.path,
            p.format === 'json'
              ? { method: 'POST', body: JSON.stringify(fields), contentType: 'application/json' }
              : {
                  method: 'POST',
                  body: new URLSearchParams(fields).toString(),
                  contentType: 'application/x-www-form-urlencoded',
                },
            p.expectStatus,
          );
          const problems: string[] = [];
          if (r.status !== p.expectStatus) problems.push(`answered ${r.status}, expected ${p.expectStatus}`);
          if (p.bodyContains !== undefined && !r.body.includes(p.bodyContains))
            problems.push(`body does not contain ${JSON.stringify(p.bodyContains)} (body: ${clip(r.body)})`);
          const who = `as ${account.username} (account ${p.account})`;
          return problems.length > 0
            ? { ok: false, detail: `login at ${p.path} ${who} ${problems.join('; ')}` }
            : {
                ok: true,
                detail: `logged in at ${p.path} ${who}: ${r.status} in ${r.ms} ms, ${jar.size} cookie${jar.size === 1 ? '' : 's'} kept`,
              };
        }
        case 'navigate': {
          const pages: { page: string; status: number | string; ms: number }[] = [];
          for (const page of p.pages) {
            try {
              const r = await request(page, { method: 'GET' }, p.expectStatus);
              pages.push({ page, status: r.status, ms: r.ms });
            } catch (err) {
              if (ctx.signal.aborted) throw err;
              pages.push({ page, status: errorMessage(err), ms: 0 });
            }
          }
          const bad = pages.filter((x) => x.status !== p.expectStatus);
          const slowest = [...pages].sort((a, b) => b.ms - a.ms).slice(0, 3);
          const slow = `slowest: ${slowest.map((x) => `${x.page} ${x.ms} ms`).join(', ')}`;
          return bad.length > 0
            ? {
                ok: false,
                detail: `${bad.length} of ${pages.length} pages did not answer ${p.expectStatus}: ${bad.map((x) => `${x.page} → ${x.status}`).join(', ')}; ${slow}`,
              }
            : { ok: true, detail: `${pages.length} pages answered ${p.expectStatus}; ${slow}` };
        }
        case 'launch':
          return launch(p.command, p.timeoutMs);
        case 'version': {
          const r = await request(p.path, { method: 'GET' }, 200);
          if (r.status !== 200)
            return {
              ok: false,
              detail: `GET ${p.path} answered ${r.status}, expected 200 (body: ${clip(r.body)})`,
            };
          let found: string;
          if (p.field !== undefined) {
            let v: unknown;
            try {
              v = JSON.parse(r.body);
              for (const k of p.field.split('.')) v = (v as Record<string, unknown> | null)?.[k];
            } catch {
              return {
                ok: false,
                detail: `GET ${p.path} did not answer JSON, so it has no field "${p.field}" (body: ${clip(r.body)})`,
              };
            }
            if (v === undefined || v === null || typeof v === 'object')
              return {
                ok: false,
                detail: `GET ${p.path}: the JSON answer has no field "${p.field}" (body: ${clip(r.body)})`,
              };
            found = String(v);
            const hit = p.expect.find((e) => found === e);
            return hit !== undefined
              ? { ok: true, detail: `${p.field} is ${JSON.stringify(found)}` }
              : {
                  ok: false,
                  detail: `${p.field} is ${JSON.stringify(clip(found, 100))}, expected one of ${p.expect.map((e) => JSON.stringify(e)).join(', ')}`,
                };
          }
          found = r.body;
          const hit = p.expect.find((e) => found.includes(e));
          return hit !== undefined
            ? { ok: true, detail: `GET ${p.path} names ${JSON.stringify(hit)}` }
            : {
                ok: false,
                detail: `GET ${p.path} names none of ${p.expect.map((e) => JSON.stringify(e)).join(', ')} (body: ${clip(found)})`,
              };
        }
      }
    }

    // Before any request: the base URL must name a host this test machine's operator allowed.
    let refused: string | null;
    try {
      refused = refuseHost(new URL(base), testHosts);
    } catch {
      refused = `${op.baseUrl} is not a URL`;
    }
    if (refused !== null) {
      for (const raw of op.probes) {
        const p = functionalProbeSchema.parse(raw);
        result.probes.push({ name: p.name, kind: p.kind, ok: false, ms: 0, detail: `not run: ${refused}` });
        result.failed++;
      }
      ctx.log('error', 'RG0074E', `functionality tests via ${op.baseUrl} refused: ${refused}`);
      throw new OpError(`functionality tests via ${op.baseUrl} refused: ${refused}`, result);
    }

    for (const raw of op.probes) {
      // The op schema already resolved the defaults; parse again so this never trusts a cast.
      const p = functionalProbeSchema.parse(raw);
      const started = performance.now();
      let outcome: { ok: boolean; detail: string };
      if (remaining() <= 0) {
        outcome = { ok: false, detail: `not run: the op's ${timeout} ms timeout ran out` };
      } else {
        try {
          outcome = await runProbe(p);
        } catch (err) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          const cause = (err as { cause?: unknown }).cause;
          outcome = { ok: false, detail: `${errorMessage(err)}${cause ? ` (${errorMessage(cause)})` : ''}` };
        }
      }
      const ms = Math.round(performance.now() - started);
      result.probes.push({ name: p.name, kind: p.kind, ok: outcome.ok, ms, detail: outcome.detail });
      if (outcome.ok) result.passed++;
      else result.failed++;
      ctx.log(
        outcome.ok ? 'info' : 'warn',
        outcome.ok ? 'RG0073I' : 'RG0074E',
        `${p.kind} probe "${p.name}" ${outcome.ok ? 'passed' : 'FAILED'} in ${ms} ms: ${outcome.detail}`,
      );
    }
    const total = result.probes.reduce((a, p) => a + p.ms, 0);
    if (result.failed > 0) {
      const failed = result.probes.filter((p) => !p.ok).map((p) => `${p.name}: ${p.detail}`);
      throw new OpError(
        `functionality tests via ${op.baseUrl} failed: ${result.failed} of ${result.probes.length} probes — ${failed.join('; ')}`,
        result,
      );
    }
    return {
      summary: `functionality tests via ${op.baseUrl}: all ${result.passed} probes passed in ${total} ms`,
      result,
    };
  };
}
