import { describe, expect, it } from 'vitest';
import { coordinatorUrlSchema } from './coordinator-url';

describe('coordinatorUrlSchema (issue 15 item 3: one schema for the CLI and the console)', () => {
  it('accepts an http(s) base URL, trimmed, with or without a path', () => {
    expect(coordinatorUrlSchema.parse(' http://127.0.0.1:7400 ')).toBe('http://127.0.0.1:7400');
    expect(coordinatorUrlSchema.parse('https://coord.internal/rollgate/')).toBe(
      'https://coord.internal/rollgate/',
    );
  });

  it.each(['coord:7400', 'localhost:7400', 'ftp://coord', 'http://coord/?a=1', 'http://coord/#x', ''])(
    'refuses %j saying what a good value looks like',
    (v) => {
      const r = coordinatorUrlSchema.safeParse(v);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toBe(
        "must be the coordinator's http(s) base URL, like http://127.0.0.1:7400",
      );
    },
  );

  it('refuses a URL longer than 2048 characters', () => {
    expect(coordinatorUrlSchema.safeParse(`http://coord/${'a'.repeat(2048)}`).success).toBe(false);
  });
});
