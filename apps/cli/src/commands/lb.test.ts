import { describe, expect, it } from 'vitest';
import { parseRule } from './lb';

describe('lb routes set --rule', () => {
  it('reads the three kinds of rule, the edition after the last "="', () => {
    expect(parseRule('header:x-pilot:yes=2.0')).toEqual({
      match: 'header',
      header: 'x-pilot',
      value: 'yes',
      edition: '2.0',
    });
    expect(parseRule('header:x-flag:a=b=1.0.1_FIX')).toEqual({
      match: 'header',
      header: 'x-flag',
      value: 'a=b',
      edition: '1.0.1_FIX',
    });
    expect(parseRule('source:10.1.0.0/16=2.0')).toEqual({
      match: 'source',
      cidr: '10.1.0.0/16',
      edition: '2.0',
    });
    expect(parseRule('path:/beta/=2.0')).toEqual({ match: 'path-prefix', prefix: '/beta/', edition: '2.0' });
  });

  it('says what shape it expected when a rule has none of them', () => {
    for (const bad of ['x-pilot=2.0', 'header:x-pilot=2.0', 'source:=2.0', 'path:/beta/', 'cookie:a=b']) {
      expect(() => parseRule(bad), bad).toThrow(/expected header:<name>:<value>=<edition>, source:/);
    }
  });
});
