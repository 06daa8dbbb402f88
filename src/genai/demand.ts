// What an LLM request may use, reserved at its check: the output its max_tokens allows (max_completion_tokens,
// max_output_tokens; else the model's default, else genai.default_max_tokens), an estimate of its input from the
// body's size, and their cost at the model's price. Only a request whose JSON body names a model is one.
import type { Config } from '../core/config.js';
import type { NormalizedRequest } from '../core/request.js';
import type { TokenDemand } from '../quota/limits.js';
import { costOf, nanoUsd } from './prices.js';

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);

export function demandOf(req: NormalizedRequest, g: Config['genai']): (TokenDemand & { model: string }) | undefined {
  const b = req.parsedBody;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return undefined;
  const body = b as Record<string, unknown>;
  const model = typeof body.model === 'string' ? body.model : undefined;
  if (!model) return undefined;
  const output = count(body.max_tokens) ?? count(body.max_completion_tokens) ?? count(body.max_output_tokens) ?? g.models[model]?.default_max_tokens ?? g.default_max_tokens;
  const input = Math.ceil(Buffer.byteLength(req.body ?? '') / g.bytes_per_input_token);
  return { model, input, output, costNanoUsd: nanoUsd(costOf(g.models, { model, input_tokens: input, output_tokens: output })) };
}
