import { describe, expect, it } from 'vitest';
import { createRedactor, displayUrl, redactDeep } from './redact';

describe('redaction', () => {
  it('masks URL credentials, password= parameters and known secrets (also URL-encoded)', () => {
    const r = createRedactor(['p@ss word', 'Pa55-word!', undefined, 'ab']);
    expect(r('connect postgres://app:xyz@db:5432/shop failed')).toBe(
      'connect postgres://app:***@db:5432/shop failed',
    );
    expect(r('host=db password=xyz dbname=shop')).toBe('host=db password=*** dbname=shop');
    expect(r('body: user=student&pass=Pa55-word!')).toBe('body: user=student&pass=***');
    expect(r('echo p%40ss%20word and p@ss word')).toBe('echo *** and ***');
    // Too short to mask safely (would shred ordinary text).
    expect(r('about')).toBe('about');
    expect(displayUrl('postgres://u:secret@h/db')).toBe('postgres://u:***@h/db');
    expect(displayUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
  });

  it('redacts every string of a result', () => {
    const r = createRedactor(['s3cret']);
    expect(redactDeep({ a: ['x s3cret'], b: { c: 's3cret', n: 1 } }, r)).toEqual({
      a: ['x ***'],
      b: { c: '***', n: 1 },
    });
  });
});
