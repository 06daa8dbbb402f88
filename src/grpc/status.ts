// gRPC status codes, the error a handler or the framing raises, and how a status goes on the wire.
import type { ServerHttp2Stream, OutgoingHttpHeaders } from 'node:http2';

export const Status = {
  OK: 0,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export class GrpcError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
  }
}

/** grpc-message is percent-encoded: everything outside printable ASCII, and "%" itself (the gRPC HTTP/2 spec). */
export function encodeMessage(message: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(message) ? message : Buffer.from(message, 'utf8').reduce((s, b) => s + (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`), '');
}

export function statusTrailers(code: number, details = ''): OutgoingHttpHeaders {
  return { 'grpc-status': String(code), 'grpc-message': encodeMessage(details) };
}

const RESPONSE_HEADERS: OutgoingHttpHeaders = Object.freeze({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity,deflate,gzip' });

/** The HEADERS of a response with messages (node:http2 copies them: one object serves every call). */
export function responseHeaders(): OutgoingHttpHeaders {
  return RESPONSE_HEADERS;
}

// No `date` header (node:http2 adds one unless told not to): gRPC has no use for it, and each answer would format and
// HPACK-encode it.
export const MESSAGES_FOLLOW = Object.freeze({ waitForTrailers: true, sendDate: false });
const STATUS_ONLY = Object.freeze({ endStream: true, sendDate: false });

/** A status with no message before it: one HEADERS frame that ends the stream ("trailers-only"). */
export function endWithStatus(stream: ServerHttp2Stream, code: number, details: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    // A streaming call that has sent messages: the status goes in the trailers it asked for.
    stream.once('wantTrailers', () => stream.sendTrailers(statusTrailers(code, details)));
    stream.end();
    return;
  }
  stream.respond({ ...RESPONSE_HEADERS, ...statusTrailers(code, details) }, STATUS_ONLY);
}
