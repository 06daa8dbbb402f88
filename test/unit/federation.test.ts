// The federation verifier through its GrantSource, with real signed tokens: what makes a token valid, and the
// reason for each refusal.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FederationVerifier, signFederationToken, type GrantSource } from '../../src/identity/federation.js';
import type { FederationGrant } from '../../src/core/federation.js';

const grant = (over: Partial<FederationGrant> = {}): FederationGrant => ({
  id: 'g1', source_tenant: 'acme', target_tenant: 'globex', resource_type: 'documents', resource_id: null, access: 'read',
  created_at: '2026-01-01T00:00:00Z', expires_at: '2099-01-01T00:00:00Z', revoked_at: null, ...over,
});

function setup(stored: FederationGrant | undefined) {
  const keyFile = join(mkdtempSync(join(tmpdir(), 'tg-fed-')), 'key.json');
  const source: GrantSource = { get: (id) => (stored && stored.id === id ? stored : undefined) };
  return { keyFile, verifier: new FederationVerifier(keyFile, source) };
}

describe('FederationVerifier', () => {
  it('accepts a token of a live grant, for the tenant it was issued to', async () => {
    const g = grant();
    const { keyFile, verifier } = setup(g);
    const token = await signFederationToken(keyFile, g);
    expect(await verifier.verify(token, 'acme')).toEqual({ valid: true, reason: null, grant: g });
  });

  it.each([
    ['sent by another tenant', {}, 'globex', 'the federation token belongs to another tenant'],
    ['revoked', { revoked_at: '2026-02-01T00:00:00Z' }, 'acme', 'the federation grant has been revoked'],
    ['expired', { expires_at: '2020-01-01T00:00:00Z' }, 'acme', 'the federation grant has expired'],
  ])('refuses a grant %s', async (_what, over, caller, reason) => {
    const g = grant(over);
    const { keyFile, verifier } = setup(g);
    const token = await signFederationToken(keyFile, grant());
    expect(await verifier.verify(token, caller)).toEqual({ valid: false, reason, grant: null });
  });

  it('refuses a token whose grant is gone, a forged token, and anything before a key exists', async () => {
    const { keyFile, verifier } = setup(undefined);
    expect(await verifier.verify('x.y.z', 'acme')).toMatchObject({ valid: false, reason: 'federation is not set up on this server' });
    const token = await signFederationToken(keyFile, grant());
    expect(await verifier.verify(token, 'acme')).toMatchObject({ valid: false, reason: 'the federation grant does not exist' });
    expect(await verifier.verify(token.slice(0, -4) + 'AAAA', 'acme')).toMatchObject({ valid: false, reason: 'the federation token is not valid' });
  });
});
