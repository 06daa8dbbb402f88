// Envoy's official ext_authz v3 protos (shipped by @grpc/grpc-js-xds under deps/), loaded once at start-up.
// No hand-written copy of Envoy's messages: the same definitions serve the server, the CLI client and the tests.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';
import { protoPath as healthProtoPath } from 'grpc-health-check';

const require = createRequire(import.meta.url);
const xdsRoot = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

export const ENVOY_PROTO_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(xdsRoot, 'deps', d));
export const AUTH_SERVICE = 'envoy.service.auth.v3.Authorization';

// protojson-style names (lowerCamelCase), as OPA-Envoy hands them to policies; int64 as strings; bytes as Buffers.
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [...ENVOY_PROTO_DIRS, dirname(healthProtoPath)],
};

let cached: protoLoader.PackageDefinition | undefined;

/** The package definition with the ext_authz and health services (reflection describes both). */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(['envoy/service/auth/v3/external_auth.proto', healthProtoPath], LOADER_OPTIONS);
  return cached;
}

export function authServiceDefinition(): grpc.ServiceDefinition {
  return loadPackageDefinition()[AUTH_SERVICE] as unknown as grpc.ServiceDefinition;
}

/** The same service, but a response that is already encoded (a Uint8Array) is sent as it is. */
export function authServiceWithEncodedResponses(): grpc.ServiceDefinition {
  const def = authServiceDefinition();
  const check = def.Check!;
  const serialize = check.responseSerialize;
  return {
    ...def,
    Check: {
      ...check,
      responseSerialize: (value: unknown) =>
        value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : serialize(value),
    },
  };
}

/** A client constructor for Envoy's Authorization service (used by `tenantgate check` and the tests). */
export function authClientConstructor(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(authServiceDefinition() as grpc.ServiceDefinition, 'Authorization');
}
