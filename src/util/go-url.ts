// Go's net/url as OPA and the OPA-Envoy plugin use it: query escaping, and the reading of paths and queries.
import { goString } from './go-text.js';

/** Go's url.PathUnescape: "%XX" decoded ("+" stays), a bad escape is an error. */
export function pathUnescape(s: string): string {
  if (!s.includes('%')) return s;
  return unescape(s, false);
}

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
  return unescape(s, true);
}

function unescape(s: string, plusIsSpace: boolean): string {
  const bytes: number[] = [];
  const src = Buffer.from(s, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x25) {
      const hex = src.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`invalid URL escape ${JSON.stringify(src.subarray(i, i + 3).toString('latin1'))}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(plusIsSpace && b === 0x2b ? 0x20 : b);
  }
  return goString(Buffer.from(bytes));
}

/** Go's url.ParseQuery: pairs split on "&"; a ";" in a pair, or a bad escape, is an error (the first one). */
export function parseQuery(q: string): Record<string, string[]> {
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

