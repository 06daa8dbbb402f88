// hex, base64url without padding, and urlquery as OPA has them (Go's encoding/hex, encoding/base64 and net/url).
import { obj, str, type Builtins } from '../wasm/builtin.js';
import { goString } from '../../util/go-text.js';
import { parseQuery, queryEscape, queryUnescape } from '../../util/go-url.js';

export const encodingBuiltins: Builtins = {
  'hex.encode': ([s]) => Buffer.from(str(s), 'utf8').toString('hex'),
  'hex.decode': ([s]) => {
    const h = str(s);
    if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new Error('invalid hex');
    return goString(Buffer.from(h, 'hex'));
  },
  'base64url.encode_no_pad': ([s]) => Buffer.from(str(s), 'utf8').toString('base64url'),
  'urlquery.encode': ([s]) => queryEscape(str(s)),
  'urlquery.decode': ([s]) => queryUnescape(str(s)),
  'urlquery.decode_object': ([s]) => parseQuery(str(s)),
  'urlquery.encode_object': ([o]) => {
    const parts: string[] = [];
    for (const k of Object.keys(obj(o)).sort()) {
      const v = (o as Record<string, unknown>)[k];
      const values = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
      if (!values || !values.every((x) => typeof x === 'string')) throw new Error('values must be string, array[string], or set[string]');
      for (const x of values as string[]) parts.push(`${queryEscape(k)}=${queryEscape(x)}`);
    }
    return parts.join('&');
  },
};
