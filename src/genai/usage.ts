// The token usage of an LLM response in OpenAI's schema, read as the body streams by: a JSON response's "usage"
// ({prompt_tokens, completion_tokens}, or input_tokens / output_tokens), or a streamed response's (Server-Sent
// Events) last event that carries one (OpenAI sends it with stream_options.include_usage, before "data: [DONE]").
// Bounded: a JSON body is kept up to a limit, an event stream only as its current line.

export interface TokenUsage {
  model: string | null;
  input_tokens: number;
  output_tokens: number;
}

const decoder = new TextDecoder();

export class UsageReader {
  private json = '';
  private tooLong = false;
  private line = '';
  private found: TokenUsage | null = null;

  /** `eventStream`: the response's content-type is text/event-stream. */
  constructor(
    private readonly eventStream: boolean,
    private readonly maxJsonBytes: number,
  ) {}

  push(chunk: Uint8Array): void {
    const text = decoder.decode(chunk, { stream: true });
    if (!this.eventStream) {
      if (this.tooLong) return;
      if (this.json.length + text.length > this.maxJsonBytes) {
        this.tooLong = true;
        this.json = '';
        return;
      }
      this.json += text;
      return;
    }
    const lines = (this.line + text).split('\n');
    this.line = lines.pop() ?? '';
    // A line longer than the limit cannot be an event worth reading: dropped, the stream read on.
    if (this.line.length > this.maxJsonBytes) this.line = '';
    for (const l of lines) this.event(l);
  }

  /** The usage the response reported, or null (none, not JSON, or larger than the limit). */
  end(): TokenUsage | null {
    if (this.eventStream) {
      this.event(this.line);
      return this.found;
    }
    return this.tooLong ? null : usageOf(parse(this.json));
  }

  private event(line: string): void {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (!l.startsWith('data:')) return;
    const data = l.slice(5).trim();
    if (data === '' || data === '[DONE]') return;
    const u = usageOf(parse(data));
    if (u) this.found = u;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/** `usage` of a response object, in OpenAI's names (or the Responses API's / Anthropic's input_/output_tokens). */
export function usageOf(body: unknown): TokenUsage | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as { usage?: Record<string, unknown> | null; model?: unknown };
  const u = b.usage;
  if (typeof u !== 'object' || u === null) return null;
  const input = count(u.prompt_tokens) ?? count(u.input_tokens);
  const output = count(u.completion_tokens) ?? count(u.output_tokens) ?? 0;
  if (input === undefined) return null;
  return { model: typeof b.model === 'string' ? b.model : null, input_tokens: input, output_tokens: output };
}
