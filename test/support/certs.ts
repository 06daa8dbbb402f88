// Real X.509 certificates for the TLS tests, made with the openssl CLI in a temporary folder: a CA, a server
// certificate for 127.0.0.1/localhost, client certificates (a SPIFFE URI SAN, a DNS SAN, a subject only), one from
// another CA, and an expired one (openssl ca with explicit dates).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pair {
  cert: string;
  key: string;
}

export interface TestCerts {
  dir: string;
  ca: string;
  otherCa: string;
  /** Signs a fresh server certificate into `name`.pem / `name`.key (a renewal). */
  server(name?: string, cn?: string): Pair;
  client(opts: { name: string; cn: string; san?: string; ca?: 'main' | 'other'; expired?: boolean }): Pair;
}

const CA_CNF = `[ca]
default_ca = d
[d]
database = db/index
serial = db/serial
new_certs_dir = db
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[p]
organizationName = optional
commonName = supplied
`;

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'tg-certs-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const name of ['ca', 'other-ca']) {
    ssl('req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=tenantgate test ${name}`, '-days', '2');
    mkdirSync(join(dir, `${name}-db`), { recursive: true });
    writeFileSync(join(dir, `${name}-db`, 'index'), '');
    writeFileSync(join(dir, `${name}-db`, 'serial'), '01');
    writeFileSync(join(dir, `${name}.cnf`), CA_CNF.replaceAll('db/', `${name}-db/`).replace('new_certs_dir = db', `new_certs_dir = ${name}-db`));
  }
  const sign = (name: string, cn: string, san: string | undefined, ca: string, dates: string[]) => {
    const ext = san ? ['-addext', `subjectAltName=${san}`] : [];
    ssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=Acme/CN=${cn}`, ...ext);
    ssl('ca', '-batch', '-config', `${ca}.cnf`, '-cert', `${ca}.pem`, '-keyfile', `${ca}.key`, '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext', ...dates);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    otherCa: join(dir, 'other-ca.pem'),
    server: (name = 'server', cn = 'tenantgate') => sign(name, cn, 'DNS:localhost,IP:127.0.0.1', 'ca', ['-days', '1']),
    client: (o) =>
      sign(o.name, o.cn, o.san, o.ca === 'other' ? 'other-ca' : 'ca', o.expired ? ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'] : ['-days', '1']),
  };
}
