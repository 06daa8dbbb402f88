// Child spans of the check being decided, for work a phase starts on the way (a store miss, a JWKS fetch, a Redis
// call). The telemetry layer implements it when tracing is on (telemetry/tracing.ts); off, nothing is recorded and
// the work runs as it is.
export interface Spans {
  /** Runs `work` in a span named `name`, a child of the check being decided, until it returns or settles. */
  around<T>(name: string, work: () => T): T;
  /** Whether spans are recorded at all (off: callers skip what they would set up only for them). */
  readonly enabled: boolean;
}

export const NO_SPANS: Spans = { around: (_name, work) => work(), enabled: false };
