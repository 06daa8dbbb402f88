// The admin gRPC API (proto/tenantgate/admin/v1/admin.proto) on its own address. Every call needs the admin
// bearer token; each runs one operation of src/admin/dispatch.ts (audited, in one transaction) on the server's
// store, then drops the server's caches so the change applies at once.
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ListenerTls } from '../tls/listener-tls.js';
import { clientCredentials, type ClientTlsFiles } from '../tls/client-tls.js';
import * as protoLoader from '@grpc/proto-loader';
import type { Config } from '../core/config.js';
import { StoreError, UnreachableError, isStoreDown, isUnreachable } from '../core/errors.js';
import { PROJECT_ROOT } from '../policy/opa.js';
import type { AdminStore } from '../core/admin-store.js';
import { OPERATIONS, type Operation } from './dispatch.js';

export const ADMIN_SERVICE = 'tenantgate.admin.v1.Admin';

let definition: grpc.ServiceDefinition | undefined;
export function adminServiceDefinition(): grpc.ServiceDefinition {
  if (!definition) {
    const pkg = protoLoader.loadSync('tenantgate/admin/v1/admin.proto', {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: false,
      oneofs: true,
      includeDirs: [join(PROJECT_ROOT, 'proto')],
    });
    definition = pkg[ADMIN_SERVICE] as unknown as grpc.ServiceDefinition;
  }
  return definition;
}

/** A token the admin API accepts, and the label the audit log names its holder by. */
export interface AdminToken {
  label: string;
  token: string;
}

function readToken(file: string, key: string): string {
  const t = readFileSync(file, 'utf8').trim();
  if (!t) throw new Error(`${key}: ${file} is empty`);
  return t;
}

/**
 * The admin tokens: admin.token_file (else TENANTGATE_ADMIN_TOKEN) as admin.label, and each of admin.tokens.
 * None turns the admin API off.
 */
export function adminTokens(config: Config, env: NodeJS.ProcessEnv = process.env): AdminToken[] {
  const tokens: AdminToken[] = [];
  const main = config.admin.token_file ? readToken(config.admin.token_file, 'admin.token_file') : env.TENANTGATE_ADMIN_TOKEN?.trim() || undefined;
  if (main) tokens.push({ label: config.admin.label, token: main });
  config.admin.tokens.forEach((t, i) => tokens.push({ label: t.label, token: readToken(t.token_file, `admin.tokens[${i}].token_file`) }));
  if (new Set(tokens.map((t) => t.token)).size !== tokens.length) throw new Error('admin tokens: two holders share one token, so the audit log could not tell them apart');
  return tokens;
}

const STATUS: Record<StoreError['kind'], grpc.status> = {
  invalid: grpc.status.INVALID_ARGUMENT,
  not_found: grpc.status.NOT_FOUND,
  conflict: grpc.status.ALREADY_EXISTS,
};

const digest = (s: string) => createHash('sha256').update(s).digest();

/** What the admin API asks of the running server besides the store: an explanation of one request. */
export type Explainer = (req: Record<string, unknown>) => Promise<unknown>;

/** A tenant admin's credential checked: whose it is, or null when it is not a tenant admin's (serve/tenant-admins.ts). */
export type TenantAdminCheck = (credential: { bearer?: string; apiKey?: string }) => Promise<{ tenant: string; user: string } | null>;

/** The operations a tenant admin may call, on its own tenant only. */
export const TENANT_ADMIN_OPERATIONS: ReadonlySet<string> = new Set(['SetTenantPolicy', 'GetTenantPolicy', 'DeleteTenantPolicy']);

/** Which holder's token an authorization header carries (`Bearer <token>`), compared in constant time; or undefined. */
export function adminTokenChecker(tokens: AdminToken[]): (authorization: string | undefined) => string | undefined {
  const wanted = tokens.map((t) => ({ label: t.label, want: digest(`Bearer ${t.token}`) }));
  return (authorization) => {
    const got = digest(authorization ?? '');
    let label: string | undefined;
    for (const w of wanted) if (timingSafeEqual(got, w.want)) label = w.label;
    return label;
  };
}

