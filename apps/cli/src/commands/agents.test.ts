import { describe, expect, it } from 'vitest';
import { parseTtl } from './agents';

describe('parseTtl', () => {
  it('reads seconds, minutes, hours and days', () => {
    expect(parseTtl('90')).toBe(90);
    expect(parseTtl('90s')).toBe(90);
    expect(parseTtl('30m')).toBe(1800);
    expect(parseTtl('1h')).toBe(3600);
    expect(parseTtl(' 2d ')).toBe(172_800);
  });
  it('refuses what is not a duration', () => {
    for (const bad of ['', '0', '0h', '1w', '-1h', '1.5h', 'h', '1 hour']) expect(parseTtl(bad)).toBeNull();
  });
});
