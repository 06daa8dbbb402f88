// The ExternalProcessor listener (genai.ext_proc_address): Envoy's external processing filter sends it each
// response of the GenAI routes, and the tokens they used settle their reservations and are counted. grpc-js: one
// bidirectional stream per request, which the unary-only ext_authz server (src/grpc/) does not serve.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Config } from '../core/config.js';
import { LOADER_OPTIONS } from '../check/protos.js';
import { processStream, type ProcessingRequest, type UsedTokens } from '../genai/ext-proc.js';
import type { Logger } from '../telemetry/logger.js';
import type { UsageRecorder } from './usage-recorder.js';
import type { ListenerTls } from '../tls/listener-tls.js';

export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';

export function extProcDefinition(): grpc.ServiceDefinition {
  return protoLoader.loadSync('envoy/service/ext_proc/v3/external_processor.proto', LOADER_OPTIONS)[EXT_PROC_SERVICE] as unknown as grpc.ServiceDefinition;
}

export async function startExtProc(opts: { config: Config; tls: ListenerTls; usage: UsageRecorder; log: Logger }): Promise<{ address: string; close(): Promise<void> }> {
  const g = opts.config.genai;
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  const used = (u: UsedTokens) => void opts.usage.used(u).catch((err: unknown) => opts.log.warn({ err: (err as Error).message }, 'token usage could not be settled'));
  server.addService(extProcDefinition(), {
    Process: (call: grpc.ServerDuplexStream<ProcessingRequest, unknown>) => processStream(call, { prices: g.models, maxResponseBytes: g.max_response_bytes, used, failed: (err) => opts.log.warn({ err: err.message }, 'ext_proc stream refused') }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(g.ext_proc_address!, opts.tls.grpc, (err, p) => (err ? reject(err) : resolve(p))));
  await opts.tls.ready();
  return { address: `${g.ext_proc_address!.replace(/:\d+$/, '')}:${port}`, close: () => shutdown(server, 2000) };
}

/** Streams in flight get a moment to end (Envoy holds one per request in flight); then the rest are cut. */
function shutdown(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
