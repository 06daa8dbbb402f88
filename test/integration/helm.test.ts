// The Helm chart (deploy/helm/tenantgate) and the Istio recipe (deploy/istio), without a cluster: every documented
// combination lints, renders and validates against the Kubernetes schemas of a current release; combinations that
// cannot work are refused with a reason; the rendered container starts from what was rendered and serves.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import protobuf from 'protobufjs';
import { CHART, ROOT, find, helm, problems, render, runContainer, type Doc } from '../support/kubernetes.js';
import { AUDIENCE, ISSUER, bearer, mint, testKeys } from '../support/server.js';
import { envoyCheck } from '../support/envoy.js';
import { createAuthClient } from '../../src/cli/check-client.js';
import { ENVOY_PROTO_DIRS } from '../../src/check/protos.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { freePort } from '../support/redis-server.js';
import { checkMessage } from '../support/envoy-config.js';

/** The combinations docs/kubernetes.md documents, by name. */
const COMBINATIONS: Record<string, object> = {
  'shared, the defaults': {},
  'shared, a fleet on PostgreSQL and Redis': {
    replicaCount: 3,
    store: { postgres: { url: 'postgres://tenantgate@postgres.db:5432/tenantgate?sslmode=verify-full', passwordSecret: { name: 'pg', key: 'password' }, caSecret: { name: 'pg-ca', key: 'ca.crt' } } },
    quota: { enabled: true, redis: { urlSecret: { name: 'redis', key: 'url' } } },
    admin: { existingSecret: 'tenantgate-admin' },
    auth: { jwt: { issuers: [{ issuer: 'https://idp.example.com/', audiences: ['api'], jwksUrl: 'https://idp.example.com/.well-known/jwks.json' }, { issuer: 'https://internal/', audiences: ['api'], jwksSecret: { name: 'internal-jwks', key: 'jwks.json' } }] } },
    policies: { bundleUrl: 'https://bundles.example.com/tenantgate/bundle.tar.gz' },
    serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
    config: { tenancy: { context_cache_size: 100000 }, decision_log: { enabled: true } },
  },
  'shared, one replica with a persistent SQLite and a policy ConfigMap': {
    store: { sqlite: { persistence: { enabled: true, size: '2Gi', storageClass: 'fast' } } },
    policies: { bundleConfigMap: 'tenantgate-policy' },
  },
  'sidecar, on a unix socket, in the application\'s pod': {
    mode: 'sidecar',
    sidecar: { envoy: { upstream: { address: '127.0.0.1', port: 3000 } }, extraContainers: [{ name: 'app', image: 'registry.example.com/app:1.4.2', ports: [{ containerPort: 3000 }] }] },
  },
  'sidecar, on localhost TCP': { mode: 'sidecar', sidecar: { unixSocket: false } },
};

