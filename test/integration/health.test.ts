// grpc.health.v1 (Check and Watch), reflection v1 and v1alpha, and graceful shutdown with calls in flight.
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { service as healthService } from 'grpc-health-check';
import { AUDIENCE, bearer, mint, startTestServer, testKeys, waitFor, type TestServer } from '../support/server.js';
import { startJwksServer } from '../support/jwks-server.js';
import { AUTH_SERVICE } from '../../src/check/protos.js';

const HealthClient = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, 'Health');

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

function healthCheck(client: grpc.Client, service: string): Promise<{ status?: string }> {
  return new Promise((resolve, reject) =>
    (client as any).Check({ service }, { deadline: Date.now() + 2000 }, (err: Error | null, res: { status?: string }) => (err ? reject(err) : resolve(res))),
  );
}

describe('health', () => {
  it('answers SERVING for "" and the Authorization service, NOT_FOUND for others', async () => {
    t = await startTestServer();
    const client = new HealthClient(t.server.address, grpc.credentials.createInsecure());
    expect(await healthCheck(client, '')).toEqual({ status: 'SERVING' });
    expect(await healthCheck(client, AUTH_SERVICE)).toEqual({ status: 'SERVING' });
    await expect(healthCheck(client, 'no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    client.close();
  });

  it('Watch sees NOT_SERVING on shutdown, and Checks in flight still get their decision', async () => {
    // Keys behind a slow JWKS URL keep the first Checks in flight for a while: a real reason to be in flight.
    const keys = await testKeys();
    const jwks = await startJwksServer(keys.jwks, 400);
    t = await startTestServer({
      config: { auth: { jwt: { issuers: [{ issuer: 'https://slow-idp.test/', audiences: [AUDIENCE], jwks_url: jwks.url }] } } },
    });
    const client = new HealthClient(t.server.address, grpc.credentials.createInsecure());
    const seen: string[] = [];
    const watch = (client as any).Watch({ service: AUTH_SERVICE });
    watch.on('data', (m: { status: string }) => seen.push(m.status));
    watch.on('error', () => undefined);
    await waitFor(() => seen.length > 0, 'the first Watch message');
    expect(seen).toEqual(['SERVING']);

    const token = await mint({ tenant: 'acme', iss: 'https://slow-idp.test/' });
    const pending = Array.from({ length: 10 }, () => t!.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] }, { timeoutMs: 5000 }));
    await waitFor(() => jwks.requests > 0, 'the calls to reach the server and wait for the keys');
    const shutdown = t.server.shutdown();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.outcome)).toEqual(Array(10).fill('upstream'));
    await shutdown;
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    expect(jwks.requests).toBe(1);
    client.close();
    await jwks.close();

    // And then it is gone: a new call fails at the transport, Envoy's error path.
    const after = await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] }, { timeoutMs: 300 });
    expect(after.outcome).toBe('error');
  });
});

describe('reflection', () => {
  const require = createRequire(import.meta.url);
  const protoDir = join(dirname(require.resolve('@grpc/reflection')), '..', 'proto');

  /** One request on a reflection stream of the given version; resolves with the first reply. */
  async function reflect(version: 'v1' | 'v1alpha', request: Record<string, unknown>): Promise<any> {
    const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [protoDir] });
    const Client = (grpc.loadPackageDefinition(def) as any).grpc.reflection[version].ServerReflection;
    const client = new Client(t!.server.address, grpc.credentials.createInsecure());
    const stream = client.ServerReflectionInfo();
    try {
      return await new Promise<any>((resolve, reject) => {
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.write(request);
      });
    } finally {
      stream.end();
      client.close();
    }
  }

  for (const version of ['v1', 'v1alpha'] as const) {
    it(`lists the services over ${version}`, async () => {
      t = await startTestServer();
      const reply = await reflect(version, { listServices: '' });
      const names = reply.listServicesResponse.service.map((s: { name: string }) => s.name);
      expect(names).toEqual(expect.arrayContaining([AUTH_SERVICE, 'grpc.health.v1.Health']));
    });
  }

  it('describes the Check request type for tools such as grpcurl', async () => {
    t = await startTestServer();
    const reply = await reflect('v1', { fileContainingSymbol: 'envoy.service.auth.v3.CheckRequest' });
    expect(reply.fileDescriptorResponse.fileDescriptorProto.length).toBeGreaterThan(1);
  });
});
