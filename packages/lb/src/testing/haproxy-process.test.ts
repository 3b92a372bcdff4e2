import { describe, expect, it } from 'vitest';
import { withStatsSocket } from './haproxy-process';

describe('withStatsSocket', () => {
  it('adds the runtime socket to an existing global section', () => {
    const r = withStatsSocket('global\n    maxconn 100\n\ndefaults\n    mode http\n', '/tmp/x/admin.sock');
    expect(r.socketPath).toBe('/tmp/x/admin.sock');
    expect(r.config).toBe(
      'global\n    stats socket /tmp/x/admin.sock mode 600 level admin expose-fd listeners\n    maxconn 100\n\ndefaults\n    mode http\n',
    );
  });

  it('creates a global section when there is none', () => {
    const r = withStatsSocket('defaults\n    mode http\n', '/tmp/x/admin.sock');
    expect(r.config.startsWith('global\n    stats socket /tmp/x/admin.sock mode 600 level admin')).toBe(true);
    expect(r.config.endsWith('defaults\n    mode http\n')).toBe(true);
  });

  it('keeps a config that has its own stats socket, and reports its path', () => {
    const cfg = 'global\n    stats socket unix@/run/h.sock mode 600 level admin\n';
    expect(withStatsSocket(cfg, '/tmp/x/admin.sock')).toEqual({ config: cfg, socketPath: '/run/h.sock' });
  });
});
