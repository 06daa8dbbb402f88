import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, envOverrides, loadConfig, parseConfig } from '../../src/core/config.js';

describe('config', () => {
  it('fills defaults and resolves relative paths against the base dir', () => {
    const c = parseConfig({}, '/srv/tg');
    expect(c.server.address).toBe('127.0.0.1:9191');
    expect(c.store.path).toBe('/srv/tg/data/tenantgate.db');
    expect(c.auth.jwt.tenant_claim).toBe('tenant_id');
    expect(c.policies.entrypoint).toBe('tenantgate/authz/decision');
  });

  it('reads the contract keys from YAML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-cfg-'));
    const file = join(dir, 'tg.yaml');
    writeFileSync(
      file,
      `server:\n  address: 0.0.0.0:9000\nstore:\n  path: /var/lib/tg.db\nauth:\n  jwt:\n    issuers:\n      - issuer: https://idp.example.com/\n        audiences: [tenantgate]\n        jwks_file: /etc/jwks.json\n    tenant_claim: custom:tenant_id\n`,
    );
    const c = loadConfig(file, {});
    expect(c.server.address).toBe('0.0.0.0:9000');
    expect(c.store.path).toBe('/var/lib/tg.db');
    expect(c.auth.jwt.issuers[0]).toMatchObject({ issuer: 'https://idp.example.com/', audiences: ['tenantgate'], jwks_file: '/etc/jwks.json' });
    expect(c.auth.jwt.tenant_claim).toBe('custom:tenant_id');
  });

  it('applies TENANTGATE_<SECTION>__<KEY> overrides over the file', () => {
    expect(envOverrides({ TENANTGATE_SERVER__ADDRESS: '0.0.0.0:1', TENANTGATE_AUTH__JWT__CACHE_SIZE: '5', OTHER: 'x', TENANTGATE_CONFIG: 'ignored' })).toEqual({
      server: { address: '0.0.0.0:1' },
      auth: { jwt: { cache_size: 5 } },
    });
    const c = loadConfig(undefined, { TENANTGATE_STORE__PATH: '/tmp/x.db', TENANTGATE_LIMITS__MAX_HEADERS: '64' });
    expect(c.store.path).toBe('/tmp/x.db');
    expect(c.limits.max_headers).toBe(64);
  });

  it.each([
    [{ server: { adress: 'x' } }, 'server.adress: unknown key'],
    [{ server: { address: 'nope' } }, 'server.address: must be host:port'],
    [{ auth: { jwt: { issuers: [{ issuer: 'x', jwks_file: 'a', secret_env: 'B' }] } } }, 'auth.jwt.issuers.0: exactly one of jwks_file, jwks_url or secret_env'],
    [{ auth: { jwt: { issuers: [{ issuer: 'x', jwks_url: 'not a url' }] } } }, 'auth.jwt.issuers.0.jwks_url'],
    [{ log: { level: 'loud' } }, 'log.level'],
    [{ policies: { entrypoint: 'envoy/authz/allow', shadow: { dir: 'next' } } }, 'policies.shadow: not available in the OPA-Envoy mode'],
  ])('names the bad key: %j', (raw, message) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(message);
  });

  it('refuses a missing file and invalid YAML', () => {
    expect(() => loadConfig('/nonexistent/tg.yaml', {})).toThrow('config file not found: /nonexistent/tg.yaml');
    const dir = mkdtempSync(join(tmpdir(), 'tg-cfg-'));
    writeFileSync(join(dir, 'bad.yaml'), 'server: [unclosed\n');
    expect(() => loadConfig(join(dir, 'bad.yaml'), {})).toThrow(/is not valid YAML/);
  });
});
