// The floor: a no-op grpc-js ext_authz server on the same Envoy protos, allowing everything. It measures what
// gRPC alone costs on this machine. Usage: node bench/floor-server.mjs 127.0.0.1:PORT
import * as grpc from '@grpc/grpc-js';
import { authServiceDefinition } from '../dist/check/protos.js';

const address = process.argv[2] ?? '127.0.0.1:9291';
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
const OK = { status: { code: 0, message: '' }, okResponse: {} };
server.addService(authServiceDefinition(), { Check: (_call, cb) => cb(null, OK) });
server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  console.log(`floor serving on ${address}`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
