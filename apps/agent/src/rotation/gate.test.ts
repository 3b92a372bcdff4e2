import { describe, expect, it } from 'vitest';
import { evaluateGate, type ServiceHealthView } from './gate';

const healthy = (name: string): ServiceHealthView => ({ name, state: 'healthy', detail: '' });

describe('gate = coordinator wish AND local health', () => {
  it('is open only when the wish is open and every service is healthy', () => {
    expect(evaluateGate('open', [healthy('demo-app'), healthy('api')])).toEqual({
      open: true,
      reason: 'open',
    });
  });

  it('is closed by the coordinator even when healthy', () => {
    expect(evaluateGate('closed', [healthy('demo-app')])).toEqual({
      open: false,
      reason: 'closed by coordinator',
    });
  });

  it('is closed when any service is unhealthy, naming it and why', () => {
    const d = evaluateGate('open', [
      healthy('api'),
      { name: 'demo-app', state: 'unhealthy', detail: 'health check answered 500' },
    ]);
    expect(d).toEqual({ open: false, reason: 'demo-app unhealthy: health check answered 500' });
  });

  it('treats stopped and not-yet-checked services as unhealthy', () => {
    expect(evaluateGate('open', [{ name: 'demo-app', state: 'stopped', detail: '' }]).reason).toBe(
      'demo-app unhealthy: not running',
    );
    expect(evaluateGate('open', [{ name: 'demo-app', state: 'unknown', detail: '' }]).open).toBe(false);
  });

  it('gives every reason when both apply', () => {
    const d = evaluateGate('closed', [{ name: 'demo-app', state: 'stopped', detail: '' }]);
    expect(d).toEqual({ open: false, reason: 'closed by coordinator; demo-app unhealthy: not running' });
  });

  it.each([
    ['open', 'healthy', true],
    ['open', 'unhealthy', false],
    ['closed', 'healthy', false],
    ['closed', 'unhealthy', false],
  ] as const)('wish %s × %s → open=%s', (wish, state, open) => {
    expect(evaluateGate(wish, [{ name: 's', state, detail: 'x' }]).open).toBe(open);
  });
});
