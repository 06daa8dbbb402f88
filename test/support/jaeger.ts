// A real Jaeger for the tests: scripts/jaeger.mjs (shared with the bench).
import type { JaegerSpan } from '../../scripts/jaeger.mjs';
export { startJaeger, type Jaeger, type JaegerSpan } from '../../scripts/jaeger.mjs';

/** A span's tags as an object. */
export const tagsOf = (s: JaegerSpan): Record<string, unknown> => Object.fromEntries(s.tags.map((t) => [t.key, t.value]));
