// Go's view of text where OPA's and the OPA-Envoy plugin's answers depend on it.

/**
 * Bytes as Go's JSON encoding of a Go string shows them: valid UTF-8 as it is, each byte of an invalid sequence as
 * U+FFFD (the WHATWG decoder in Buffer#toString replaces a whole broken sequence with one).
 */
export function goString(bytes: Uint8Array): string {
  let out = '';
  let start = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = validSequence(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += Buffer.from(bytes.subarray(start, i)).toString('utf8') + '\uFFFD';
    i++;
    start = i;
  }
  return out + Buffer.from(bytes.subarray(start)).toString('utf8');
}

/** The length of the valid UTF-8 sequence at i, or 0. */
function validSequence(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => b[i + k] !== undefined && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/**
 * A string as Go's encoding/json writes it: as JSON.stringify does, and U+2028 and U+2029 escaped; with `html`
 * (json.Marshal's default) "<", ">" and "&" too.
 */
export function goJsonString(s: string, html: boolean): string {
  return JSON.stringify(s).replace(html ? /[<>&\u2028\u2029]/g : /[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
