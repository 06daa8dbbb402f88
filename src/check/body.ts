// Phase 2b: the request body, parsed for the policy. It runs after the caller is identified and only when the
// policy reads the body (opa deps), so an anonymous caller cannot make tenantgate decode and parse megabytes.
//
// JSON bodies are scanned once before JSON.parse: deeper nesting than limits.max_json_depth is refused before any
// work proportional to the depth (a deep body overflowed the stack where the policy input is serialised), and so is
// a key repeated in one object: parsers disagree on which copy wins (JSON.parse takes the last, others the first),
// so the policy and the upstream could read different values of "model" or "max_tokens".
import { Denial } from '../core/types.js';
import { parseQuery } from './normalize.js';
import { type NormalizedRequest } from '../core/request.js';
import { deny } from '../core/denials.js';

/** Fills parsedBody / bodyError, or refuses the body. */
export function parseBody(req: NormalizedRequest, maxDepth: number): Denial | undefined {
  const body = req.body;
  if (body === null || body === '') return undefined;
  const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/json' || ct.endsWith('+json')) {
    const refused = scanJson(body, maxDepth);
    if (refused) return deny('bad_request', refused);
    try {
      req.parsedBody = JSON.parse(body);
    } catch {
      req.bodyError = 'the request body is not valid JSON';
    }
  } else if (ct === 'application/x-www-form-urlencoded') {
    req.parsedBody = parseQuery(body);
  }
  return undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * One pass over JSON text: the reason to refuse it (too deep, a duplicate key), or null. Syntax is JSON.parse's
 * to judge afterwards; this only tracks brackets outside strings and the keys of each open object.
 */
export function scanJson(text: string, maxDepth: number): string | null {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i++;
      while (i < text.length) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i += 2;
        else if (d === QUOTE) break;
        else i++;
      }
      const keys = open[open.length - 1];
      if (keys && expectKey) {
        expectKey = false;
        let key: string;
        try {
          // Escapes count: "mod\u0065l" is "model".
          key = JSON.parse(text.slice(start, i + 1)) as string;
        } catch {
          return null;
        }
        if (keys.has(key)) return `the request body repeats the key "${key.length > 64 ? key.slice(0, 64) + '...' : key}" in one object`;
        keys.add(key);
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (open.length >= maxDepth) return `the request body is nested deeper than ${maxDepth} levels`;
      open.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = open[open.length - 1] != null;
    }
  }
  return null;
}
