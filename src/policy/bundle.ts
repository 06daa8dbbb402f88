// Reads an OPA bundle (.tar.gz) in memory: its files, and from them the policy module, its data and a revision.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';

export interface PolicyBundle {
  wasm: Buffer;
  data: Record<string, unknown>;
  /** The manifest's revision if the bundle has one, else a content hash. */
  revision: string;
}

/** The bundle's files by path (no leading "/"). */
export async function unpackBundle(bytes: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const parser = new tar.Parser({
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        if (entry.type === 'File') files.set(entry.path.replace(/^\/+/, ''), Buffer.concat(chunks));
      });
    },
  });
  await pipeline(Readable.from([bytes]), parser);
  return files;
}

/** The manifest's revision, if any. */
export function manifestRevision(files: ReadonlyMap<string, Buffer>): string {
  const manifest = files.get('.manifest');
  return manifest ? String((JSON.parse(manifest.toString('utf8')) as { revision?: string }).revision ?? '') : '';
}

export function bundleFromFiles(files: ReadonlyMap<string, Buffer>, revision = manifestRevision(files)): PolicyBundle {
  const wasm = files.get('policy.wasm');
  if (!wasm) throw new Error('the bundle has no policy.wasm and no Rego to compile');
  const dataBytes = files.get('data.json');
  const data = dataBytes && dataBytes.length ? (JSON.parse(dataBytes.toString('utf8')) as Record<string, unknown>) : {};
  return { wasm, data, revision: revision || createHash('sha256').update(wasm).update(dataBytes ?? '').digest('hex').slice(0, 12) };
}

export async function readBundle(bytes: Buffer): Promise<PolicyBundle> {
  return bundleFromFiles(await unpackBundle(bytes));
}
