// Decision logs as JSON lines (stdout or a file), written asynchronously so the hot path never waits on I/O.
// Credentials never reach the log: authorization, cookie, x-api-key and federation tokens are redacted.
import pino from 'pino';
import type { Outcome } from '../core/outcome.js';

export const REDACTED_HEADERS = new Set(['authorization', 'cookie', 'x-api-key', 'x-federation-token', 'proxy-authorization', 'set-cookie']);

export interface DecisionLogOptions {
  output: string; // "stdout" or a file path
  sampleAllows: number; // 0..1
  includeHeaders: boolean;
  /** The policy input, credential headers redacted (for tenantgate replay). */
  includeInput?: boolean;
  extraRedacted?: string[];
  /** Longer header, path and host values are cut to this many characters (a marker says how many were cut). */
  maxValueBytes?: number;
  /** Denials of anonymous callers written per second at most (they cost an attacker nothing); 0: no limit. */
  anonymousDenialsPerSecond?: number;
}

export class DecisionLog {
  private readonly log: pino.Logger;
  private readonly redacted: Set<string>;
  private readonly dest: pino.DestinationStream & { flushSync?: () => void; end?: () => void };
  private readonly maxValue: number;
  /** Values cut short, and anonymous denials not written, since start (metrics read them). */
  truncated = 0;
  dropped = 0;
  private anonymousSecond = 0;
  private anonymousInSecond = 0;

  constructor(private readonly opts: DecisionLogOptions) {
    this.maxValue = opts.maxValueBytes ?? 1024;
    this.redacted = new Set([...REDACTED_HEADERS, ...(opts.extraRedacted ?? []).map((h) => h.toLowerCase())]);
    this.dest = pino.destination({ dest: opts.output === 'stdout' ? 1 : opts.output, sync: false, mkdir: true, minLength: 0 });
    this.log = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, this.dest);
  }

  record(o: Outcome, latencyMs: number): void {
    const d = o.decision;
    if (d.allowed && this.opts.sampleAllows < 1 && Math.random() >= this.opts.sampleAllows) return;
    if (!d.allowed && o.identity.kind === 'anonymous' && !this.admitAnonymous()) {
      this.dropped++;
      return;
    }
    const req = o.request;
    const entry: Record<string, unknown> = {
      decision_id: o.decisionId,
      tenant: o.tenant?.id ?? null,
      subject: o.identity.subject,
      identity: o.identity.kind,
      api_key_id: o.identity.api_key_id,
      route: req ? { method: req.method, path: this.cap(req.path), host: this.cap(req.host) } : null,
      decision: d.allowed ? 'allow' : 'deny',
      code: d.allowed ? null : (d.code ?? 'denied'),
      http_status: d.allowed ? 200 : (d.http_status ?? 403),
      reason: d.allowed ? null : (d.reason ?? null),
      policy_revision: o.policyRevision,
      latency_ms: Math.round(latencyMs * 1000) / 1000,
    };
    if ('federation' in d && d.federation) entry.federation = d.federation;
    if (o.tenantRule !== undefined) entry.tenant_rule = o.tenantRule;
    if (o.reserved) entry.reservation = { input_tokens: o.reserved.input, output_tokens: o.reserved.output, cost_usd: o.reserved.costNanoUsd / 1e9 };
    if (this.opts.includeHeaders && req) entry.headers = this.redact(req.headers);
    if (this.opts.includeInput && o.policyInput) entry.input = this.redactInput(o.policyInput);
    this.log.info(entry, 'decision');
  }

  /** The tokens a response used (GenAI, from Envoy's external processing), a line of its own after its decision. */
  usage(u: Record<string, unknown>): void {
    this.log.info(u, 'usage');
  }

  /** The policy input with the request's headers redacted as above (the rest is not a credential). */
  private redactInput(input: Record<string, unknown>): Record<string, unknown> {
    type Attrs = { request?: { http?: { headers?: Record<string, string> } } };
    const attrs = input.attributes as Attrs | undefined;
    const http = attrs?.request?.http;
    if (!http?.headers) return input;
    return { ...input, attributes: { ...attrs, request: { ...attrs!.request, http: { ...http, headers: this.redact(http.headers) } } } };
  }

  redact(headers: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) out[this.cap(k)] = this.redacted.has(k) ? '[redacted]' : this.cap(v);
    return out;
  }

  private cap(v: string): string {
    if (v.length <= this.maxValue) return v;
    this.truncated++;
    return `${v.slice(0, this.maxValue)}...[${v.length - this.maxValue} more characters]`;
  }

  private admitAnonymous(): boolean {
    const limit = this.opts.anonymousDenialsPerSecond ?? 0;
    if (limit <= 0) return true;
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.anonymousSecond) {
      this.anonymousSecond = second;
      this.anonymousInSecond = 0;
    }
    return ++this.anonymousInSecond <= limit;
  }

  close(): void {
    try {
      this.dest.flushSync?.();
    } catch {
      // Not ready yet (nothing written): nothing to flush.
    }
    this.dest.end?.();
  }
}
