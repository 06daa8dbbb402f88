// envoy/envoy.yaml must be a valid Envoy Bootstrap: parsed with the official protos, strictly.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { checkMessage } from '../support/envoy-config.js';

const ROOT = resolve(__dirname, '..', '..');
const bootstrap = () => parse(readFileSync(join(ROOT, 'envoy', 'envoy.yaml'), 'utf8'));

describe('envoy/envoy.yaml', () => {
  it('is a valid Bootstrap: no unknown field or type anywhere', () => {
    expect(checkMessage('envoy.config.bootstrap.v3.Bootstrap', bootstrap())).toEqual([]);
  });

  it('wires ext_authz to tenantgate as a fail-closed gRPC v3 service with a gRPC health check', () => {
    const b = bootstrap();
    const hcm = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const authz = hcm.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.ext_authz').typed_config;
    expect(authz).toMatchObject({ transport_api_version: 'V3', failure_mode_allow: false, grpc_service: { envoy_grpc: { cluster_name: 'tenantgate' } } });
    expect(authz.grpc_service.timeout).toMatch(/s$/);
    expect(authz.with_request_body.max_request_bytes).toBeGreaterThan(0);
    expect(authz.allowed_headers.patterns).toContainEqual({ exact: 'authorization' });
    expect(hcm.http_filters.at(-1).name).toBe('envoy.filters.http.router');
    const cluster = b.static_resources.clusters.find((c: { name: string }) => c.name === 'tenantgate');
    expect(cluster.health_checks[0].grpc_health_check.service_name).toBe('envoy.service.auth.v3.Authorization');
    expect(cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config).toEqual({ http2_protocol_options: {} });
    const routes = hcm.route_config.virtual_hosts[0].routes;
    expect(routes.some((r: { typed_per_filter_config?: Record<string, { disabled?: boolean }> }) => r.typed_per_filter_config?.['envoy.filters.http.ext_authz']?.disabled)).toBe(true);
    expect(routes.some((r: { route: { cluster_header?: string } }) => r.route.cluster_header === 'x-tenant-upstream')).toBe(true);
  });

  it("sends the responses of the API routes to tenantgate's ExternalProcessor after ext_authz, observing only", () => {
    const b = bootstrap();
    const hcm = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const names = hcm.http_filters.map((f: { name: string }) => f.name);
    expect(names).toEqual(['envoy.filters.http.ext_authz', 'envoy.filters.http.ext_proc', 'envoy.filters.http.router']);
    const proc = hcm.http_filters[1].typed_config;
    expect(proc).toMatchObject({ failure_mode_allow: true, grpc_service: { envoy_grpc: { cluster_name: 'tenantgate-ext-proc' } } });
    expect(proc.processing_mode).toEqual({ request_header_mode: 'SEND', response_header_mode: 'SEND', request_body_mode: 'NONE', response_body_mode: 'STREAMED', request_trailer_mode: 'SKIP', response_trailer_mode: 'SKIP' });
    const routes = hcm.route_config.virtual_hosts[0].routes as { match: { prefix: string }; typed_per_filter_config?: Record<string, { disabled?: boolean }> }[];
    expect(routes.filter((r) => r.typed_per_filter_config?.['envoy.filters.http.ext_proc']?.disabled).map((r) => r.match.prefix)).toEqual(['/healthz', '/docs']);
    const cluster = b.static_resources.clusters.find((c: { name: string }) => c.name === 'tenantgate-ext-proc');
    expect(cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config).toEqual({ http2_protocol_options: {} });
  });

  it('the checker catches a misspelt field, an unknown @type and a bad enum (it can fail)', () => {
    const b = bootstrap();
    const hcm = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    hcm.http_filters[0].typed_config.failure_mode_alow = true;
    hcm.http_filters[1].typed_config['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.nosuch.v3.Nope';
    hcm.codec_type = 'HTTP9';
    const errors = checkMessage('envoy.config.bootstrap.v3.Bootstrap', b);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/failure_mode_alow: unknown field of envoy.extensions.filters.http.ext_authz.v3.ExtAuthz$/),
        expect.stringMatching(/unknown type type.googleapis.com\/envoy.extensions.filters.http.nosuch.v3.Nope$/),
        expect.stringMatching(/codec_type: unknown CodecType value "HTTP9"$/),
      ]),
    );
  });
});