describe('the Helm chart', () => {
  it.each(Object.keys(COMBINATIONS))('%s: lints, renders, and every manifest validates', (name) => {
    const values = COMBINATIONS[name]!;
    const lint = helm(['lint', '--strict', CHART], values);
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    const docs = render(values);
    expect(docs.map((d) => d.kind)).toEqual(expect.arrayContaining(['ConfigMap', 'Service', 'Deployment']));
    expect(problems(docs)).toEqual([]);
  });

  it('fleet: the replicas share PostgreSQL and Redis from Secrets, never a password in the config', () => {
    const docs = render(COMBINATIONS['shared, a fleet on PostgreSQL and Redis']!);
    const config = parse(find(docs, 'ConfigMap', 't-tenantgate').data['tenantgate.yaml']);
    expect(config.store).toEqual({ url: 'postgres://tenantgate@postgres.db:5432/tenantgate?sslmode=verify-full', ssl_ca_file: '/etc/tenantgate/postgres-ca/ca.crt' });
    expect(config.quota).toEqual({ enabled: true, store: 'redis' });
    expect(config.auth.jwt.issuers[1]).toEqual({ issuer: 'https://internal/', audiences: ['api'], jwks_file: '/etc/tenantgate/jwks/1/jwks.json' });
    expect(config.tenancy).toEqual({ context_cache_size: 100000 });
    const deployment = find(docs, 'Deployment');
    expect(deployment.spec.replicas).toBe(3);
    const env = deployment.spec.template.spec.containers[0].env;
    expect(env).toEqual(expect.arrayContaining([{ name: 'TENANTGATE_STORE_PASSWORD', valueFrom: { secretKeyRef: { name: 'pg', key: 'password' } } }, { name: 'TENANTGATE_QUOTA__REDIS_URL', valueFrom: { secretKeyRef: { name: 'redis', key: 'url' } } }]));
    expect(find(docs, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
    // One replica: no budget, which would keep its only pod from ever being evicted.
    expect(render({}).some((d) => d.kind === 'PodDisruptionBudget')).toBe(false);
    expect(render({ mode: 'sidecar' }).some((d) => d.kind === 'PodDisruptionBudget')).toBe(false);
    expect(find(docs, 'ServiceMonitor').spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }]);
  });

  it.each(["sidecar, on a unix socket, in the application's pod", 'sidecar, on localhost TCP'])('%s: the rendered envoy.yaml is a valid Envoy Bootstrap (official protos, strictly)', (name) => {
    const envoy = parse(find(render(COMBINATIONS[name]!), 'ConfigMap', 't-tenantgate-envoy').data['envoy.yaml']);
    expect(checkMessage('envoy.config.bootstrap.v3.Bootstrap', envoy)).toEqual([]);
    const authz = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config;
    expect(authz).toMatchObject({ transport_api_version: 'V3', failure_mode_allow: false, grpc_service: { envoy_grpc: { cluster_name: 'tenantgate' } } });
  });

  it("sidecar: the application's container, Envoy and tenantgate in one pod; Envoy sends what is allowed to the application", () => {
    const docs = render(COMBINATIONS["sidecar, on a unix socket, in the application's pod"]!);
    expect(find(docs, 'Deployment').spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['tenantgate', 'envoy', 'app']);
    const envoy = parse(find(docs, 'ConfigMap', 't-tenantgate-envoy').data['envoy.yaml']);
    const app = envoy.static_resources.clusters.find((c: { name: string }) => c.name === 'app');
    expect(app.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 3000 });
  });

  it('a persistent SQLite volume: a claim, and pods replaced one after the other (Recreate)', () => {
    const docs = render(COMBINATIONS['shared, one replica with a persistent SQLite and a policy ConfigMap']!);
    expect(find(docs, 'PersistentVolumeClaim').spec).toMatchObject({ accessModes: ['ReadWriteOnce'], storageClassName: 'fast', resources: { requests: { storage: '2Gi' } } });
    expect(find(docs, 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
    expect(find(render({}), 'Deployment').spec.strategy).toBeUndefined();
  });

  it('runs as a non-root user on a read-only root filesystem, with probes on gRPC health and /readyz', () => {
    const c = find(render({}), 'Deployment').spec.template.spec.containers[0];
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.livenessProbe.grpc).toEqual({ port: 9191 });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.resources.requests).toEqual({ cpu: '250m', memory: '192Mi' });
  });

  it.each([
    [{ replicaCount: 2 }, 'replicaCount > 1 needs a store the replicas share'],
    [{ store: { postgres: { url: 'postgres://u:secret@db/t' } } }, 'store.postgres.url holds a password'],
    [{ policies: { bundleConfigMap: 'a', bundleUrl: 'https://b/c' } }, 'set policies.bundleConfigMap or policies.bundleUrl, not both'],
    [{ auth: { jwt: { issuers: [{ issuer: 'https://x/', audiences: ['a'] }] } } }, 'issuer https://x/: set jwksUrl or jwksSecret'],
    [{ mode: 'daemonset' }, 'mode must be shared or sidecar'],
  ])('refuses %j: %s', (values, message) => {
    const r = helm(['template', 't', CHART], values);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
  });
});

describe('the rendered container serves', () => {
  let pg: PostgresServer | undefined;
  afterAll(() => pg?.close());

  async function ports() {
    return { grpc: await freePort(), http: await freePort(), admin: await freePort() };
  }

  it('shared: the admin token and the JWKS from Secrets; the probes pass and a check is decided', async () => {
    const keys = await testKeys();
    const docs = render({ ports: await ports(), admin: { existingSecret: 'admin' }, auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwksSecret: { name: 'jwks', key: 'keys.json' } }] } } });
    const pod = await runContainer(docs, { admin: { token: 'admin-secret' }, jwks: { 'keys.json': JSON.stringify(keys.jwks) } });
    try {
      expect(await pod.probe('livenessProbe')).toBe(true);
      expect(await pod.probe('startupProbe')).toBe(true);
      const client = createAuthClient(pod.env.TENANTGATE_SERVER__ADDRESS!.replace('0.0.0.0', '127.0.0.1'));
      // The key from the Secret verifies the token; the new store knows no tenant yet.
      const r = await envoyCheck(client, { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'acme' }))] });
      client.close();
      expect(r.outcome === 'denied' && [r.status, JSON.parse(r.body).error]).toEqual([403, 'unknown_tenant']);
    } finally {
      await pod.stop();
    }
  });

  it('sidecar: tenantgate on the unix socket Envoy is configured to call', async () => {
    const docs = render({ mode: 'sidecar', ports: await ports() });
    const envoy = parse(find(docs, 'ConfigMap', 't-tenantgate-envoy').data['envoy.yaml']);
    const socket = envoy.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe.path;
    const pod = await runContainer(docs);
    try {
      expect(pod.env.TENANTGATE_SERVER__ADDRESS).toBe(`unix:${pod.path(socket)}`);
      expect(await pod.probe('livenessProbe')).toBe(true);
      const client = createAuthClient(`unix:${pod.path(socket)}`);
      const r = await envoyCheck(client, { method: 'GET', path: '/api/v1/items' });
      client.close();
      expect(r.outcome === 'denied' && [r.status, JSON.parse(r.body).error]).toEqual([401, 'unauthenticated']);
    } finally {
      await pod.stop();
    }
  });

  it('fleet: the replica reads PostgreSQL with the password from its Secret', async () => {
    pg = await startPostgres();
    const url = new URL(await pg.createDatabase('helm'));
    const password = decodeURIComponent(url.password);
    url.password = '';
    const docs = render({ ports: await ports(), store: { postgres: { url: url.toString(), passwordSecret: { name: 'pg', key: 'password' } } } });
    const pod = await runContainer(docs, { pg: { password } });
    try {
      expect(await pod.probe('readinessProbe')).toBe(true);
      const metrics = await (await fetch(`http://127.0.0.1:${find(docs, 'Service').spec.ports.find((p: any) => p.name === 'http').port}/metrics`)).text();
      expect(metrics).toMatch(/^tenantgate_store_version \d+/m);
    } finally {
      await pod.stop();
    }
  });
});

