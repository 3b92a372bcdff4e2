// Issue 16 item 4: `rollgate notify add --events` reads a list of event names and refuses others.
import { describe, expect, it } from 'vitest';
import { parseEvents } from './notify';

describe('notify add --events (issue 16 item 4)', () => {
  it('reads a comma-separated list once each', () => {
    expect(parseEvents('paused, failed,succeeded,paused')).toEqual(['paused', 'failed', 'succeeded']);
  });

  it('names an unknown event and lists the valid ones', () => {
    expect(() => parseEvents('paused,exploded')).toThrow(/unknown event\(s\) exploded: .*rollback-proposed/);
    expect(() => parseEvents(' , ')).toThrow(/--events is empty/);
  });
});
