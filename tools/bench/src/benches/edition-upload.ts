// A 1 GiB edition through the streamed upload (issue 16 item 6, docs/adr/0036): a real coordinator
// (demo fleet, no agents) and the real CLI's `edition add`; the coordinator's RSS is sampled every
// 50 ms during the upload. The archive is a real tar.gz of incompressible data, written as a stream.
import { execFile } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { startFleet } from '@rollgate/demo-fleet';
import { atMost, MB, round, type BenchResult } from '../lib/figures';
import { onCleanup, ROOT, rssBytes, sleep, tempDir } from '../lib/proc';

export interface EditionUploadOptions {
  /** Payload of the edition, MiB; default 1024. */
  sizeMiB?: number;
}

/** A one-file ustar archive of `size` random bytes, made chunk by chunk. */
function tar(size: number): Readable {
  const h = Buffer.alloc(512);
  const octal = (off: number, len: number, n: number) =>
    h.write(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len, 'ascii');
  h.write('payload.bin', 0, 'ascii');
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 0);
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\x0000', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return Readable.from(
    (function* () {
      yield h;
      for (let left = size; left > 0; left -= MB) yield randomFillSync(Buffer.alloc(Math.min(MB, left)));
      yield Buffer.alloc(((512 - (size % 512)) % 512) + 1024);
    })(),
  );
}

export async function benchEditionUpload(opts: EditionUploadOptions = {}): Promise<BenchResult> {
  const sizeMiB = opts.sizeMiB ?? 1024;
  const dir = tempDir('edition-upload');
  const file = join(dir.path, 'big.tar.gz');
  await pipeline(tar(sizeMiB * MB), createGzip({ level: 1 }), createWriteStream(file));
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  const sha256 = hash.digest('hex');
  const size = (await stat(file)).size;

  const fleet = await startFleet({
    dir: join(dir.path, 'fleet'),
    agents: [],
    editions: [],
    insecure: true,
    coordinatorEnv: { ROLLGATE_MAX_EDITION_BYTES: String(size + 64 * MB) },
  });
  const stopFleet = onCleanup('edition-upload fleet', () => fleet.stop());
  try {
    const pid = fleet.coordinator!.pid!;
    await sleep(2000);
    const before = rssBytes(pid);
    let peak = before;
    const sampler = setInterval(() => {
      const v = rssBytes(pid);
      if (Number.isFinite(v)) peak = Math.max(peak, v);
    }, 50);
    const t0 = performance.now();
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          join(ROOT, 'apps/cli/bin/rollgate.mjs'),
          '--url',
          fleet.url,
          'edition',
          'add',
          '--app',
          'bench-app',
          '--name',
          '1.0',
          '--file',
          file,
          '--json',
        ],
        { env: { ...process.env, ROLLGATE_TOKEN: fleet.admin.token }, maxBuffer: 1 << 20 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const stored = JSON.parse(out) as { sha256: string; size: number };
    if (stored.sha256 !== sha256) throw new Error(`stored sha256 ${stored.sha256}, expected ${sha256}`);
    return {
      method: `a ${sizeMiB} MiB payload (tar.gz of random data, ${round(size / MB)} MiB) uploaded with \`rollgate edition add\` (CLI hashes the file, then PUT /upload/edition) to a demo-fleet coordinator; its VmRSS sampled every 50 ms`,
      figures: [
        atMost(
          {
            bench: 'edition-upload',
            case: `${sizeMiB} MiB: coordinator RSS above idle, peak`,
            value: round((peak - before) / MB),
            unit: 'MiB',
            note: `idle ${round(before / MB)} MiB, peak ${round(peak / MB)} MiB`,
          },
          300,
          '≤ 300 MiB (bounded: independent of the archive size)',
        ),
        {
          bench: 'edition-upload',
          case: `${sizeMiB} MiB: wall time of \`edition add\` (hash + upload)`,
          value: round(seconds),
          unit: 's',
          note: `${round(size / MB / seconds)} MiB/s end to end`,
        },
      ],
      details: { size, sha256, rssBefore: before, rssPeak: peak, seconds },
    };
  } finally {
    await stopFleet();
    await dir.remove();
  }
}
