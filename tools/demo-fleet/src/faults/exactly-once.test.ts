import { describe, expect, it } from 'vitest';
import { checkExactlyOnce } from './exactly-once';

const started = (id: string) => ({ t: 'started', id });
const finished = (id: string, status = 'SUCCEEDED') => ({ t: 'finished', id, status });

describe('checkExactlyOnce', () => {
  const actions = [
    { id: 'r1.s2.admin-1.a1', serverId: 'admin-1', status: 'succeeded' },
    { id: 'r1.s2.stream-1.a1', serverId: 'stream-1', status: 'succeeded' },
  ];

  it('accepts one start and one result per action, on its own server', () => {
    expect(
      checkExactlyOnce(
        {
          'admin-1': [
            started('r1.s2.admin-1.a1'),
            { t: 'op', id: 'r1.s2.admin-1.a1' },
            finished('r1.s2.admin-1.a1'),
          ],
          'stream-1': [started('r1.s2.stream-1.a1'), finished('r1.s2.stream-1.a1')],
        },
        actions,
      ),
    ).toEqual([]);
  });

  it('reports an action started twice, one never run, and a result that disagrees', () => {
    const problems = checkExactlyOnce(
      {
        'admin-1': [
          started('r1.s2.admin-1.a1'),
          started('r1.s2.admin-1.a1'),
          finished('r1.s2.admin-1.a1', 'FAILED'),
        ],
        'stream-1': [],
      },
      actions,
    );
    expect(problems).toEqual([
      'admin-1 started r1.s2.admin-1.a1 2 times',
      'r1.s2.admin-1.a1: the agent journaled failed, the coordinator recorded succeeded',
      'r1.s2.stream-1.a1 is succeeded at the coordinator but started on 0 agents',
    ]);
  });

  it('reports actions the coordinator does not know and actions on the wrong server', () => {
    const problems = checkExactlyOnce(
      {
        'stream-1': [started('r1.s2.admin-1.a1'), finished('r1.s2.admin-1.a1'), started('r1.s9.stream-1.a1')],
      },
      actions,
    );
    expect(problems).toContain('r1.s2.admin-1.a1 is for admin-1 but ran on stream-1');
    expect(problems).toContain('stream-1 ran r1.s9.stream-1.a1, which the coordinator never created');
    expect(problems).toContain('stream-1 journaled 0 results for r1.s9.stream-1.a1');
  });

  it('looks only at the runs asked about', () => {
    expect(
      checkExactlyOnce({ 'admin-1': [started('r0.s1.admin-1.a1')] }, actions, { runIds: ['r1'] }),
    ).toEqual([
      'r1.s2.admin-1.a1 is succeeded at the coordinator but started on 0 agents',
      'r1.s2.stream-1.a1 is succeeded at the coordinator but started on 0 agents',
    ]);
  });
});
