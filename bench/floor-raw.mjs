// The raw floor: grpc-js answering every Check with one pre-encoded OK CheckResponse, the request left as bytes
// (no protobuf decoding at all). What gRPC alone costs in Node; `floor-server.mjs` adds proto-loader's decoding.
// Usage: node bench/floor-raw.mjs 127.0.0.1:PORT
import * as grpc from '@grpc/grpc-js';
import { AUTH_SERVICE } from '../dist/check/protos.js';
import { encodeCheckResponse } from '../dist/check/encode.js';

const address = process.argv[2] ?? '127.0.0.1:9292';
const OK = Buffer.from(encodeCheckResponse({ status: { code: 0, message: '' }, okResponse: { headers: [], headersToRemove: [], responseHeadersToAdd: [] } }));
const definition = {
  Check: {
    path: `/${AUTH_SERVICE}/Check`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b) => b,
    requestDeserialize: (b) => b,
    responseSerialize: (b) => b,
    responseDeserialize: (b) => b,
  },
};
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
server.addService(definition, { Check: (_call, cb) => cb(null, OK) });
server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  console.log(`raw floor serving on ${address}`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
