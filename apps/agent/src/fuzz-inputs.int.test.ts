// Bad input at the agent's own doors: thousands of malformed config files and edition archives
// (path escapes, absolute paths, symlinks and hard links out, devices, truncated or random bytes,
// huge names). Each must get a clear error, never an exception that could crash the agent, and
// nothing may be written outside the edition's directory. Seeded: ROLLGATE_FUZZ_SEED replays.
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveRefusedError, extractArchiveSafely } from './heavy/archive';
import { DEFAULT_ARCHIVE_LIMITS } from './heavy/archive-errors';
import { unpackSmallArchive } from './heavy/small-archive';
import { faultRandom } from '@rollgate/demo-fleet/faults';
import { parseConfig } from './config';

// Seeded like the fault tests: the seed is printed, ROLLGATE_FUZZ_SEED=<seed> replays a failure.
const R = faultRandom(process.env.ROLLGATE_FUZZ_SEED, Math.random, 'ROLLGATE_FUZZ_SEED');
const SEED = R.seed;
const SECRET = 'S3cr3t-fuzz-password';

const VALID = {
  agentId: 'admin-1',
  cluster: 'demo',
  role: 'admin',
  coordinator: { address: '127.0.0.1:7401' },
  dataDir: '/var/lib/rollgate-agent',
  gate: { host: '127.0.0.1', port: 7070 },
  services: [
    {
      name: 'demo-app',
      port: 8081,
      start: { command: 'node', args: ['server.mjs'] },
      env: { PORT: '8081' },
      commands: { 'db-upgrade': { command: 'node', args: ['migrate.mjs'] } },
      backup: { directories: ['/etc/demo-app'] },
      database: { url: `postgres://app:${SECRET}@127.0.0.1:5432/demo` },
    },
  ],
  testAccounts: { demo: { username: 'demo', password: SECRET } },
};

const NASTY: unknown[] = [
  '',
  '../../etc',
  '/',
  'a/b',
  '..',
  '\u0000',
  'x'.repeat(100_000),
  -1,
  0,
  65536,
  1.5,
  Number.NaN,
  null,
  true,
  [],
  {},
  { __proto__: { polluted: 1 } },
  'http://[::1',
  'javascript:alert(1)',
];

/** A deep copy of the valid config with 1-3 random leaves or keys broken. */
function mutatedConfig(): unknown {
  if (R.below(20) === 0) return R.pick(NASTY);
  const cfg = structuredClone(VALID) as Record<string, unknown>;
  for (let n = 1 + R.below(3); n > 0; n--) {
    // Walk to a random object inside the config.
    let node: Record<string, unknown> | unknown[] = cfg;
    for (let depth = 0; depth < 4; depth++) {
      const keys = Object.keys(node);
      const k = R.pick(keys) as keyof typeof node;
      const child = node[k] as unknown;
      if (child && typeof child === 'object' && R.below(3) !== 0) node = child as typeof node;
      else break;
    }
    const keys = Object.keys(node);
    const k = R.pick(keys) as keyof typeof node;
    const what = R.below(3);
    if (what === 0) delete node[k];
    else if (what === 1) (node as Record<string, unknown>)[`typo_${R.below(9)}`] = R.pick(NASTY);
    else (node as Record<string, unknown>)[k as string] = R.pick(NASTY);
  }
  return cfg;
}

type Entry = { path: string; type: string; linkpath?: string; data?: Buffer; size?: number; mode?: number };

/** A gzip tar written header by header, so entries no well-behaved tool would make can be crafted. */
function craft(entries: Entry[], corrupt: 'none' | 'truncate' | 'garbage' | 'bad-gzip'): Buffer {
  if (corrupt === 'garbage')
    return Buffer.from(Array.from({ length: 1 + R.below(4096) }, () => R.below(256)));
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'File' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const header = new Header({
      path: e.path,
      type: e.type as 'File',
      size: e.size ?? data.length,
      mode: e.mode ?? (e.type === 'Directory' ? 0o755 : 0o644),
      linkpath: e.linkpath,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (data.length > 0) {
      const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
      data.copy(padded);
      blocks.push(padded);
    }
  }
  blocks.push(Buffer.alloc(1024));
  const gz = gzipSync(Buffer.concat(blocks));
  if (corrupt === 'truncate') return gz.subarray(0, Math.max(10, R.below(gz.length)));
  if (corrupt === 'bad-gzip') {
    const copy = Buffer.from(gz);
    const at = 10 + R.below(Math.max(1, copy.length - 10));
    copy[at] = (copy[at] ?? 0) ^ 0xff;
    return copy;
  }
  return gz;
}

const EVIL_PATHS = [
  '../escape.txt',
  '../../escape.txt',
  'ok/../../escape.txt',
  '/etc/escape.txt',
  '/tmp/escape.txt',
  './../escape.txt',
  'a\\..\\..\\escape.txt',
  'ok/./../../../escape.txt',
  `${'d/'.repeat(200)}deep.txt`,
  'x'.repeat(300),
  'dev/null',
  '',
];

function randomEntry(i: number): Entry {
  const kind = R.below(10);
  if (kind <= 2) return { path: R.pick(EVIL_PATHS), type: 'File', data: Buffer.from('evil') };
  if (kind === 3)
    return {
      path: `link${i}`,
      type: 'SymbolicLink',
      linkpath: R.pick(['../../outside', '/etc/passwd', '/', '..']),
    };
  if (kind === 4)
    return { path: `hard${i}`, type: 'Link', linkpath: R.pick(['../../outside', '/etc/passwd', 'missing']) };
  if (kind === 5) return { path: `dev${i}`, type: R.pick(['CharacterDevice', 'BlockDevice', 'FIFO']) };
  if (kind === 6)
    return { path: `big${i}`, type: 'File', size: R.pick([2 ** 33, 2 ** 40]), data: Buffer.from('x') };
  if (kind === 7) return { path: `dir${i}`, type: 'Directory', mode: R.pick([0o7777, 0o4755, 0o777]) };
  return { path: `fine/file${i}.txt`, type: 'File', data: Buffer.from('ok') };
}

/** Every path under dir with its kind, permission bits and, for files, content and mtime. */
async function listTree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(join(dir, p));
    if (st.isDirectory()) out.push(`${p}/ ${st.mode & 0o7777}`, ...(await listTree(dir, p)));
    else
      out.push(
        `${p} ${st.mode & 0o7777} ${Math.floor(st.mtimeMs)} ${await readFile(join(dir, p), 'base64')}`,
      );
  }
  return out;
}

