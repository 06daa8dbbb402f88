// The digests: the hex one matches createHash, and the constant-time comparison agrees with === on any strings.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { equalConstantTime, sha256Base64, sha256Bytes, sha256Hex } from '../../src/util/digest.js';

describe('digests', () => {
  it('hex, base64 and bytes are SHA-256 of the UTF-8 string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const want = createHash('sha256').update(s).digest();
        expect(sha256Hex(s)).toBe(want.toString('hex'));
        expect(sha256Base64(s)).toBe(want.toString('base64'));
        expect(sha256Bytes(s)).toEqual(want);
      }),
    );
  });

  it('equalConstantTime is string equality', () => {
    const h = sha256Hex('secret');
    expect(equalConstantTime(h, sha256Hex('secret'))).toBe(true);
    expect(equalConstantTime(h, sha256Hex('secret!'))).toBe(false);
    expect(equalConstantTime(h, h.slice(0, 63))).toBe(false);
    expect(equalConstantTime(h, `${h.slice(0, 63)}${h[63] === '0' ? '1' : '0'}`)).toBe(false);
    expect(equalConstantTime('', '')).toBe(true);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => equalConstantTime(a, b) === (a === b)));
    fc.assert(fc.property(fc.string({ unit: 'binary', minLength: 1 }), (a) => equalConstantTime(a, a) && !equalConstantTime(a, a + 'x')));
  });
});
