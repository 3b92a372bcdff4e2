import { describe, expect, it } from 'vitest';
import { formatMs, INVALID_LINK, portalProblem, probeRows } from './portal-model';
import { portalUrl } from './console/portal-link-card';

const trpcErr = (code: string, message = 'm') => ({ message, data: { code } });

describe('the portal', () => {
  it('reads an invalid or expired link as such, and a dead coordinator as unreachable', () => {
    expect(portalProblem(trpcErr('UNAUTHORIZED', 'This portal link is not valid or has expired'))).toEqual({
      kind: 'invalid',
      message: 'This portal link is not valid or has expired',
    });
    expect(portalProblem(trpcErr('BAD_REQUEST'))).toEqual({ kind: 'invalid', message: INVALID_LINK });
    expect(portalProblem(trpcErr('BAD_GATEWAY')).kind).toBe('unreachable');
    expect(portalProblem(new TypeError('Failed to fetch')).kind).toBe('unreachable');
    expect(portalProblem(trpcErr('CONFLICT', 'already signed off'))).toEqual({
      kind: 'other',
      message: 'already signed off',
    });
  });

  it('lists the probes of a functionality test result, and nothing for other results', () => {
    expect(
      probeRows({
        kind: 'functionalTest',
        baseUrl: 'http://lb',
        probes: [{ name: 'health', kind: 'http', ok: true, ms: 12, detail: '200' }],
        passed: 1,
        failed: 0,
      }),
    ).toEqual([{ name: 'health', kind: 'http', ok: true, ms: 12, detail: '200' }]);
    expect(probeRows({ kind: 'dbBackup' })).toEqual([]);
    expect(probeRows(null)).toEqual([]);
    expect(formatMs(850)).toBe('850 ms');
    expect(formatMs(1234)).toBe('1.2 s');
  });

  it('builds the link from the browser origin and the path', () => {
    expect(portalUrl('https://console.example/', '/portal/abc')).toBe('https://console.example/portal/abc');
    expect(portalUrl('http://127.0.0.1:3000', 'portal/abc')).toBe('http://127.0.0.1:3000/portal/abc');
  });
});
