import { describe, expect, it } from 'vitest';
import { createUploadProgress } from './edition-stream';

/** Collects what is written to a fake stderr. */
function sink(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, write: (s: string) => writes.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

describe('upload progress (issue 16 item 6)', () => {
  it('prints a plain line every 10 % when stderr is not a terminal', () => {
    const { stream, writes } = sink(false);
    const p = createUploadProgress(stream, 'Uploading shop 2.0');
    for (let sent = 0; sent <= 1000; sent += 25) p.update(sent, 1000);
    p.done();
    expect(writes).toHaveLength(11);
    expect(writes[0]).toBe('Uploading shop 2.0: 0% (0 bytes of 1000 bytes)\n');
    expect(writes[10]).toBe('Uploading shop 2.0: 100% (1000 bytes of 1000 bytes)\n');
    expect(writes.every((w) => !w.includes('\r'))).toBe(true);
  });

  it('redraws one bar in place on a terminal and ends the line when done', () => {
    const { stream, writes } = sink(true);
    const p = createUploadProgress(stream, 'Uploading shop 2.0');
    p.update(500, 1000);
    p.update(1000, 1000);
    p.done();
    expect(writes[0]).toMatch(/^\rUploading shop 2\.0 \[#{15}-{15}\]  50% 500 bytes \/ 1000 bytes/);
    expect(writes[1]).toMatch(/^\rUploading shop 2\.0 \[#{30}\] 100% /);
    expect(writes.at(-1)).toBe('\n');
  });

  it('prints nothing when quiet (--json) and not on a terminal', () => {
    const { stream, writes } = sink(false);
    const p = createUploadProgress(stream, 'Uploading shop 2.0', true);
    p.update(1000, 1000);
    p.done();
    expect(writes).toEqual([]);
  });
});
