// Reads an OPA bundle (.tar.gz from `opa build -t wasm`) in memory: the policy module, its data, a revision.
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

export async function readBundle(bytes: Buffer): Promise<PolicyBundle> {
  const files = new Map<string, Buffer>();
  const parser = new tar.Parser({
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => files.set(entry.path.replace(/^\/+/, ''), Buffer.concat(chunks)));
    },
  });
  await pipeline(Readable.from([bytes]), parser);
  const wasm = files.get('policy.wasm');
  if (!wasm) throw new Error('the bundle has no policy.wasm (was it built with `opa build -t wasm`?)');
  const dataBytes = files.get('data.json');
  const data = dataBytes && dataBytes.length ? (JSON.parse(dataBytes.toString('utf8')) as Record<string, unknown>) : {};
  let revision = '';
  const manifest = files.get('.manifest');
  if (manifest) revision = String((JSON.parse(manifest.toString('utf8')) as { revision?: string }).revision ?? '');
  if (!revision) revision = createHash('sha256').update(wasm).update(dataBytes ?? '').digest('hex').slice(0, 12);
  return { wasm, data, revision };
}
