import { describe, expect, it } from 'vitest';
import { agentCheckLine } from './agent-check';
import type { GateWish } from './state-store';

/** HAProxy's reading of a line: words before '#' (separated by spaces, tabs or commas), then the description. */
function haproxyWords(line: string): { words: string[]; description: string } {
  const body = line.replace(/\r?\n$/, '');
  const hash = body.indexOf('#');
  const head = hash < 0 ? body : body.slice(0, hash);
  return {
    words: head.split(/[ \t,]+/).filter(Boolean),
    description: hash < 0 ? '' : body.slice(hash + 1).trim(),
  };
}

describe('agentCheckLine: the coordinator wish only (issue 13 item 3)', () => {
  it('wish open: "ready up" (cancels a drain; agent health neutral)', () => {
    expect(agentCheckLine('open')).toBe('ready up\n');
  });

  it('wish closed: "drain up" (no new sessions, running ones finish)', () => {
    expect(agentCheckLine('closed')).toBe('drain up\n');
  });

  it('never says down, maint or stopped, and only words HAProxy knows, on one line', () => {
    for (const wish of ['open', 'closed'] as GateWish[]) {
      const line = agentCheckLine(wish);
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toMatch(/[\r\n]/);
      const { words, description } = haproxyWords(line);
      expect(description).toBe('');
      expect(words).toHaveLength(2);
      expect(words[0]).toBe(wish === 'open' ? 'ready' : 'drain');
      expect(words[1]).toBe('up');
      for (const w of ['down', 'maint', 'stopped', 'fail']) expect(words).not.toContain(w);
    }
  });
});
