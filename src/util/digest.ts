// SHA-256 of a string: base64 for cache keys and interning (44 characters), hex for API key secrets, bytes where
// they are stored.
import * as crypto from 'node:crypto';

// crypto.hash (Node 20.12+) skips the Hash object, about half the cost per call (bench/README.md).
export const sha256Base64: (s: string) => string =
  typeof crypto.hash === 'function' ? (s) => crypto.hash('sha256', s, 'base64') : (s) => crypto.createHash('sha256').update(s).digest('base64');

// Hex, for API key secrets checked on every request: a string, where a Buffer would be an ArrayBuffer with a
// native backing store per request (and more memory per cached key). createHash() makes a Hash, a native object
// that V8 tracks with a weak global handle: one per request lengthens every mark-compact (bench/README.md).
export const sha256Hex: (s: string) => string =
  typeof crypto.hash === 'function' ? (s) => crypto.hash('sha256', s, 'hex') : (s) => crypto.createHash('sha256').update(s).digest('hex');

/** The bytes, as stored (once per key created). */
export const sha256Bytes = (s: string): Buffer => crypto.createHash('sha256').update(s).digest();

/** Whether two strings are equal, in a time that depends on their length only (the loop never stops early). */
export function equalConstantTime(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
