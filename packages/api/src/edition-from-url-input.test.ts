import { describe, expect, it } from 'vitest';
import { editionFromUrlInput } from './inputs';

const base = {
  app: 'shop',
  name: '2.0',
  url: 'https://repo.example/shop-2.0.tgz?sig=1',
  sha256: 'a'.repeat(64),
};

describe('editions.addFromUrl input (issue 16 item 6: fetchBy)', () => {
  it('defaults fetchBy to the coordinator, and takes agents with an optional size', () => {
    expect(editionFromUrlInput.parse(base)).toMatchObject({ fetchBy: 'coordinator' });
    expect(editionFromUrlInput.parse({ ...base, fetchBy: 'agents', size: 5 })).toMatchObject({
      fetchBy: 'agents',
      size: 5,
    });
  });

  it('refuses an unknown fetchBy and a size the coordinator would measure itself, with clear messages', () => {
    const bad = editionFromUrlInput.safeParse({ ...base, fetchBy: 'everyone' });
    expect(bad.error?.issues[0]).toMatchObject({
      path: ['fetchBy'],
      message: expect.stringMatching(/"agents"/),
    });
    const sized = editionFromUrlInput.safeParse({ ...base, size: 5 });
    expect(sized.error?.issues[0]).toMatchObject({
      path: ['size'],
      message: expect.stringMatching(/only given with fetchBy "agents"/),
    });
    expect(editionFromUrlInput.safeParse({ ...base, fetchBy: 'agents', size: 0 }).success).toBe(false);
  });
});
