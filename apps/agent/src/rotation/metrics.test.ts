// The agent's metrics (issue 16 item 3): the `metrics` config block (off by default, loopback by
// default, validated) and what the registry exposes.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config';
import { createAgentMetrics } from './metrics';

const valid = (extra: Record<string, unknown> = {}) => ({
  agentId: 'api-1',
  cluster: 'shop',
  role: 'api',
  coordinator: { address: '127.0.0.1:7401' },
  dataDir: '/var/lib/rollgate-agent',
  gate: { host: '0.0.0.0', port: 7070, agentCheckPort: 7071 },
  services: [{ name: 'api', port: 8080, start: { command: 'python3', args: ['server.py'] } }],
  ...extra,
});

describe('agent metrics config (issue 16 item 3)', () => {
  it('is off when absent and binds loopback unless a host is named', () => {
    const off = parseConfig(valid(), '/etc/rollgate');
    expect(off.ok && off.config.metrics).toBeUndefined();
    const on = parseConfig(valid({ metrics: { port: 9470 } }), '/etc/rollgate');
    expect(on.ok && on.config.metrics).toEqual({ host: '127.0.0.1', port: 9470 });
    const wide = parseConfig(valid({ metrics: { host: '0.0.0.0', port: 9470 } }), '/etc/rollgate');
    expect(wide.ok && wide.config.metrics).toEqual({ host: '0.0.0.0', port: 9470 });
  });

  it('refuses a bad port, an unknown key and a port another listener has, naming the field', () => {
    const errors = (metrics: unknown) => {
      const r = parseConfig(valid({ metrics }), '/etc/rollgate');
      return r.ok ? [] : r.errors;
    };
    expect(errors({ port: 70000 }).join('\n')).toMatch(/metrics\.port.*TCP port number 1-65535/);
    expect(errors({ port: 9470, path: '/m' }).join('\n')).toMatch(/metrics.*unknown key "path"/);
    expect(errors({ port: 7070 }).join('\n')).toMatch(/metrics\.port.*port 7070 is already gate\.port/);
    expect(errors({ port: 7071 }).join('\n')).toMatch(/port 7071 is already gate\.agentCheckPort/);
    expect(errors({ port: 8080 }).join('\n')).toMatch(/port 8080 is already the port of a service/);
  });
});

describe('agent metrics registry (issue 16 item 3)', () => {
  it('exposes gate, wish, connection and one-hot service health, op durations, bytes staged and reconnects', async () => {
    let open = true;
    const m = createAgentMetrics(
      {
        gateOpen: () => open,
        gateWishOpen: () => false,
        connected: () => true,
        services: () => [{ name: 'api', state: 'unhealthy' }],
      },
      { processMetrics: false },
    );
    m.welcomed();
    m.welcomed();
    m.welcomed();
    m.bytesStaged(1024);
    m.opFinished('unpack', true, 1.5);
    m.opFinished('start', false, 0.2);
    open = false;
    const text = await m.registry.metrics();
    expect(text).toContain('rollgate_agent_gate_open 0');
    expect(text).toContain('rollgate_agent_gate_wish_open 0');
    expect(text).toContain('rollgate_agent_connected 1');
    expect(text).toContain('rollgate_agent_service_health{service="api",state="unhealthy"} 1');
    expect(text).toContain('rollgate_agent_service_health{service="api",state="healthy"} 0');
    expect(text).toContain('rollgate_agent_reconnects_total 2');
    expect(text).toContain('rollgate_agent_bytes_staged_total 1024');
    expect(text).toContain('rollgate_agent_op_duration_seconds_sum{op="unpack",result="ok"} 1.5');
    expect(text).toContain('rollgate_agent_op_duration_seconds_count{op="start",result="error"} 1');
  });
});
