// Starts the real server for a test: a real SQLite file in a temp dir, real compiled WASM, real keys,
// on an ephemeral loopback port; plus a real gRPC client built from the same Envoy protos.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import * as jose from 'jose';
import type * as grpc from '@grpc/grpc-js';
import { parseConfig } from '../../src/core/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openDatabase } from '../../src/store/database.js';
import { TenantRepository } from '../../src/store/tenants.js';
import { type Tier, type TenantStatus } from '../../src/core/tenants.js';
import { createAuthClient } from '../../src/cli/check-client.js';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';
import { Admin } from '../../src/admin/operations.js';
import { envoyCheck, type EnvoyOptions, type EnvoyResult } from './envoy.js';
import type { HttpRequestSpec } from '../../src/check/envoy-request.js';

export const ISSUER = 'https://idp.test/';
export const AUDIENCE = 'tenantgate';

type CryptoKey = import('node:crypto').webcrypto.CryptoKey;

export interface TestKeys {
  es256: { privateKey: CryptoKey; kid: string };
  rs256: { privateKey: CryptoKey; kid: string };
  eddsa: { privateKey: CryptoKey; kid: string };
  jwks: jose.JSONWebKeySet;
}

let keysPromise: Promise<TestKeys> | undefined;
export function testKeys(): Promise<TestKeys> {
  keysPromise ??= (async () => {
    const make = async (alg: string, kid: string) => {
      const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
      return { privateKey, kid, pub: { ...(await jose.exportJWK(publicKey)), kid, alg } };
    };
    const [es, rs, ed] = await Promise.all([make('ES256', 'es-1'), make('RS256', 'rs-1'), make('EdDSA', 'ed-1')]);
    return {
      es256: { privateKey: es.privateKey, kid: es.kid },
      rs256: { privateKey: rs.privateKey, kid: rs.kid },
      eddsa: { privateKey: ed.privateKey, kid: ed.kid },
      jwks: { keys: [es.pub, rs.pub, ed.pub] },
    };
  })();
  return keysPromise;
}

export interface MintOptions {
  tenant?: string | null;
  sub?: string;
  iss?: string;
  aud?: string;
  exp?: number; // seconds from now (negative: already expired)
  nbf?: number; // seconds from now
  alg?: 'ES256' | 'RS256' | 'EdDSA';
  claims?: Record<string, unknown>;
  noExp?: boolean;
}

export async function mint(o: MintOptions = {}): Promise<string> {
  const keys = await testKeys();
  const alg = o.alg ?? 'ES256';
  const k = alg === 'ES256' ? keys.es256 : alg === 'RS256' ? keys.rs256 : keys.eddsa;
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { ...o.claims };
  if (o.tenant !== null) payload.tenant_id = o.tenant ?? 'acme';
  let jwt = new jose.SignJWT(payload)
    .setProtectedHeader({ alg, kid: k.kid })
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setSubject(o.sub ?? 'alice')
    .setIssuedAt();
  if (!o.noExp) jwt = jwt.setExpirationTime(now + (o.exp ?? 3600));
  if (o.nbf !== undefined) jwt = jwt.setNotBefore(now + o.nbf);
  return jwt.sign(k.privateKey);
}

export interface TestTenant {
  id: string;
  name?: string;
  tier?: Tier;
  status?: TenantStatus;
}

export const DEFAULT_TENANTS: TestTenant[] = [
  { id: 'acme', tier: 'premium' },
  { id: 'globex', tier: 'basic' },
  { id: 'initech', tier: 'free', status: 'suspended' },
];

export interface TestServer {
  server: RunningServer;
  dir: string;
  dbPath: string;
  client: grpc.Client;
  /** A second, independent connection to the same SQLite file: what the CLI does. */
  withRepo<T>(fn: (repo: TenantRepository) => T): T;
  /** The audited admin operations on their own connection, as the CLI uses them. */
  admin<T>(fn: (admin: Admin) => T): T;
  adminAsync<T>(fn: (admin: Admin) => Promise<T>): Promise<T>;
  /** Makes a change through another connection (as the CLI does) and waits until the server has seen it. */
  change<T>(fn: (admin: Admin) => T): Promise<T>;
  /** One request through the Envoy emulator. */
  envoy(spec: HttpRequestSpec, opts?: EnvoyOptions): Promise<EnvoyResult>;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: { tenants?: TestTenant[]; config?: Record<string, unknown>; env?: NodeJS.ProcessEnv; logger?: Logger; clock?: () => number } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tenantgate-it-'));
  const dbPath = join(dir, 'tenantgate.db');
  const keys = await testKeys();
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.jwks));
  const db = openDatabase(dbPath);
  const repo = new TenantRepository(db);
  for (const t of opts.tenants ?? DEFAULT_TENANTS) repo.create({ id: t.id, name: t.name ?? t.id, tier: t.tier ?? 'free', status: t.status });
  db.close();

  const base = {
    server: { address: '127.0.0.1:0', shutdown_timeout_ms: 2000 },
    store: { path: dbPath, poll_interval_ms: 100 },
    auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks_file: join(dir, 'jwks.json') }] } },
    policies: { bundle_file: inject('bundleFile') },
    federation: { signing_key_file: join(dir, 'federation-key.json') },
    log: { level: 'silent' },
  };
  const config = parseConfig(deepMerge(base, opts.config ?? {}), dir);
  const server = await startServer(config, { logger: opts.logger ?? createLogger('silent'), env: opts.env, clock: opts.clock });
  const client = createAuthClient(server.address);
  return {
    server,
    dir,
    dbPath,
    client,
    withRepo(fn) {
      const d = openDatabase(dbPath);
      try {
        return fn(new TenantRepository(d));
      } finally {
        d.close();
      }
    },
    admin(fn) {
      const d = openDatabase(dbPath);
      try {
        return fn(new Admin(d, config, 'test'));
      } finally {
        d.close();
      }
    },
    async adminAsync(fn) {
      const d = openDatabase(dbPath);
      try {
        return await fn(new Admin(d, config, 'test'));
      } finally {
        d.close();
      }
    },
    async change(fn) {
      const before = await storeChanges(server);
      const d = openDatabase(dbPath);
      let result;
      try {
        result = fn(new Admin(d, config, 'test'));
      } finally {
        d.close();
      }
      await waitFor(async () => (await storeChanges(server)) > before, 'the server to see the store change');
      return result;
    },
    envoy: (spec, o) => envoyCheck(client, spec, o),
    async close() {
      client.close();
      await server.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof cur === 'object' && cur !== null && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export const bearer = (token: string): [string, string] => ['authorization', `Bearer ${token}`];

/** The value of one of the server's unlabelled metrics, as /metrics would show it. */
export async function metric(server: RunningServer, name: string): Promise<number> {
  const m = server.metrics.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  return (await m.get()).values[0]?.value ?? 0;
}

/** How many store changes the server has seen (its tenantgate_store_changes_total metric). */
export const storeChanges = (server: RunningServer): Promise<number> => metric(server, 'tenantgate_store_changes_total');

/** Polls `condition` until it holds, or fails after `ms` naming what it waited for. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

