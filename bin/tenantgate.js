#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --single-threaded-gc --max-semi-space-size=4 --heap-growing-percent=100
// Start-up settings for a server that runs one process per core (a sidecar's CPU limit, or server.workers: N):
// - single-threaded GC: V8's concurrent marking and sweeping threads would share the process's core with the
//   checks and hold it for whole scheduler slices (bench/README.md); on its own thread the GC works in short
//   incremental steps instead;
// - a 4 MB semi-space and old-space growth of 2x the live heap (V8 lets it reach up to 4x): less memory held by
//   garbage waiting for a collection, and few full collections;
// - one malloc arena (glibc): V8's compiler threads and the checkpoint thread otherwise keep arenas of their own
//   that hold freed memory (about 6 MB of peak RSS in the scale scenario).
// They must be given at start-up (`MALLOC_ARENA_MAX=1 node <flags> bin/tenantgate.js` where env -S is missing;
// cluster workers inherit them).
// Thin launcher: the CLI is compiled to dist/ by `npm run setup` (or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error('tenantgate is not built yet: run `npm run setup` (installs dependencies and opa, then compiles).');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
