import { describe, expect, it } from 'vitest';
import { errorInfo } from './errors';
import { groupEditions } from './editions-model';

describe('errorInfo', () => {
  const trpcErr = (code: string, message: string) => ({ message, data: { code } });
  it('classifies gateway errors and a missing code as unreachable', () => {
    expect(errorInfo(trpcErr('GATEWAY_TIMEOUT', 'slow')).unreachable).toBe(true);
    expect(errorInfo(trpcErr('NOT_FOUND', 'x'))).toEqual({
      unreachable: false,
      code: 'NOT_FOUND',
      message: 'x',
    });
    expect(errorInfo(new TypeError('Failed to fetch')).message).toBe(
      "The console's server does not answer (Failed to fetch).",
    );
  });
});

describe('groupEditions', () => {
  it('groups editions per application with their state per cluster', () => {
    const e = (app: string, name: string, createdAt: number) => ({
      app,
      name,
      sha256: 'a'.repeat(64),
      size: 1,
      createdAt,
      createdBy: 'cli',
    });
    const st = (edition: string, cluster: string, state: 'ACTIVE' | 'INACTIVE') => ({
      app: 'demo-app',
      edition,
      cluster,
      state,
      activeOn: state === 'ACTIVE' ? 4 : 0,
      installedOn: 4,
      cloneOn: 0,
      servers: 4,
    });
    const [demo, other] = groupEditions(
      [e('demo-app', '2.0', 2), e('demo-app', '1.0', 1), e('other', '1', 3)],
      [st('1.0', 'demo', 'ACTIVE'), st('2.0', 'demo', 'INACTIVE')],
    );
    expect(demo!.editions.map((x) => x.name)).toEqual(['1.0', '2.0']);
    expect(demo!.clusters).toEqual(['demo']);
    expect(demo!.states.get('2.0\u0000demo')?.state).toBe('INACTIVE');
    expect(other!.clusters).toEqual([]);
  });
});