describe('bad input at the agent: config files and edition archives', () => {
  let root: string;
  beforeAll(async () => {
    console.log(`[fuzz] seed ${SEED} (replay with ROLLGATE_FUZZ_SEED=${SEED})`);
    root = await mkdtemp(join(tmpdir(), 'rollgate-agent-fuzz-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('3,000 malformed config files: a clear error naming the field, never a throw, never a secret', () => {
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const input = mutatedConfig();
      let result: ReturnType<typeof parseConfig>;
      try {
        result = parseConfig(input, '/etc/rollgate');
      } catch (err) {
        throw new Error(
          `parseConfig threw on ${JSON.stringify(input)?.slice(0, 300)}: ${(err as Error).message}`,
        );
      }
      if (result.ok) continue;
      refused++;
      expect(result.errors.length).toBeGreaterThan(0);
      for (const e of result.errors) {
        // "field: what was expected (example)", short enough to read, never echoing a password.
        expect(e).toMatch(/^[\w[\].()\s-]+: .+/);
        expect(e.length).toBeLessThan(600);
        expect(e).not.toContain(SECRET);
      }
    }
    // Most mutations must be refused; a few are harmless (e.g. a removed optional key).
    expect(refused).toBeGreaterThan(2000);
    console.log(`[fuzz] config: 3000 inputs, ${refused} refused with clear errors`);
  });

  it('1,500 malformed edition archives: refused or unpacked inside their directory, nothing outside', async () => {
    const outcomes = new Map<string, number>();
    const inlineOutcomes = new Map<string, number>();
    for (let i = 0; i < 1500; i++) {
      const box = join(root, `case-${i}`);
      const parent = join(box, 'parent');
      const dest = join(parent, 'dest');
      await mkdir(dest, { recursive: true });
      const archive = join(box, 'edition.tgz');
      const entries = Array.from({ length: 1 + R.below(4) }, (_, j) => randomEntry(j));
      const corrupt = R.pick(['none', 'none', 'none', 'truncate', 'garbage', 'bad-gzip'] as const);
      await writeFile(archive, craft(entries, corrupt));
      let outcome: string;
      try {
        await extractArchiveSafely(archive, dest);
        outcome = 'unpacked';
      } catch (err) {
        expect(err, `a non-refusal error escaped: ${(err as Error).message}`).toBeInstanceOf(
          ArchiveRefusedError,
        );
        expect((err as Error).message.length).toBeGreaterThan(10);
        outcome = 'refused';
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      // The agent's own reader of small archives (docs/adr/0051) takes a subset and defers the
      // rest: whatever it unpacks, the full unpacker unpacks the same; whatever it refuses, too.
      const parent2 = join(box, 'parent2');
      const dest2 = join(parent2, 'dest');
      await mkdir(dest2, { recursive: true });
      let inline: string;
      try {
        const got = await unpackSmallArchive(await readFile(archive), dest2, DEFAULT_ARCHIVE_LIMITS);
        inline = got ? 'unpacked' : 'deferred';
        if (got) expect(await listTree(dest2)).toEqual(await listTree(dest));
      } catch (err) {
        expect(err, `a non-refusal error escaped: ${(err as Error).message}`).toBeInstanceOf(
          ArchiveRefusedError,
        );
        inline = 'refused';
      }
      if (inline !== 'deferred') expect(inline).toBe(outcome);
      inlineOutcomes.set(inline, (inlineOutcomes.get(inline) ?? 0) + 1);
      expect(await readdir(parent2)).toEqual(['dest']);
      // Nothing escaped: the parent still holds only dest, the box only parent and the archive.
      expect((await readdir(parent)).sort()).toEqual(['dest']);
      expect((await readdir(box)).sort()).toEqual(['edition.tgz', 'parent', 'parent2']);
      await rm(box, { recursive: true, force: true, maxRetries: 5 });
    }
    expect(await readdir(root)).toEqual([]);
    expect(outcomes.get('refused') ?? 0).toBeGreaterThan(1000);
    console.log(
      `[fuzz] archives: 1500 inputs, ${JSON.stringify(Object.fromEntries(outcomes))}; the agent's own reader ${JSON.stringify(Object.fromEntries(inlineOutcomes))}`,
    );
  }, 120_000);
});