export async function startAdminApi(opts: { config: Config; admin: (actor: string) => AdminStore; tokens: AdminToken[]; tls: ListenerTls; onChange: () => void; explain: Explainer; tenantAdmin?: TenantAdminCheck; reportUsage?: (req: Record<string, unknown>) => Promise<unknown> }): Promise<{ address: string; close(): Promise<void> }> {
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  // One Admin per holder: its changes are audited as admin-api:<label>.
  const holderOf = adminTokenChecker(opts.tokens);
  const holders = new Map(opts.tokens.map((t) => [t.label, opts.admin(`admin-api:${t.label}`)]));
  const impl: grpc.UntypedServiceImplementation = {};
  // ExplainCheck reads through the server's caches and changes nothing: no cache to drop afterwards.
  const operations: Record<string, { op: Operation; changes: boolean }> = Object.fromEntries(Object.entries(OPERATIONS).map(([n, op]) => [n, { op, changes: true }]));
  operations.ExplainCheck = { op: (_a, req) => opts.explain(req), changes: false };
  // A decision's token usage, from an upstream or gateway without ext_proc: settles its reservation, counts it.
  const report = opts.reportUsage;
  operations.ReportUsage = { op: (_a, req) => (report ? report(req) : Promise.reject(new StoreError('usage reports need the quotas on (quota.enabled) and an admin token', 'not_found'))), changes: false };
  for (const [name, { op, changes }] of Object.entries(operations)) {
    impl[name] = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      // Digests compared in constant time, with every holder's, so the time says nothing of which.
      const label = holderOf(String(call.metadata.get('authorization')[0] ?? ''));
      const admin: AdminStore | undefined = label === undefined ? undefined : holders.get(label);
      const tenantAdmin = opts.tenantAdmin;
      if (!admin && !(tenantAdmin && TENANT_ADMIN_OPERATIONS.has(name))) return cb({ code: grpc.status.UNAUTHENTICATED, details: 'a valid admin bearer token is required' });
      Promise.resolve()
        .then(async () => op(admin ?? (await asTenantAdmin(tenantAdmin!, call, opts.admin)), call.request, opts.config))
        .then(
          (result) => {
            if (changes) opts.onChange();
            cb(null, { result_json: JSON.stringify(result ?? null) });
          },
          (err: unknown) => {
            if (err instanceof Refused) return cb({ code: err.code, details: err.message });
            if (err instanceof StoreError) return cb({ code: STATUS[err.kind], details: err.message });
            if (isStoreDown(err)) return cb({ code: grpc.status.UNAVAILABLE, details: 'the store is unavailable; nothing was changed (try again when it is back)' });
            cb({ code: grpc.status.INTERNAL, details: (err as Error).message ?? String(err) });
          },
        );
    };
  }
  server.addService(adminServiceDefinition(), impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.config.server.admin_address, opts.tls.grpc, (err, p) => (err ? reject(err) : resolve(p))),
  );
  await opts.tls.ready();
  const host = opts.config.server.admin_address.replace(/:\d+$/, '');
  return {
    address: `${host}:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

class Refused extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** The store as a tenant admin sees it: the call's credential must be a tenant admin's, of the tenant it names. */
async function asTenantAdmin(check: TenantAdminCheck, call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, admin: (actor: string) => AdminStore): Promise<AdminStore> {
  const auth = String(call.metadata.get('authorization')[0] ?? '');
  const apiKey = call.metadata.get('x-api-key')[0];
  const who = await check({ bearer: /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '') : undefined, apiKey: apiKey === undefined ? undefined : String(apiKey) });
  if (!who) throw new Refused(grpc.status.UNAUTHENTICATED, 'a valid admin token, or the credential of an admin or owner of the tenant, is required');
  if (call.request.tenant !== who.tenant) throw new Refused(grpc.status.PERMISSION_DENIED, `a tenant admin manages only its own tenant (${who.tenant})`);
  return admin(`tenant-admin:${who.tenant}/${who.user}`);
}

/** The CLI's side: one call to a running server's admin API. */
export function callAdmin(address: string, token: string | { apiKey: string }, op: string, req: Record<string, unknown>, tls: ClientTlsFiles = {}): Promise<unknown> {
  const Client = grpc.makeGenericClientConstructor(adminServiceDefinition(), 'Admin');
  const client = new Client(address, clientCredentials(tls));
  const md = new grpc.Metadata();
  // A tenant admin may call with their API key instead of a bearer token.
  if (typeof token === 'string') md.set('authorization', `Bearer ${token}`);
  else md.set('x-api-key', token.apiKey);
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, Function>)[op]!.call(client, req, md, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: { result_json: string }) => {
      client.close();
      if (err && isUnreachable(err) && !/store is unavailable/.test(err.details)) reject(new UnreachableError(address, 'the admin API'));
      else if (err) reject(new StoreError(err.details || err.message, err.code === grpc.status.NOT_FOUND ? 'not_found' : err.code === grpc.status.ALREADY_EXISTS ? 'conflict' : 'invalid'));
      else resolve(JSON.parse(res.result_json));
    });
  });
}
