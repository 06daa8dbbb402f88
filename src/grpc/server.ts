// A gRPC server on node:http2 for the ext_authz listener. grpc-js costs about 23 µs of CPU per unary call more than
// node:http2 under load (a pre-encoded OK at saturation: 66 against 43 µs, bench/README.md), a third of
// tenantgate's per-check budget; the listener needs only unary and streaming calls with grpc-js's handler shapes,
// message limits, gzip/deflate, TLS with client certificates and a graceful drain, which this provides.
// The admin API stays on grpc-js: it is not on the hot path.
import http2 from 'node:http2';
import type { ListenerTls } from '../tls/listener-tls.js';
import { MessageReader } from './framing.js';
import { StreamCall, UnaryCall, unaryCallback, type MethodDefinition, type UnaryCallback } from './calls.js';
import { GrpcError, Status, endWithStatus } from './status.js';

export type { MethodDefinition } from './calls.js';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- handlers come from grpc-js-typed libraries
type Handler = (call: any, callback?: UnaryCallback) => void;

interface Method {
  def: MethodDefinition;
  handler: Handler;
}

const ignore = () => undefined;

export class GrpcServer {
  private readonly methods = new Map<string, Method>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private stopWatching: () => void = ignore;

  constructor(
    private readonly options: { maxReceiveBytes: number; tls: ListenerTls },
  ) {
    const settings = { maxSessionMemory: 64 };
    if (options.tls.enabled) {
      const secure = http2.createSecureServer({ ...settings, ...options.tls.initial(), allowHTTP1: false });
      this.stopWatching = options.tls.watch((ctx) => secure.setSecureContext(ctx));
      this.server = secure;
    } else this.server = http2.createServer(settings);
    this.server.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.on('error', ignore);
      session.once('close', () => this.sessions.delete(session));
    });
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  /** Registers a service as grpc-js's Server.addService does: handlers by method name or original name. */
  addService(definition: object, implementation: object): void {
    const impl = implementation as Record<string, Handler | undefined>;
    for (const [name, def] of Object.entries(definition as Record<string, MethodDefinition>)) {
      const handler = impl[name] ?? (def.originalName ? impl[def.originalName] : undefined);
      if (handler) this.methods.set(def.path, { def, handler });
    }
  }

  /** `host:port`, `[v6]:port` or `unix:path`; resolves with the port bound (0 for a socket). */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const done = () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      };
      if (address.startsWith('unix:')) return this.server.listen(address.replace(/^unix:(\/\/)?/, ''), done);
      const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
      if (!m) return reject(new Error(`server.address ${address} is not host:port or unix:path`));
      this.server.listen(Number(m[2]), m[1], done);
    });
  }

  /** No new connections; the open ones are told to go away (GOAWAY) and finish the calls they have. */
  close(): Promise<void> {
    this.stopWatching();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) s.close();
    return closed;
  }

  /** Ends every connection now (streams that never end by themselves, such as health Watch). */
  destroy(): void {
    for (const s of this.sessions) s.destroy();
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', ignore);
    const type = headers['content-type'];
    if (typeof type !== 'string' || !type.startsWith('application/grpc')) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: true });
      return;
    }
    const path = headers[':path'] ?? '';
    const method = this.methods.get(path);
    if (!method) return endWithStatus(stream, Status.UNIMPLEMENTED, `the server does not implement the method ${path}`);
    const reader = new MessageReader(this.options.maxReceiveBytes, headers['grpc-encoding'] as string | undefined);
    if (method.def.requestStream) this.streaming(stream, method, reader);
    else this.unary(stream, method, reader);
  }

  /** One request message, read to the end of the stream, then the handler. */
  private unary(stream: http2.ServerHttp2Stream, { def, handler }: Method, reader: MessageReader): void {
    let message: Buffer | undefined;
    let count = 0;
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        for (const m of reader.push(chunk)) {
          message = m;
          count++;
        }
      } catch (err) {
        failed = true;
        fail(stream, err);
      }
    });
    stream.once('end', () => {
      if (failed) return;
      if (count !== 1 || reader.partial) return endWithStatus(stream, Status.INTERNAL, `a unary call takes one whole request message; it sent ${count}${reader.partial ? ' and part of another' : ''}`);
      let request: unknown;
      try {
        request = def.requestDeserialize(message!);
      } catch (err) {
        return endWithStatus(stream, Status.INTERNAL, `the request could not be read: ${(err as Error).message}`);
      }
      if (!def.responseStream) return handler(new UnaryCall(request, stream), unaryCallback(stream, def.responseSerialize));
      const call = new StreamCall(stream, def.responseSerialize);
      call.request = request;
      handler(call);
    });
  }

  /** Client streaming and bidirectional: the handler first, then each message as it comes, then 'end'. */
  private streaming(stream: http2.ServerHttp2Stream, { def, handler }: Method, reader: MessageReader): void {
    const call = new StreamCall(stream, def.responseSerialize);
    handler(call);
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        for (const m of reader.push(chunk)) call.emit('data', def.requestDeserialize(m));
      } catch (err) {
        failed = true;
        fail(stream, err);
      }
    });
    stream.once('end', () => {
      if (!failed) call.emit('end');
    });
  }
}

function fail(stream: http2.ServerHttp2Stream, err: unknown): void {
  if (err instanceof GrpcError) endWithStatus(stream, err.code, err.details);
  else endWithStatus(stream, Status.INTERNAL, (err as Error).message);
}
