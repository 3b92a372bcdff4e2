import { describe, expect, it } from 'vitest';
import { agentCheckLine } from './agent-check';
import { evaluateGate, type HealthState, type ServiceHealthView } from './gate';
import type { GateWish } from './state-store';

const svc = (name: string, state: HealthState, detail = ''): ServiceHealthView => ({ name, state, detail });

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

describe('agentCheckLine: what HAProxy reads from the agent-check', () => {
  it('wish open and healthy: "ready up" (re-admitted at once)', () => {
    expect(agentCheckLine('open', [svc('demo-app', 'healthy')])).toBe('ready up\n');
  });

  it('wish closed, healthy: "drain" only (no new sessions; the /gate check decides up or down)', () => {
    expect(agentCheckLine('closed', [svc('demo-app', 'healthy')])).toBe('drain\n');
  });

  it('unhealthy: "down" with the reason after "#", admin word from the wish', () => {
    expect(agentCheckLine('open', [svc('demo-app', 'unhealthy', 'health check answered 500')])).toBe(
      'ready down #demo-app unhealthy: health check answered 500\n',
    );
    expect(agentCheckLine('closed', [svc('demo-app', 'stopped')])).toBe(
      'drain down #demo-app unhealthy: not running\n',
    );
    expect(agentCheckLine('open', [svc('api', 'healthy'), svc('demo-app', 'unknown')])).toBe(
      'ready down #demo-app unhealthy: health not checked yet\n',
    );
  });

  it('keeps the answer on one line and bounded', () => {
    const line = agentCheckLine('open', [svc('demo-app', 'unhealthy', `bad\r\nthing\t${'x'.repeat(500)}`)]);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\r\n\t]/);
    expect(line.startsWith('ready down #demo-app unhealthy: bad thing xxx')).toBe(true);
    expect(line.length).toBeLessThanOrEqual('ready down #'.length + 200 + 1);
  });

  it('never disagrees with GET /gate: "up" exactly when the gate is open; only words HAProxy knows', () => {
    const states: HealthState[] = ['healthy', 'unhealthy', 'stopped', 'unknown'];
    for (const wish of ['open', 'closed'] as GateWish[])
      for (const a of states)
        for (const b of states) {
          const services = [svc('api', a, 'x'), svc('demo-app', b, 'y')];
          const gate = evaluateGate(wish, services);
          const { words, description } = haproxyWords(agentCheckLine(wish, services));
          expect(words.includes('up'), `${wish} ${a} ${b}`).toBe(gate.open);
          expect(words.includes('down'), `${wish} ${a} ${b}`).toBe(
            evaluateGate('open', services).open === false,
          );
          expect(words[0]).toBe(wish === 'open' ? 'ready' : 'drain');
          for (const w of words) expect(['ready', 'drain', 'up', 'down']).toContain(w);
          if (words.includes('down')) expect(description).toBe(evaluateGate('open', services).reason);
        }
  });
});
