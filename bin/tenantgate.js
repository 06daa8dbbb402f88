#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run setup` (or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli.js');
if (!existsSync(entry)) {
  console.error('tenantgate is not built yet: run `npm run setup` (installs dependencies and opa, then compiles).');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
