// gRPC's length-prefixed messages over an HTTP/2 stream: a flag byte (compressed or not), a 4-byte big-endian
// length, the message. Incoming messages are bounded by the server's maximum before they are buffered or inflated.
import { gunzipSync, inflateSync } from 'node:zlib';
import { GrpcError, Status } from './status.js';

/** One message framed for the wire, uncompressed. */
export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.byteLength);
  out[0] = 0;
  out.writeUInt32BE(payload.byteLength, 1);
  out.set(payload, 5);
  return out;
}

/** Splits the data of a stream into messages; throws a GrpcError for a message over the limit or one it cannot read. */
export class MessageReader {
  /** Chunks of a message not yet whole, joined once it is (joining at every chunk would copy a large one over and over). */
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly maxBytes: number,
    /** The request's grpc-encoding header. */
    private readonly encoding: string | undefined,
  ) {}

  /** The messages a chunk completes (most calls: exactly one, in one chunk, without a copy). */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < 5) break;
      const head = this.chunks[0]!.length >= 5 ? this.chunks[0]! : this.join();
      const length = head.readUInt32BE(1);
      if (length > this.maxBytes) throw new GrpcError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${this.maxBytes})`);
      if (this.buffered < 5 + length) break;
      const buf = this.chunks.length === 1 ? this.chunks[0]! : this.join();
      const body = buf.subarray(5, 5 + length);
      out.push(buf[0] === 0 ? body : this.inflate(body));
      const rest = buf.subarray(5 + length);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
    }
    return out;
  }

  /** Whether a message has begun and not ended: the stream ended in the middle of one. */
  get partial(): boolean {
    return this.buffered > 0;
  }

  private join(): Buffer {
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined;
  }

  private inflate(body: Buffer): Buffer {
    const options = { maxOutputLength: this.maxBytes };
    try {
      if (this.encoding === 'gzip') return gunzipSync(body, options);
      if (this.encoding === 'deflate') return inflateSync(body, options);
    } catch (err) {
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `the compressed message cannot be inflated within ${this.maxBytes} bytes: ${(err as Error).message}`);
    }
    throw new GrpcError(Status.UNIMPLEMENTED, `a compressed message with grpc-encoding ${this.encoding ?? '(none)'}: gzip and deflate are supported`);
  }
}
