// Envoy's official ext_authz v3 protos (shipped by @grpc/grpc-js-xds under deps/), loaded once at start-up.
// No hand-written copy of Envoy's messages: the same definitions serve the server, the CLI client and the tests.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import protobuf from 'protobufjs';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { installHttpRequestDecoder } from './http-request-decoder.js';

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

let checkRequestType: protobuf.Type | undefined;
/** Envoy's CheckRequest as a protobufjs type, from the same proto files. */
function checkRequest(): protobuf.Type {
  if (!checkRequestType) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      for (const dir of LOADER_OPTIONS.includeDirs!) if (existsSync(join(dir, target))) return join(dir, target);
      return target;
    };
    root.loadSync('envoy/service/auth/v3/external_auth.proto');
    checkRequestType = root.lookupType('envoy.service.auth.v3.CheckRequest');
    installHttpRequestDecoder(checkRequestType);
  }
  return checkRequestType;
}

/**
 * The server's view of the service: requests are decoded once into protobufjs messages (no second conversion
 * into plain objects: the pipeline reads only what it needs, and unset fields read as their defaults), and a
 * response that is already encoded (a Uint8Array) is sent as it is.
 */
export function authServiceForServer(): grpc.ServiceDefinition {
  const def = authServiceDefinition();
  const check = def.Check!;
  const serialize = check.responseSerialize;
  const type = checkRequest();
  return {
    ...def,
    Check: {
      ...check,
      // grpc-js answers INTERNAL when a deserializer throws; bytes that are not a CheckRequest are the caller's
      // fault, so the handler answers INVALID_ARGUMENT for them instead (see MalformedRequest).
      requestDeserialize: (buf: Buffer) => {
        try {
          return type.decode(buf);
        } catch (err) {
          return new MalformedRequest(`the CheckRequest is not a valid protobuf message: ${(err as Error).message}`);
        }
      },
      responseSerialize: (value: unknown) =>
        value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : serialize(value),
    },
  };
}

/** What the server's deserializer hands the handler for bytes that do not decode as a CheckRequest. */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** A client constructor for Envoy's Authorization service (used by `tenantgate check` and the tests). */
export function authClientConstructor(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(authServiceDefinition() as grpc.ServiceDefinition, 'Authorization');
}
