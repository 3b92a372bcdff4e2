import { describe, expect, it } from 'vitest';
import { cidrSchema, describeRule, routingMaps, routingRulesSchema } from './routing';

describe('routing rules', () => {
  it('normalises addresses to CIDR blocks and refuses what is not one', () => {
    expect(cidrSchema.parse('192.0.2.7')).toBe('192.0.2.7/32');
    expect(cidrSchema.parse(' 10.1.0.0/16 ')).toBe('10.1.0.0/16');
    expect(cidrSchema.parse('0.0.0.0/0')).toBe('0.0.0.0/0');
    for (const bad of ['10.0.0.256', '10.0.0', '10.0.0.0/33', 'fe80::1', '10.0.0.0/8/1', '']) {
      expect(cidrSchema.safeParse(bad).success, bad).toBe(false);
    }
    expect(cidrSchema.safeParse('10.1.2.3/16').error?.issues[0]?.message).toContain('e.g. "10.1.0.0/16"');
  });

  it('groups rules into one map per kind and per header, lower-casing header names', () => {
    const rules = routingRulesSchema.parse([
      { match: 'header', header: 'X-Pilot', value: 'yes', edition: '2.0' },
      { match: 'header', header: 'x-tenant', value: 'acme', edition: '1.0' },
      { match: 'source', cidr: '10.0.0.0/8', edition: '2.0' },
      { match: 'path-prefix', prefix: '/beta/', edition: '2.0' },
    ]);
    const maps = routingMaps(rules, (e) => `be_${e.replace('.', '_')}`);
    expect(maps).toEqual({
      source: [['10.0.0.0/8', 'be_2_0']],
      headers: { 'x-pilot': [['yes', 'be_2_0']], 'x-tenant': [['acme', 'be_1_0']] },
      pathPrefix: [['/beta/', 'be_2_0']],
    });
    expect(describeRule(rules[0]!)).toBe('header x-pilot: yes → edition 2.0');
  });

  it('refuses values a map file cannot hold, unknown keys and edition names that break paths', () => {
    const refuse = (rule: unknown) =>
      expect(routingRulesSchema.safeParse([rule]).success, JSON.stringify(rule)).toBe(false);
    refuse({ match: 'header', header: 'x pilot', value: 'a', edition: '2.0' });
    refuse({ match: 'header', header: 'x-pilot', value: 'two words', edition: '2.0' });
    refuse({ match: 'path-prefix', prefix: 'beta', edition: '2.0' });
    refuse({ match: 'path-prefix', prefix: '/a', edition: '../2.0' });
    refuse({ match: 'source', cidr: '10.0.0.0/8', edition: '2.0', weight: 5 });
    refuse({ match: 'cookie', name: 'x', edition: '2.0' });
  });
});
