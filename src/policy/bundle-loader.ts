// A bundle as it comes from a file or a bundle server: its signature verified when a key is configured, then used
// as it is when it holds a WASM module (`opa build -t wasm`), or compiled to one when it holds Rego (`opa build`).
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bundleFromFiles, manifestRevision, readBundle, unpackBundle, type PolicyBundle } from './bundle.js';
import { compilePolicies } from './compile.js';
import { verifyBundle, type BundleVerifier } from './signature.js';

export interface BundleOptions {
  entrypoint: string;
  verifier?: BundleVerifier;
}

export async function loadBundle(bytes: Buffer, o: BundleOptions): Promise<PolicyBundle> {
  const files = await unpackBundle(bytes);
  if (o.verifier) await verifyBundle(files, o.verifier);
  if (files.has('policy.wasm')) return bundleFromFiles(files);
  if (![...files.keys()].some((f) => f.endsWith('.rego'))) throw new Error('the bundle has neither a policy.wasm nor Rego files');
  return compileRegoBundle(files, o.entrypoint);
}

/** A plain Rego bundle, compiled as a policy directory would be (the same refusals), keeping its revision. */
async function compileRegoBundle(files: ReadonlyMap<string, Buffer>, entrypoint: string): Promise<PolicyBundle> {
  const dir = await mkdtemp(join(tmpdir(), 'tenantgate-rego-bundle-'));
  try {
    for (const [name, bytes] of files) {
      if (!name.endsWith('.rego') && !/(^|\/)data\.(json|ya?ml)$/.test(name)) continue;
      if (name.split('/').includes('..')) throw new Error(`the bundle has a file outside it: ${name}`);
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), bytes);
    }
    const compiled = await readBundle(await compilePolicies(dir, entrypoint));
    const revision = manifestRevision(files);
    return revision ? { ...compiled, revision } : compiled;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
