import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../context';
import { haproxyConfigCommand, parseRule } from './lb';

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

describe('lb haproxy-config --health (issue 13 item 3)', () => {
  async function asked(flags: Parameters<typeof haproxyConfigCommand>[1]): Promise<unknown> {
    let input: unknown;
    const printed: string[] = [];
    const ctx = {
      client: {
        lb: {
          haproxyConfig: {
            query: async (i: unknown) => {
              input = i;
              return 'backend x';
            },
          },
        },
      },
      out: { print: (t: string) => printed.push(t) },
    } as unknown as CommandContext;
    expect(await haproxyConfigCommand(ctx, flags)).toBe(0);
    expect(printed).toEqual(['backend x']);
    return input;
  }

  it('passes the health mode to the API, and leaves the default to it when absent', async () => {
    expect(await asked({ cluster: 'shop', health: 'gate' })).toEqual({ cluster: 'shop', health: 'gate' });
    expect(await asked({ cluster: 'shop', health: 'service' })).toEqual({
      cluster: 'shop',
      health: 'service',
    });
    expect(await asked({ cluster: 'shop' })).toEqual({ cluster: 'shop' });
  });
});
