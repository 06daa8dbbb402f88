export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  duration: number;
}

export interface Jaeger {
  /** tenantgate's tracing.endpoint. */
  otlpEndpoint: string;
  /** The spans of a trace, once at least `min` have arrived (the export is batched); throws after `timeoutMs`. */
  trace(traceId: string, min?: number, timeoutMs?: number): Promise<JaegerSpan[]>;
  close(): Promise<void>;
}

export function startJaeger(): Promise<Jaeger>;
