import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/telemetry/metrics.js';

const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('Metrics: the hot path counts into plain numbers, read into the series at each scrape', () => {
  it('counts what happened since start, across scrapes, per label set', async () => {
    const m = new Metrics(1, {});
    m.checked(null, 'grpc', 0.0001);
    m.checked(null, 'grpc', 0.0001);
    m.checked('quota_exceeded', 'grpc', 0.0001);
    m.quotaDenied('quota_exceeded');
    m.tenantCheck('acme');
    m.tenantCheck('globex');
    let text = await m.registry.metrics();
    expect(value(text, 'tenantgate_checks_total{decision="allow",code="ok"}')).toBe(2);
    expect(value(text, 'tenantgate_checks_total{decision="deny",code="quota_exceeded"}')).toBe(1);
    expect(value(text, 'tenantgate_quota_denials_total{code="quota_exceeded"}')).toBe(1);
    expect(value(text, 'tenantgate_tenant_checks_total{tenant="acme"}')).toBe(1);
    expect(value(text, 'tenantgate_tenant_checks_total{tenant="_other"}')).toBe(1);
    // A second scrape adds only what came after the first.
    m.checked(null, 'http', 0.0001);
    m.quotaDenied('quota_exceeded');
    text = await m.registry.metrics();
    expect(value(text, 'tenantgate_checks_total{decision="allow",code="ok"}')).toBe(3);
    expect(value(text, 'tenantgate_checks_total{decision="deny",code="quota_exceeded"}')).toBe(1);
    expect(value(text, 'tenantgate_quota_denials_total{code="quota_exceeded"}')).toBe(2);
    text = await m.registry.metrics();
    expect(value(text, 'tenantgate_checks_total{decision="allow",code="ok"}')).toBe(3);
  });
});
