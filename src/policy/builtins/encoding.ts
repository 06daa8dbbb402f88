// hex, base64url without padding, and urlquery as OPA has them (Go's encoding/hex, encoding/base64 and net/url).
import { goString, obj, str, type Builtins } from '../wasm/builtin.js';

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** Go's url.QueryEscape: unreserved bytes as they are, space as "+", every other byte as %XX (upper case). */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (b < 0x80 && UNRESERVED.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's url.QueryUnescape: "+" is a space; a "%" not followed by two hex digits is an error. */
export function queryUnescape(s: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(s, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x25) {
      const hex = src.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error('invalid URL escape');
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(b === 0x2b ? 0x20 : b);
  }
  return goString(Buffer.from(bytes));
}

/** Go's url.ParseQuery: pairs split on "&"; a ";" in a pair, or a bad escape, is an error. */
function parseQuery(q: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const pair of q.split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) throw new Error('invalid semicolon separator in query');
    const eq = pair.indexOf('=');
    const k = queryUnescape(eq < 0 ? pair : pair.slice(0, eq));
    const v = queryUnescape(eq < 0 ? '' : pair.slice(eq + 1));
    (out[k] ??= []).push(v);
  }
  return out;
}

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
