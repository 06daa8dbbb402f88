// What a handler gets for one call, in the shapes grpc-js gives its handlers (so that grpc-health-check and
// @grpc/reflection register on this server unchanged): a unary call with its callback, and a streaming call that
// emits the client's messages and writes the server's.
import { EventEmitter } from 'node:events';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import type { ServerHttp2Stream } from 'node:http2';
import { frame } from './framing.js';
import { MESSAGES_FOLLOW, Status, endWithStatus, responseHeaders, statusTrailers } from './status.js';

export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer | Uint8Array;
  originalName?: string;
}

export type UnaryCallback = (err: { code?: number; details?: string; message?: string } | null, value?: unknown) => void;

export interface AuthContext {
  transportSecurityType?: 'ssl';
  /** The client's certificate, only when the TLS handshake verified it against the client CA. */
  sslPeerCertificate?: PeerCertificate;
}

/**
 * A certificate the handshake did not verify is not handed on: with a client CA but `require_client_cert: false`
 * the handshake accepts any certificate, and its names must not become the peer.
 */
function authContext(stream: ServerHttp2Stream): AuthContext {
  const socket = stream.session?.socket;
  if (!(socket instanceof TLSSocket)) return {};
  return socket.authorized ? { transportSecurityType: 'ssl', sslPeerCertificate: socket.getPeerCertificate() } : { transportSecurityType: 'ssl' };
}

const OK_TRAILERS = statusTrailers(Status.OK);
function sendOk(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

export class UnaryCall {
  constructor(
    readonly request: unknown,
    private readonly stream: ServerHttp2Stream,
  ) {}

  get cancelled(): boolean {
    return this.stream.destroyed;
  }

  getAuthContext(): AuthContext {
    return authContext(this.stream);
  }
}

/** The callback of a unary call: the answer, or a status; nothing once the client has gone. */
export function unaryCallback(stream: ServerHttp2Stream, serialize: MethodDefinition['responseSerialize']): UnaryCallback {
  return (err, value) => {
    if (stream.destroyed || stream.closed) return;
    if (err) return endWithStatus(stream, err.code ?? Status.UNKNOWN, err.details ?? err.message ?? '');
    let payload: Uint8Array;
    try {
      payload = serialize(value);
    } catch (e) {
      return endWithStatus(stream, Status.INTERNAL, `the response could not be serialized: ${(e as Error).message}`);
    }
    stream.respond(responseHeaders(), MESSAGES_FOLLOW);
    stream.once('wantTrailers', sendOk);
    stream.end(frame(payload));
  };
}

/** A server-streaming or bidirectional call: 'data' and 'end' for the client's messages, 'cancelled' if it goes. */
export class StreamCall extends EventEmitter {
  request: unknown;
  cancelled = false;
  private ended = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly serialize: MethodDefinition['responseSerialize'],
  ) {
    super();
    stream.once('close', () => {
      if (this.ended) return;
      this.ended = true;
      this.cancelled = true;
      this.emit('cancelled');
    });
  }

  write(value: unknown): boolean {
    if (this.ended || this.stream.destroyed) return false;
    if (!this.stream.headersSent) this.stream.respond(responseHeaders(), MESSAGES_FOLLOW);
    return this.stream.write(frame(this.serialize(value)));
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stream.destroyed || this.stream.closed) return;
    if (!this.stream.headersSent) return endWithStatus(this.stream, Status.OK, '');
    this.stream.once('wantTrailers', sendOk);
    this.stream.end();
  }

  getAuthContext(): AuthContext {
    return authContext(this.stream);
  }
}
