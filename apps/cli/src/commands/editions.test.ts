import { describe, expect, it } from 'vitest';
import { urlEditionOptions } from './editions';

const base = { app: 'shop', name: '2.0' };

describe('urlEditionOptions (issue 16 item 6: --fetch-by agents)', () => {
  it('defaults to the coordinator fetching, and takes agents with an optional size', () => {
    expect(urlEditionOptions({ ...base, fromUrl: 'https://a.example/x.tgz' })).toEqual({
      fetchBy: 'coordinator',
    });
    expect(
      urlEditionOptions({ ...base, fromUrl: 'https://a.example/x.tgz', fetchBy: 'agents', size: 42 }),
    ).toEqual({ fetchBy: 'agents', size: 42 });
  });

  it('refuses a --fetch-by other than coordinator or agents, saying what each means', () => {
    expect(() =>
      urlEditionOptions({ ...base, fromUrl: 'https://a.example/x.tgz', fetchBy: 'servers' }),
    ).toThrow(/--fetch-by must be "coordinator" .* or "agents" .*, not "servers"/);
  });

  it('refuses --fetch-by or --size without --from-url, and --size when the coordinator fetches', () => {
    expect(() => urlEditionOptions({ ...base, file: 'x.tgz', fetchBy: 'agents' })).toThrow(
      /--fetch-by and --size go with --from-url/,
    );
    expect(() => urlEditionOptions({ ...base, file: 'x.tgz', size: 10 })).toThrow(/go with --from-url/);
    expect(() => urlEditionOptions({ ...base, fromUrl: 'https://a.example/x.tgz', size: 10 })).toThrow(
      /--size goes with --fetch-by agents/,
    );
  });
});
