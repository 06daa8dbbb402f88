// The gRPC listener: ext_authz Check, grpc.health.v1 and reflection, and the drain at shutdown.
import type * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Config } from '../core/config.js';
import type { CheckService } from '../check/service.js';
import { RpcFailure } from '../check/opa-envoy.js';
import { FAILSAFE_RESPONSE } from '../check/respond.js';
import { AUTH_SERVICE, MalformedRequest, authServiceForServer, loadPackageDefinition } from '../check/protos.js';
import { listenerTls, peerOf } from '../tls/listener-tls.js';
import type { Logger } from '../telemetry/logger.js';
import { GrpcServer } from '../grpc/server.js';
import type { UnaryCall, UnaryCallback } from '../grpc/calls.js';
import { Status } from '../grpc/status.js';

export interface GrpcListener {
  address: string;
  port: number;
  /** Health to NOT_SERVING, no new calls, the calls in flight answered (or cut off at shutdown_timeout_ms), closed. */
  drain(): Promise<void>;
}

/** `ready`: whether the store can be read; health follows it (NOT_SERVING while PostgreSQL is unreachable). */
export async function serveGrpc(config: Config, service: CheckService, log: Logger, ready: () => boolean = () => true): Promise<GrpcListener> {
  const tls = listenerTls(config.server.tls);
  const server = new GrpcServer({ maxReceiveBytes: config.server.max_request_bytes, tls });
  const calls = new PendingCalls();
  // The pipeline never throws nor rejects; this is the last line of defence, and it still answers with a decision.
  const failsafe = (err: unknown) => {
    log.error({ err }, 'check failed outside the pipeline');
    return FAILSAFE_RESPONSE;
  };
  server.addService(authServiceForServer(), {
    Check: (call: UnaryCall, callback: UnaryCallback) => {
      if (call.request instanceof MalformedRequest) return callback({ code: Status.INVALID_ARGUMENT, details: call.request.reason });
      let answer: ReturnType<CheckService['checkEncoded']>;
      try {
        answer = service.checkEncoded(call.request, tls.clientCerts ? peerOf(call.getAuthContext()?.sslPeerCertificate) : null);
      } catch (err) {
        answer = failsafe(err);
      }
      // Most checks answer at once; one that waits (a key fetch, PostgreSQL, Redis) is held until it answers.
      if (!(answer instanceof Promise)) return answerCall(callback, answer);
      calls.add(callback);
      answer.catch(failsafe).then((response) => calls.answer(callback, response));
    },
  });
  const status = () => (ready() ? 'SERVING' : 'NOT_SERVING');
  const health = new HealthImplementation({ '': status(), [AUTH_SERVICE]: status() });
  health.addToServer(server as unknown as grpc.Server);
  let draining = false;
  let last = status();
  // The store's reachability, followed at a quarter second: a replica whose store is down is taken out of rotation.
  const follow = setInterval(() => {
    const now = status();
    if (draining || now === last) return;
    last = now;
    health.setStatus('', now);
    health.setStatus(AUTH_SERVICE, now);
  }, 250);
  follow.unref();
  if (config.server.reflection) {
    const { ReflectionService } = await import('@grpc/reflection');
    new ReflectionService(loadPackageDefinition()).addToServer(server as unknown as grpc.Server);
  }
  const port = await server.listen(config.server.address);
  const unix = config.server.address.startsWith('unix:');
  const address = unix ? config.server.address : `${config.server.address.replace(/:\d+$/, '')}:${port}`;

  const drain = async () => {
    draining = true;
    clearInterval(follow);
    health.setStatus('', 'NOT_SERVING');
    health.setStatus(AUTH_SERVICE, 'NOT_SERVING');
    // Stop taking new calls and let the Checks in flight answer. Health Watch streams never end by themselves,
    // so once the Checks are done, give the connections a short grace to flush and close, then end the rest.
    const closed = server.close();
    await calls.settled(config.server.shutdown_timeout_ms, log);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 250).unref())]);
    server.destroy();
  };
  return { address, port, drain };
}

function answerCall(callback: UnaryCallback, response: unknown): void {
  if (response instanceof RpcFailure) callback({ code: response.code, details: response.details });
  else callback(null, response);
}

/** The callbacks of the Check calls in flight: shutdown waits for them, and past its timeout answers them itself. */
class PendingCalls {
  private readonly pending = new Set<UnaryCallback>();
  private drained: (() => void) | undefined;

  add(callback: UnaryCallback): void {
    this.pending.add(callback);
  }

  answer(callback: UnaryCallback, response: unknown): void {
    // Already answered if shutdown cut it off.
    if (!this.pending.delete(callback)) return;
    answerCall(callback, response);
    if (this.pending.size === 0) this.drained?.();
  }

  /** Resolves when no call is in flight, or after `timeoutMs`, answering the rest UNAVAILABLE. */
  settled(timeoutMs: number, log: Logger): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.pending.size === 0) return resolve();
      const force = setTimeout(() => {
        log.warn({ in_flight: this.pending.size }, 'shutdown timeout: answering the calls still in flight UNAVAILABLE');
        for (const callback of this.pending) callback({ code: Status.UNAVAILABLE, details: 'tenantgate is shutting down' });
        this.pending.clear();
        resolve();
      }, timeoutMs);
      force.unref();
      this.drained = () => {
        clearTimeout(force);
        resolve();
      };
    });
  }
}