describe('the Istio recipe', () => {
  const istioApi = join(ROOT, '.tools', 'istio-api');

  /** Every key a field of its message in Istio's own protos (by JSON name), every value of the field's type. */
  function checkAgainstProto(value: unknown, type: protobuf.Type, at: string): string[] {
    if (typeof value !== 'object' || value === null) return [`${at}: not an object`];
    const out: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      const field = Object.values(type.fields).find((f) => f.name === k || (f as unknown as { jsonName?: string }).jsonName === k || protobuf.util.camelCase(f.name) === k);
      if (!field) {
        out.push(`${at}.${k}: no such field in ${type.fullName}`);
        continue;
      }
      field.resolve();
      const t = field.resolvedType;
      if (t instanceof protobuf.Type && !t.fullName.startsWith('.google.protobuf.')) {
        for (const item of field.repeated ? (v as unknown[]) : [v]) out.push(...checkAgainstProto(item, t, `${at}.${k}`));
      } else if (t instanceof protobuf.Enum) {
        if (!(String(v) in t.values)) out.push(`${at}.${k}: ${String(v)} is not one of ${Object.keys(t.values).join(', ')}`);
      }
    }
    return out;
  }

  it('the mesh config entry: an envoyExtAuthzGrpc provider Istio knows, field by field', () => {
    const root = new protobuf.Root();
    // Istio's protos, then the Google API protos they import (shipped with Envoy's).
    root.resolvePath = (_o, target) => (target.startsWith('google/protobuf/') ? target : [istioApi, ...ENVOY_PROTO_DIRS].map((d) => join(d, target)).find((f) => existsSync(f)) ?? target);
    root.loadSync('mesh/v1alpha1/config.proto', { keepCase: true });
    const mesh = root.lookupType('istio.mesh.v1alpha1.MeshConfig');
    const values = parse(readFileSync(join(ROOT, 'deploy', 'istio', 'istiod-values.yaml'), 'utf8'));
    expect(checkAgainstProto(values.meshConfig, mesh, 'meshConfig')).toEqual([]);
    expect(values.meshConfig.extensionProviders[0].envoyExtAuthzGrpc).toMatchObject({ service: 'tenantgate.tenantgate.svc.cluster.local', port: 9191, failOpen: false });
    // And a wrong field is caught, so the check can fail.
    expect(checkAgainstProto({ extensionProviders: [{ name: 'x', envoyExtAuthzGrpc: { service: 's', fail_open_please: true } }] }, mesh, 'meshConfig')).toHaveLength(1);
  });

  it('the AuthorizationPolicies validate against Istio\'s CRD schema, and the provider is the one the mesh config names', () => {
    const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'istio', 'authorization-policy.yaml'), 'utf8')).map((d) => d.toJSON() as Doc);
    expect(problems(docs)).toEqual([]);
    const custom = docs.find((d) => d.spec.action === 'CUSTOM')!;
    const values = parse(readFileSync(join(ROOT, 'deploy', 'istio', 'istiod-values.yaml'), 'utf8'));
    expect(custom.spec.provider.name).toBe(values.meshConfig.extensionProviders[0].name);
    expect(problems([{ ...custom, spec: { ...custom.spec, action: 'CUSTOMISE' } }])).toHaveLength(1);
  });
});
