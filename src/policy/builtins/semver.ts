// semver.is_valid and semver.compare as OPA has them (its internal/semver): SemVer 2.0.0, with an optional "v".
import { str, validity, type Builtins } from '../wasm/builtin.js';

interface Version {
  major: bigint;
  minor: bigint;
  patch: bigint;
  pre: string;
}

const IDENTIFIERS = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
const MAX = 2n ** 63n - 1n;
const decimals = (s: string) => /^[0-9]+$/.test(s);

function numeric(s: string): bigint {
  if (!decimals(s) || (s.length > 1 && s[0] === '0')) throw new Error(`${s} is not a valid numeric identifier`);
  const n = BigInt(s);
  if (n > MAX) throw new Error('out of range');
  return n;
}

function parseSemver(text: string): Version {
  let version = text.startsWith('v') ? text.slice(1) : text;
  const plus = version.indexOf('+');
  if (plus >= 0) {
    if (!IDENTIFIERS.test(version.slice(plus + 1))) throw new Error('invalid metadata');
    version = version.slice(0, plus);
  }
  let pre = '';
  const dash = version.indexOf('-');
  if (dash >= 0) {
    pre = version.slice(dash + 1);
    if (!IDENTIFIERS.test(pre) || pre.split('.').some((id) => id.length > 1 && id[0] === '0' && decimals(id))) throw new Error('invalid pre-release');
    version = version.slice(0, dash);
  }
  const parts = version.split('.');
  if (parts.length !== 3) throw new Error('should contain major, minor, and patch versions');
  return { major: numeric(parts[0]!), minor: numeric(parts[1]!), patch: numeric(parts[2]!), pre };
}

const cmp = <T>(a: T, b: T) => (a > b ? 1 : a < b ? -1 : 0);

function compareSemver(a: Version, b: Version): number {
  const c = cmp(a.major, b.major) || cmp(a.minor, b.minor) || cmp(a.patch, b.patch);
  if (c) return c;
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  const x = a.pre.split('.');
  const y = b.pre.split('.');
  for (let i = 0; ; i++) {
    if (i >= x.length || i >= y.length) return cmp(x.length, y.length);
    const p = x[i]!;
    const q = y[i]!;
    const pn = decimals(p);
    const qn = decimals(q);
    if (pn !== qn) return pn ? -1 : 1;
    const r = pn ? cmp(BigInt(p), BigInt(q)) : cmp(p, q);
    if (r) return r;
  }
}

export const semverBuiltins: Builtins = {
  'semver.is_valid': validity(parseSemver),
  'semver.compare': ([a, b]) => compareSemver(parseSemver(str(a)), parseSemver(str(b))),
};
