import { describe, expect, it } from 'vitest';
import { parseStatCounters } from './lb-traffic';

// Columns and rows as HAProxy 2.6 prints them (trimmed to the ones read, in HAProxy's order).
const SHOW_STAT = `# pxname,svname,stot,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,
front,FRONTEND,9,0,7,0,0,2,
demo,app-1,4,0,3,0,1,0,
demo,app-2,9,0,3,0,0,1,
demo,BACKEND,13,0,6,0,1,2,
`;

describe('parseStatCounters (issue 16 item 7)', () => {
  it('counts answers below 500 as served and keeps 5xx apart, backend totals included, frontends left out', () => {
    expect(parseStatCounters(SHOW_STAT)).toEqual([
      { backend: 'demo', name: 'app-1', answered: 4, http5xx: 0 },
      { backend: 'demo', name: 'app-2', answered: 3, http5xx: 1 },
      { backend: 'demo', name: 'BACKEND', answered: 7, http5xx: 2 },
    ]);
  });

  it('refuses an answer that is not show stat, quoting it', () => {
    expect(() => parseStatCounters('Unknown command\n')).toThrow(
      'not a "show stat" answer: "Unknown command"',
    );
  });
});
