// Go's net/url escaping as OPA and the OPA-Envoy plugin use it (shouldEscape, escape and unescape, per part of a
// URL), and its reading of queries.
import { goString } from './go-text.js';
import { dataObject } from './data-object.js';

/** The part of a URL a text is escaped for (Go's encoding modes). */
export type UrlPart = 'path' | 'pathSegment' | 'host' | 'zone' | 'user' | 'query' | 'fragment';

/** Go's shouldEscape. */
function shouldEscape(c: string, mode: UrlPart): boolean {
  if (/[A-Za-z0-9]/.test(c)) return false;
  if ((mode === 'host' || mode === 'zone') && `!$&'()*+,;=:[]<>"`.includes(c)) return false;
  if ('-_.~'.includes(c)) return false;
  if ('$&+,/:;=?@'.includes(c)) {
    if (mode === 'path') return c === '?';
    if (mode === 'pathSegment') return '/;,?'.includes(c);
    if (mode === 'user') return '@/?:'.includes(c);
    if (mode === 'query') return true;
    if (mode === 'fragment') return false;
  }
  if (mode === 'fragment' && '!()*'.includes(c)) return false;
  return true;
}

/** Go's unescape: "%XX" decoded ("+" a space in a query), with Go's errors for bad escapes and bad host bytes. */
export function unescape(s: string, mode: UrlPart): string {
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (c === '%') {
      if (!/^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) throw new Error(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      const v = parseInt(s.slice(i + 1, i + 3), 16);
      if (mode === 'host' && v < 0x80 && parseInt(s[i + 1]!, 16) < 8 && s.slice(i, i + 3) !== '%25') throw new Error('invalid URL escape');
      if (mode === 'zone' && s.slice(i, i + 3) !== '%25' && v !== 0x20 && v < 0x80 && shouldEscape(String.fromCharCode(v), 'host')) throw new Error('invalid URL escape');
      i += 3;
    } else {
      if ((mode === 'host' || mode === 'zone') && c.charCodeAt(0) < 0x80 && shouldEscape(c, mode)) throw new Error(`invalid character ${JSON.stringify(c)} in host name`);
      i++;
    }
  }
  if (!s.includes('%') && !(mode === 'query' && s.includes('+'))) return s;
  const bytes: number[] = [];
  const src = Buffer.from(s, 'utf8');
  for (let i = 0; i < src.length; i++) {
    if (src[i] === 0x25) {
      bytes.push(parseInt(src.subarray(i + 1, i + 3).toString('latin1'), 16));
      i += 2;
    } else bytes.push(mode === 'query' && src[i] === 0x2b ? 0x20 : src[i]!);
  }
  return goString(Uint8Array.from(bytes));
}

/** Go's escape (upper-case hex; a space is "+" in a query). */
export function escape(s: string, mode: UrlPart): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (mode === 'query' && c === ' ') out += '+';
    else out += b < 0x80 && !shouldEscape(c, mode) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's url.PathUnescape. */
export const pathUnescape = (s: string): string => unescape(s, 'pathSegment');
/** Go's url.QueryEscape. */
export const queryEscape = (s: string): string => escape(s, 'query');
/** Go's url.QueryUnescape. */
export const queryUnescape = (s: string): string => unescape(s, 'query');

/** Go's url.ParseQuery: pairs split on "&"; a ";" in a pair, or a bad escape, is an error (the first one). */
export function parseQuery(q: string): Record<string, string[]> {
  const out = dataObject<string[]>();
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
