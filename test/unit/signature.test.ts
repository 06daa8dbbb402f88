// OPA bundle signatures, on bundles signed by the real `opa build --signing-key`: each way a bundle can differ from
// what was signed is refused with its own reason.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOpa } from '../../src/policy/opa.js';
import { unpackBundle } from '../../src/policy/bundle.js';
import { bundleVerifier, canonicalJson, verifyBundle } from '../../src/policy/signature.js';

async function signed(flags: string[] = []) {
  const work = mkdtempSync(join(tmpdir(), 'tg-sig-'));
  mkdirSync(join(work, 'src'));
  writeFileSync(join(work, 'src', 'p.rego'), 'package x\n\nallow := true\n');
  writeFileSync(join(work, 'src', 'data.json'), '{"z": {"b": 1.50, "a": ["<&>"]}, "a": true}');
  spawnSync('openssl', ['genrsa', '-out', join(work, 'priv.pem'), '2048']);
  spawnSync('openssl', ['rsa', '-in', join(work, 'priv.pem'), '-pubout', '-out', join(work, 'pub.pem')]);
  const out = join(work, 'b.tar.gz');
  const r = spawnSync(findOpa(), ['build', '-b', join(work, 'src'), '--signing-key', join(work, 'priv.pem'), '-o', out, ...flags], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return { files: await unpackBundle(readFileSync(out)), pub: join(work, 'pub.pem') };
}

describe('verifyBundle', () => {
  it('accepts the bundle as signed, and refuses every change to it', async () => {
    const { files, pub } = await signed();
    const v = bundleVerifier({ key_file: pub, key_id: 'default', algorithm: 'RS256' });
    await expect(verifyBundle(files, v)).resolves.toBeUndefined();
    const data = [...files.keys()].find((f) => f.endsWith('data.json'))!;
    const changed = (name: string, bytes: Buffer | undefined) => {
      const m = new Map(files);
      if (bytes) m.set(name, bytes);
      else m.delete(name);
      return m;
    };
    await expect(verifyBundle(changed(data, Buffer.from('{"a": false}')), v)).rejects.toThrow(`${data}: digest mismatch`);
    // The same data, written differently: the digest is of the canonical JSON, so it still verifies.
    await expect(verifyBundle(changed(data, Buffer.from('{ "a" : true, "z": {"a": ["<&>"], "b": 1.50} }')), v)).resolves.toBeUndefined();
    await expect(verifyBundle(changed('extra.rego', Buffer.from('package y')), v)).rejects.toThrow('file extra.rego not included in bundle signature');
    await expect(verifyBundle(changed(data, undefined), v)).rejects.toThrow('specified in bundle signatures but not found in the target bundle');
    await expect(verifyBundle(changed('.signatures.json', undefined), v)).rejects.toThrow('bundle missing .signatures.json file');
    await expect(verifyBundle(files, bundleVerifier({ key_file: pub, key_id: 'other', algorithm: 'RS256' }))).rejects.toThrow('signed with key "default", not the configured "other"');
    await expect(verifyBundle(files, bundleVerifier({ key_file: pub, key_id: 'default', algorithm: 'RS256', scope: 'prod' }))).rejects.toThrow('scope mismatch');
  });

  it('digests data as OPA does: sorted keys, no spaces, numbers as written, no HTML escaping', () => {
    expect(canonicalJson('{"z": {"b": 1.50, "a": ["<&>", 1e3]}, "a": true, "n": null}')).toBe('{"a":true,"n":null,"z":{"a":["<&>",1e3],"b":1.50}}');
  });
});
