// gRPC message framing on the ext_authz listener (src/grpc/framing.ts): messages split across chunks however the
// network cuts them, several in one chunk, the size limit before anything is buffered, compressed messages.
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { MessageReader, frame } from '../../src/grpc/framing.js';
import { GrpcError } from '../../src/grpc/status.js';

const compressed = (payload: Buffer) => {
  const z = gzipSync(payload);
  const out = Buffer.alloc(5 + z.length);
  out[0] = 1;
  out.writeUInt32BE(z.length, 1);
  z.copy(out, 5);
  return out;
};

describe('MessageReader', () => {
  it('reads the same messages however the bytes are cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }), (messages, cuts) => {
        const wire = Buffer.concat(messages.map((m) => frame(m)));
        const reader = new MessageReader(1 << 20, undefined);
        const got: Buffer[] = [];
        let at = 0;
        for (let i = 0; at < wire.length; i++) {
          const n = cuts[i % cuts.length]!;
          got.push(...reader.push(wire.subarray(at, at + n)).map((b) => Buffer.from(b)));
          at += n;
        }
        expect(got.map((b) => b.toString('hex'))).toEqual(messages.map((m) => Buffer.from(m).toString('hex')));
        expect(reader.partial).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('a large message in many chunks, then a second one: both whole, nothing left over', () => {
    const big = randomBytes(3 << 20);
    const wire = Buffer.concat([frame(big), frame(Buffer.from('next'))]);
    const reader = new MessageReader(8 << 20, undefined);
    const got: Buffer[] = [];
    for (let at = 0; at < wire.length; at += 16_384) got.push(...reader.push(wire.subarray(at, at + 16_384)));
    expect(got.map((b) => b.length)).toEqual([big.length, 4]);
    expect(got[0]!.equals(big)).toBe(true);
    expect(reader.partial).toBe(false);
  });

  it('refuses a message over the limit as soon as its length is read, and says so', () => {
    const reader = new MessageReader(1024, undefined);
    const head = Buffer.from([0, 0, 0, 0x10, 0]); // 4,096 bytes announced
    expect(() => reader.push(head)).toThrow(GrpcError);
    expect(() => new MessageReader(1024, undefined).push(head)).toThrow('Received message larger than max (4096 vs. 1024)');
  });

  it('a stream that ends inside a message is partial', () => {
    const reader = new MessageReader(1024, undefined);
    expect(reader.push(frame(Buffer.from('hello')).subarray(0, 7))).toEqual([]);
    expect(reader.partial).toBe(true);
  });

  it('inflates gzip, and refuses a compressed message without a known encoding or past the limit once inflated', () => {
    expect(new MessageReader(1024, 'gzip').push(compressed(Buffer.from('hi')))[0]!.toString()).toBe('hi');
    expect(() => new MessageReader(1024, undefined).push(compressed(Buffer.from('hi')))).toThrow('gzip and deflate are supported');
    expect(() => new MessageReader(1024, 'gzip').push(compressed(Buffer.alloc(4096)))).toThrow(/cannot be inflated within 1024 bytes/);
  });
});
