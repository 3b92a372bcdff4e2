import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { TrafficChart } from './traffic-chart';
import { layoutTraffic, trafficPoints, type TrafficSample } from './traffic-model';

const sample = (at: number, a: [string, number], b: [string, number], failed = 0): TrafficSample => ({
  at,
  servers: [
    { haproxyServer: 'demo/web-1', edition: a[0], served: a[1] },
    { haproxyServer: 'demo/web-2', edition: b[0], served: b[1] },
  ],
  failed,
});

describe('the traffic chart (issue 16 item 7)', () => {
  it('counts what each server served between two reads under the edition it runs at the later one', () => {
    const points = trafficPoints([
      sample(1000, ['1.0', 10], ['1.0', 10]),
      sample(2000, ['1.0', 13], ['1.0', 12]),
      sample(3000, ['2.0', 15], ['1.0', 14], 1),
    ]);
    expect(points).toEqual([
      { at: 2000, seconds: 1, served: { '1.0': 5 }, failed: 0 },
      { at: 3000, seconds: 1, served: { '2.0': 2, '1.0': 2 }, failed: 1 },
    ]);
  });

  it('takes a counter that went down (HAProxy restarted) as counting from zero', () => {
    const points = trafficPoints([
      sample(1000, ['1.0', 50], ['1.0', 50], 3),
      sample(2000, ['1.0', 4], ['1.0', 2]),
    ]);
    expect(points).toEqual([{ at: 2000, seconds: 1, served: { '1.0': 6 }, failed: 0 }]);
  });

  it('draws one line per edition and the failed line, with totals in the legend', () => {
    const points = trafficPoints([
      sample(1000, ['1.0', 0], ['1.0', 0]),
      sample(2000, ['1.0', 3], ['2.0', 2]),
      sample(3000, ['2.0', 5], ['2.0', 4]),
    ]);
    expect(layoutTraffic(points).lines.map((l) => [l.edition, l.total])).toEqual([
      ['1.0', 3],
      ['2.0', 6],
    ]);
    // Rates per second: 5 requests over a 2 s interval is 2.5/s, so the scale tops at 3/s.
    expect(
      layoutTraffic(trafficPoints([sample(0, ['1.0', 0], ['1.0', 0]), sample(2000, ['1.0', 5], ['1.0', 0])]))
        .max,
    ).toBe(3);
    const html = renderToStaticMarkup(createElement(TrafficChart, { points }));
    expect(html).toContain('<svg');
    expect(html.match(/<polyline/g)).toHaveLength(3);
    expect(html.replace(/<[^>]+>/g, '')).toContain('edition 2.0: 6 served');
    expect(html.replace(/<[^>]+>/g, '')).toContain('failed: 0');
  });
});
