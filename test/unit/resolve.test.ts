import { describe, expect, it } from 'vitest';
import { TenantResolver } from '../../src/tenancy/resolve.js';
import { normalize } from '../../src/check/normalize.js';
import { type NormalizedRequest } from '../../src/core/request.js';
import { buildCheckRequest, type HttpRequestSpec } from '../../src/check/envoy-request.js';
import { parseConfig } from '../../src/core/config.js';
import { ANONYMOUS } from '../../src/core/types.js';

const cfg = parseConfig({ tenancy: { host_suffixes: ['.api.example.com'] } });
const resolver = new TenantResolver(cfg.tenancy);
const req = (spec: Partial<HttpRequestSpec>) => normalize(buildCheckRequest({ method: 'GET', path: '/', ...spec }), cfg.limits) as NormalizedRequest;

describe('TenantResolver', () => {
  it('collects every hint: header, path, context extension, host', () => {
    expect(
      resolver.hints(req({ path: '/v2/tenants/acme/x', headers: [['x-tenant-id', 'acme']], contextExtensions: { tenant_id: 'acme' }, host: 'acme.api.example.com:8443' })),
    ).toEqual([
      { source: 'header', id: 'acme' },
      { source: 'path', id: 'acme' },
      { source: 'context_extensions', id: 'acme' },
      { source: 'host', id: 'acme' },
    ]);
    expect(resolver.hints(req({ path: '/tenants', host: 'api.example.com' }))).toEqual([]);
  });

  // A fully qualified name (trailing dot) is the same host: its tenant must still be checked.
  it.each(['globex.api.example.com.', 'globex.api.example.com.:443', 'GLOBEX.api.example.com', 'globex.api.example.com:'])('reads the host hint of %s', (host) => {
    expect(resolver.hints(req({ host }))).toEqual([{ source: 'host', id: 'globex' }]);
  });

  it('refuses a host with empty labels', () => {
    expect(resolver.hints(req({ host: 'globex.api.example.com..' }))).toMatchObject({ http_status: 400, code: 'invalid_tenant_id', reason: 'the host name names a malformed tenant id' });
  });

  it.each([
    [{ headers: [['x-tenant-id', 'acme,evil']] as [string, string][] }, 'the x-tenant-id header'],
    [{ path: '/tenants/ACME/x' }, 'the path'],
    [{ contextExtensions: { tenant_id: '' } }, 'context_extensions.tenant_id'],
    [{ host: 'a_b.api.example.com' }, 'the host name'],
  ])('refuses a malformed hint %j with 400 invalid_tenant_id', (spec, where) => {
    expect(resolver.hints(req(spec))).toMatchObject({ http_status: 400, code: 'invalid_tenant_id', reason: `${where} names a malformed tenant id` });
  });

  it('reads the identity tenant or says why not', () => {
    expect(resolver.identityTenant({ ...ANONYMOUS, kind: 'jwt', tenant_id: 'acme' })).toBe('acme');
    expect(resolver.identityTenant({ ...ANONYMOUS, kind: 'jwt', tenant_id: null })).toMatchObject({ http_status: 403, code: 'missing_tenant' });
    expect(resolver.identityTenant({ ...ANONYMOUS, kind: 'jwt', tenant_id: '{"id":1}' })).toMatchObject({ http_status: 400, code: 'invalid_tenant_id' });
  });
});
