// OpenTelemetry traces: one span per check, continuing the caller's W3C traceparent from the CheckRequest's
// headers, with the tenant, decision, denial code, policy revision and each phase's time; child spans for the work
// a phase starts (store misses, JWKS fetches, Redis calls); exported over OTLP (HTTP, protobuf) in batches.
// Off by default; the modules are loaded only when it is on, and off the pipeline only tests `run.trace`.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { Config } from '../core/config.js';
import type { Spans } from '../core/spans.js';
import type { Outcome } from '../core/outcome.js';

const propagator = new W3CTraceContextPropagator();
/** Milliseconds since the epoch, with a fraction: the span's start (CheckPipeline) and its phases on one clock. */
const clock = (): number => performance.timeOrigin + performance.now();
const headerGetter = {
  keys: (h: Record<string, string>) => Object.keys(h),
  get: (h: Record<string, string>, key: string) => h[key],
};

/** The span of one check: each phase's time, then the outcome. */
export class CheckTrace {
  private last: number;
  /** The phase under way (normalising the request, when the span starts). */
  private current = 'normalize';

  constructor(
    readonly span: Span,
    private readonly tracing: Tracing,
    startTime: number,
  ) {
    this.last = startTime;
  }

  /** The phase under way has ended and `next` begins: the one that ended becomes an attribute with its time. */
  phase(next: string): void {
    const now = clock();
    this.span.setAttribute(`tenantgate.phase.${this.current}_ms`, Math.round((now - this.last) * 1000) / 1000);
    this.current = next;
    this.last = now;
  }

  /** The check's synchronous work runs under this span from here (child spans take it as their parent)... */
  enter(): void {
    this.tracing.current = this.span;
  }

  /** ...until here. */
  leave(): void {
    this.tracing.current = undefined;
  }

  end(o: Outcome): void {
    this.phase('');
    const d = o.decision;
    const s = this.span;
    s.setAttribute('tenantgate.decision', d.allowed ? 'allow' : 'deny');
    if (!d.allowed) s.setAttribute('tenantgate.denial_code', d.code ?? 'denied');
    if (o.tenant) s.setAttribute('tenantgate.tenant', o.tenant.id);
    s.setAttribute('tenantgate.policy_revision', o.policyRevision);
    s.setAttribute('tenantgate.decision_id', o.decisionId);
    s.setAttribute('tenantgate.identity.kind', o.identity.kind);
    if (o.request) {
      s.setAttribute('http.request.method', o.request.method);
      s.setAttribute('url.path', o.request.path);
    }
    // A denial is the service working; a failure to decide is an error.
    if (d.code === 'internal_error' || d.code === 'store_unavailable' || d.code === 'policy_error') s.setStatus({ code: SpanStatusCode.ERROR, message: d.code });
    s.end();
  }
}

export class Tracing implements Spans {
  readonly enabled = true;
  /** The span of the check whose synchronous part is running now (set by CheckTrace.enter/leave). */
  current: Span | undefined;
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;

  constructor(cfg: Config['tracing']) {
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': cfg.service_name }),
      // A caller's sampled flag is followed; a trace that starts here is kept at the configured ratio.
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sample_ratio) }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: cfg.endpoint, headers: cfg.headers }), scheduledDelayMillis: cfg.export_interval_ms })],
    });
    this.tracer = this.provider.getTracer('tenantgate');
  }

  /** A check's span, continuing a traceparent in its headers; undefined when it is not sampled. */
  startCheck(headers: Record<string, string>, startTime: number): CheckTrace | undefined {
    const parent = headers.traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    const span = this.tracer.startSpan('tenantgate.check', { kind: SpanKind.SERVER, startTime }, parent);
    if (!span.isRecording()) return undefined;
    return new CheckTrace(span, this, startTime);
  }

  around<T>(name: string, work: () => T): T {
    const parent = this.current;
    if (!parent) return work();
    const span = this.tracer.startSpan(name, { kind: name.includes('fetch') || name.includes('redis') ? SpanKind.CLIENT : SpanKind.INTERNAL }, trace.setSpan(ROOT_CONTEXT, parent));
    const failed = (err: unknown) => {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      throw err;
    };
    let result: T;
    try {
      result = work();
    } catch (err) {
      return failed(err);
    }
    if (result instanceof Promise) {
      return result.then((v: unknown) => {
        span.end();
        return v;
      }, failed) as T;
    }
    span.end();
    return result;
  }

  /** Sends what is buffered, then stops. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
