// String and regular-expression builtins as OPA has them. Patterns are Go's RE2 syntax, translated to a JavaScript
// RegExp (flags groups, \A, \z, named groups); a pattern JavaScript cannot read is an error, so the call is undefined.
import { arr, int, str, type Builtins } from '../wasm/builtin.js';
import { sprintf } from './sprintf.js';

const regexps = new Map<string, RegExp>();

/** A Go (RE2) pattern as a global, Unicode JavaScript RegExp; compiled once per pattern. */
function goRegExp(pattern: string): RegExp {
  let re = regexps.get(pattern);
  if (re) {
    re.lastIndex = 0;
    return re;
  }
  let src = pattern;
  let flags = 'gu';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    src = src.slice(lead[0].length);
    for (const f of lead[1]!) if (f !== 'U' && !flags.includes(f)) flags += f;
    if (lead[1]!.includes('U')) throw new Error('ungreedy flag not supported');
  }
  src = src.replace(/\(\?P</g, '(?<').replace(/\\A/g, '^').replace(/\\z/g, '$(?![\\s\\S])');
  // Go's "$" without the m flag is the end of the text, as JavaScript's is.
  re = new RegExp(src, flags);
  if (regexps.size > 1000) regexps.clear();
  regexps.set(pattern, re);
  return re;
}

/** Go's FindAll: like JavaScript's global matching, except that an empty match right after a match is skipped. */
function goFindAll(re: RegExp, s: string, limit = -1): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  let pos = 0;
  let prevEnd = -1;
  while (pos <= s.length && (limit < 0 || out.length < limit)) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) break;
    const end = m.index + m[0].length;
    let accept = true;
    if (m[0].length === 0 && end === pos) {
      if (m.index === prevEnd) accept = false;
      pos += pos < s.length ? (s.codePointAt(pos)! > 0xffff ? 2 : 1) : 1;
    } else if (m[0].length === 0) {
      if (m.index === prevEnd) accept = false;
      pos = end + 1;
    } else pos = end;
    prevEnd = end;
    if (accept) out.push(m);
  }
  return out;
}

/** Go's regexp.Split(s, -1). */
function regexSplit(pattern: string, s: string): string[] {
  const re = goRegExp(pattern);
  if (pattern.length > 0 && s === '') return [''];
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of goFindAll(re, s)) {
    end = m.index;
    const stop = m.index + m[0].length;
    if (stop !== 0) out.push(s.slice(beg, end));
    beg = stop;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

/** Go's ReplaceAllString template: $1, ${1}, $name, ${name}; $$ is a dollar. */
function goReplacement(template: string): (m: RegExpMatchArray) => string {
  return (m) =>
    template.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, dollar: string, braced?: string, bare?: string) => {
      if (dollar === '$') return '$';
      const name = braced ?? bare!;
      const v = /^\d+$/.test(name) ? m[Number(name)] : m.groups?.[name];
      return v ?? '';
    });
}

/** Go's strings.SplitN (limit < 0: no limit; an empty separator splits into characters). */
function splitN(text: string, delim: string, limit: number): string[] {
  if (limit === 0) return [];
  const parts = delim === '' ? [...text] : text.split(delim);
  if (limit < 0 || parts.length <= limit) return parts;
  return [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(delim)];
}

/** Go's regexp.QuoteMeta. */
const quoteMeta = (s: string) => s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');

/** OPA's regex.template_match: literal text between delimited patterns ("urn:foo:{.*}"), the whole string matched. */
function templateMatch(template: string, value: string, start: string, end: string): boolean {
  if (Buffer.byteLength(start) !== 1 || Buffer.byteLength(end) !== 1) throw new Error('delimiters must be one character long');
  let level = 0;
  let open = 0;
  let last = 0;
  let pattern = '^';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === start && ++level === 1) open = i;
    else if (c === end) {
      if (--level < 0) throw new Error('unbalanced braces');
      if (level === 0) {
        const inner = template.slice(open + 1, i);
        goRegExp(`^${inner}$`); // each variable must compile on its own, as in OPA
        pattern += `${quoteMeta(template.slice(last, open))}(${inner})`;
        last = i + 1;
      }
    }
  }
  if (level !== 0) throw new Error('unbalanced braces');
  return goRegExp(`${pattern}${quoteMeta(template.slice(last))}$`).test(value);
}

const GLOB_SPECIALS = new Set(['*', '?', '\\', '[', ']', '{', '}']);

function affix(suffix: boolean) {
  return ([a, b]: unknown[]) => {
    const strs = typeof a === 'string' ? [a] : arr(a).map(str);
    const affixes = typeof b === 'string' ? [b] : arr(b).map(str);
    return strs.some((s) => affixes.some((p) => (suffix ? s.endsWith(p) : s.startsWith(p))));
  };
}

export const stringBuiltins: Builtins = {
  sprintf,
  'regex.split': ([p, s]) => regexSplit(str(p), str(s)),
  'regex.find_n': ([p, s, n]) => {
    const limit = int(n);
    return goFindAll(goRegExp(str(p)), str(s), limit).map((m) => m[0]);
  },
  'regex.replace': ([s, p, v]) => {
    const replace = goReplacement(str(v));
    const text = str(s);
    let out = '';
    let last = 0;
    for (const m of goFindAll(goRegExp(str(p)), text)) {
      out += text.slice(last, m.index) + replace(m);
      last = m.index + m[0].length;
    }
    return out + text.slice(last);
  },
  'regex.template_match': ([t, v, a, b]) => templateMatch(str(t), str(v), str(a), str(b)),
  'strings.any_prefix_match': affix(false),
  'strings.any_suffix_match': affix(true),
  'strings.count': ([s, sub]) => {
    const x = str(s);
    const y = str(sub);
    if (y === '') return [...x].length + 1;
    return x.split(y).length - 1;
  },
  'strings.split_n': ([s, d, n]) => {
    const text = str(s);
    const delim = str(d);
    const count = int(n);
    // As OPA: Go's SplitN with a limit of n+1, of which the first n parts (the remainder is dropped).
    if (count >= 0) return splitN(text, delim, count + 1).slice(0, count);
    const parts = splitN(text, delim, -1);
    return parts.slice(Math.max(parts.length + count, 0));
  },
  indexof_n: ([b, s]) => {
    const base = [...str(b)];
    const search = [...str(s)];
    if (search.length === 0) throw new Error('empty search character');
    const out: number[] = [];
    for (let i = 0; i + search.length <= base.length; i++) if (search.every((c, j) => base[i + j] === c)) out.push(i);
    return out;
  },
  'glob.quote_meta': ([p]) => [...str(p)].map((c) => (GLOB_SPECIALS.has(c) ? `\\${c}` : c)).join(''),
};
