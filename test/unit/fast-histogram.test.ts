// The check-duration histograms (telemetry/fast-histogram.ts) as Prometheus sees them: the same text as
// prom-client's own Histogram for the same observations, alone and summed across cluster workers.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../src/telemetry/fast-histogram.js';

const BOUNDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.01, 0.25];
const observation = fc.record({ transport: fc.constantFrom('grpc', 'http'), seconds: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...BOUNDS)) });

function both(observations: { transport: string; seconds: number }[]) {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({ name: 'tg_check_seconds', help: 'h', labelNames: ['transport'], buckets: BOUNDS, registers: [theirs] });
  const f = new FastHistogram('tg_check_seconds', 'h', BOUNDS, 'transport', ours);
  const plainTheirs = new Histogram({ name: 'tg_policy_seconds', help: 'p', buckets: BOUNDS, registers: [theirs] });
  const plainOurs = new FastHistogram('tg_policy_seconds', 'p', BOUNDS, undefined, ours);
  for (const o of observations) {
    h.observe({ transport: o.transport }, o.seconds);
    f.labelled(o.transport).observe(o.seconds);
    plainTheirs.observe(o.seconds);
    plainOurs.observe(o.seconds);
  }
  return { theirs, ours };
}

describe('FastHistogram', () => {
  it("writes what prom-client's Histogram writes for the same observations", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { minLength: 1, maxLength: 50 }), async (observations) => {
        const { theirs, ours } = both(observations);
        expect(await ours.metrics()).toBe(await theirs.metrics());
      }),
      { numRuns: 200 },
    );
  });

  it('sums across cluster workers as prom-client does', async () => {
    const a = both([{ transport: 'grpc', seconds: 0.0002 }, { transport: 'http', seconds: 0.3 }]);
    const b = both([{ transport: 'grpc', seconds: 0.00004 }]);
    const theirs = AggregatorRegistry.aggregate([await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON()]);
    const ours = AggregatorRegistry.aggregate([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
