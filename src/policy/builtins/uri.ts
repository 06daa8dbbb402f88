// uri.parse and uri.is_valid as OPA has them (topdown/uri.go over Go's net/url.Parse): the same acceptance, and the
// scheme, hostname, port, path (with the raw path), raw query and fragment that Go's URL gives.
import { str, validity, type Builtins } from '../wasm/builtin.js';
import { escape, unescape } from '../../util/go-url.js';
import { parseIP } from './net.js';

const validPort = (p: string) => p === '' || /^:[0-9]*$/.test(p);

function parseHost(scheme: string, host: string): string {
  const open = host.lastIndexOf('[');
  if (open > 0) throw new Error('invalid IP-literal');
  if (open === 0) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw new Error("missing ']' in host");
    const colonPort = host.slice(close + 1);
    if (!validPort(colonPort)) throw new Error('invalid port after host');
    const name = host.slice(1, close);
    const z = name.indexOf('%25');
    const unescaped = z >= 0 ? unescape(name.slice(0, z), 'host') + unescape(name.slice(z), 'zone') : unescape(name, 'host');
    const pct = unescaped.indexOf('%');
    const addr = pct >= 0 ? unescaped.slice(0, pct) : unescaped;
    const ip = addr.includes(':') ? parseIP(addr) : undefined;
    if (!ip || (pct >= 0 && pct === unescaped.length - 1)) throw new Error('invalid host');
    return `[${unescaped}]${unescape(colonPort, 'host')}`;
  }
  let i = host.indexOf(':');
  if (i !== -1) {
    const last = host.lastIndexOf(':');
    // Go's urlstrictcolons: for http and https the first colon starts the port; for other schemes, the last.
    if (last !== i && scheme !== 'http' && scheme !== 'https') i = last;
    if (!validPort(host.slice(i))) throw new Error('invalid port after host');
  }
  return unescape(host, 'host');
}

const validUserinfo = (s: string) => /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(s);

interface Url {
  scheme: string;
  host: string;
  path: string;
  rawPath: string;
  rawQuery: string;
  fragment: string;
}

/** Go's url.Parse. */
function parseUrl(raw: string): Url {
  const hash = raw.indexOf('#');
  const u = hash < 0 ? raw : raw.slice(0, hash);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(u)) throw new Error('invalid control character in URL');
  const url: Url = { scheme: '', host: '', path: '', rawPath: '', rawQuery: '', fragment: '' };
  if (hash >= 0) url.fragment = unescape(raw.slice(hash + 1), 'fragment');
  if (u === '*') return { ...url, path: '*' };
  let rest = u;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(u);
  if (m) {
    url.scheme = m[1]!.toLowerCase();
    rest = u.slice(m[0].length);
  } else if (u[0] === ':') throw new Error('missing protocol scheme');
  if (rest.endsWith('?') && rest.split('?').length === 2) rest = rest.slice(0, -1);
  else {
    const q = rest.indexOf('?');
    if (q >= 0) [rest, url.rawQuery] = [rest.slice(0, q), rest.slice(q + 1)];
  }
  if (!rest.startsWith('/')) {
    if (url.scheme) return url; // opaque
    if (rest.split('/')[0]!.includes(':')) throw new Error('first path segment in URL cannot contain colon');
  }
  if ((url.scheme || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) [authority, rest] = [authority.slice(0, slash), authority.slice(slash)];
    const at = authority.lastIndexOf('@');
    url.host = parseHost(url.scheme, at < 0 ? authority : authority.slice(at + 1));
    if (at >= 0) {
      const info = authority.slice(0, at);
      if (!validUserinfo(info)) throw new Error('invalid userinfo');
      for (const part of info.includes(':') ? [info.slice(0, info.indexOf(':')), info.slice(info.indexOf(':') + 1)] : [info]) unescape(part, 'user');
    }
  }
  url.path = unescape(rest, 'path');
  url.rawPath = escape(url.path, 'path') === rest ? '' : rest;
  return url;
}

/** Go's splitHostPort for URL.Hostname and URL.Port. */
function hostPort(host: string): [string, string] {
  let h = host;
  let port = '';
  const colon = h.lastIndexOf(':');
  if (colon !== -1 && validPort(h.slice(colon))) [h, port] = [h.slice(0, colon), h.slice(colon + 1)];
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return [h, port];
}

export const uriBuiltins: Builtins = {
  'uri.parse': ([s]) => {
    const u = parseUrl(str(s));
    const [hostname, port] = hostPort(u.host);
    const out: Record<string, string> = {};
    if (u.scheme) out.scheme = u.scheme;
    if (hostname) out.hostname = hostname;
    if (port) out.port = port;
    if (u.path) {
      out.path = u.path;
      out.raw_path = u.rawPath || u.path;
    }
    if (u.rawQuery) out.raw_query = u.rawQuery;
    if (u.fragment) out.fragment = u.fragment;
    return out;
  },
  'uri.is_valid': validity((s) => {
    if (s === '') throw new Error('empty');
    parseUrl(s);
  }),
};
