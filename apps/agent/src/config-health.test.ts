import { describe, expect, it } from 'vitest';
import { parseConfig } from './config';

const withHealth = (health?: unknown) => ({
  agentId: 'api-1',
  cluster: 'shop',
  role: 'api',
  coordinator: { address: '127.0.0.1:7443' },
  dataDir: '/var/lib/rollgate-agent',
  gate: { port: 7070 },
  services: [
    {
      name: 'api',
      port: 8081,
      start: { command: 'python3', args: ['server.py'] },
      ...(health === undefined ? {} : { health }),
    },
  ],
});

describe('services[].health in the agent config (issue 13 item 3)', () => {
  it('defaults to fall 3, rise 2, timeoutMs 2000', () => {
    const r = parseConfig(withHealth(), '/etc/rollgate');
    expect(r.ok && r.config.services[0]!.health).toEqual({ fall: 3, rise: 2, timeoutMs: 2000 });
  });

  it('takes each field on its own, the others defaulted', () => {
    const r = parseConfig(withHealth({ fall: 5 }), '/etc/rollgate');
    expect(r.ok && r.config.services[0]!.health).toEqual({ fall: 5, rise: 2, timeoutMs: 2000 });
  });

  it('refuses bad values naming the field and an example', () => {
    const r = parseConfig(withHealth({ fall: 0, rise: 1.5, timeoutMs: 10, fails: 3 }), '/etc/rollgate');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.join('\n')).toContain('services[0].health: unknown key "fails"');
    const again = parseConfig(withHealth({ fall: 0, rise: 1.5, timeoutMs: 10 }), '/etc/rollgate');
    if (again.ok) throw new Error('expected a refusal');
    expect(again.errors).toEqual([
      'services[0].health.fall: expected a whole number of failed probes 1-100 (e.g. 3), got 0',
      'services[0].health.rise: expected a whole number of passed probes 1-100 (e.g. 2), got 1.5',
      'services[0].health.timeoutMs: expected a probe timeout in ms, 100-60000 (e.g. 2000), got 10',
    ]);
  });
});
