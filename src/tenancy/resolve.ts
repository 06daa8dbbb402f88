// Which tenant a request is for: the identity's tenant (authoritative) and the hints the request carries.
// Hints are validated here; whether they agree with the identity is a policy rule (policies/tenant.rego).
import type { Config } from '../core/config.js';
import { Denial, type Identity, type TenantHint } from '../core/types.js';
import { isValidTenantId } from '../core/tenants.js';
import type { NormalizedRequest } from '../core/request.js';
import { deny } from '../core/denials.js';

export class TenantResolver {
  private readonly header: string;
  private readonly hostSuffixes: string[];

  constructor(cfg: Config['tenancy']) {
    this.header = cfg.header.toLowerCase();
    this.hostSuffixes = cfg.host_suffixes.map((s) => s.toLowerCase().replace(/\.$/, ''));
  }

  /** The tenant of an authenticated identity, or the denial that says why there is none. */
  identityTenant(identity: Identity): string | Denial {
    const id = identity.tenant_id;
    if (id === null || id === '') return deny('missing_tenant', 'the credential does not name a tenant');
    if (!isValidTenantId(id)) return deny('invalid_tenant_id', 'the credential names a malformed tenant id');
    return id;
  }

  /** Every tenant the request names. A malformed one (including comma-joined duplicates) is a 400. */
  hints(req: NormalizedRequest): TenantHint[] | Denial {
    const hints: TenantHint[] = [];
    const header = req.headers[this.header];
    if (header !== undefined) {
      // "acme,evil" is what Envoy sends for two x-tenant-id headers: never read it as acme.
      if (!isValidTenantId(header)) return badHint(`the ${this.header} header`);
      hints.push({ source: 'header', id: header });
    }
    const segs = req.parsedPath;
    const at = segs.indexOf('tenants');
    if (at >= 0 && at + 1 < segs.length) {
      const id = segs[at + 1]!;
      if (!isValidTenantId(id)) return badHint('the path');
      hints.push({ source: 'path', id });
    }
    const ext = req.contextExtensions['tenant_id'];
    if (ext !== undefined) {
      if (!isValidTenantId(ext)) return badHint('context_extensions.tenant_id');
      hints.push({ source: 'context_extensions', id: ext });
    }
    if (this.hostSuffixes.length && req.host) {
      const host = canonicalHost(req.host);
      if (host === null) return badHint('the host name');
      for (const suffix of this.hostSuffixes) {
        if (host.endsWith(suffix) && host.length > suffix.length) {
          const id = host.slice(0, -suffix.length);
          if (!isValidTenantId(id)) return badHint('the host name');
          hints.push({ source: 'host', id });
          break;
        }
      }
    }
    return hints;
  }
}

function badHint(where: string): Denial {
  return deny('invalid_tenant_id', `${where} names a malformed tenant id`);
}

/**
 * The host as DNS means it: lower case, without the port, and without the trailing dot of a fully qualified name
 * (globex.example.com. is globex.example.com). null when it has empty labels, which no resolver accepts.
 */
export function canonicalHost(raw: string): string | null {
  let host = raw.toLowerCase();
  if (host.startsWith('[')) return host.replace(/:\d+$/, '');
  host = host.replace(/:\d*$/, '');
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '' || host.startsWith('.') || host.endsWith('.') || host.includes('..')) return null;
  return host;
}
