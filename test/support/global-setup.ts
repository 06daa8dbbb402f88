// Compiles the real policies once (opa build -t wasm) for every test file that starts a server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { compilePolicies } from '../../src/policy/compile.js';

let dir: string | undefined;

export default async function setup(project: TestProject) {
  dir = mkdtempSync(join(tmpdir(), 'tenantgate-test-bundle-'));
  const file = join(dir, 'bundle.tar.gz');
  writeFileSync(file, await compilePolicies('policies', 'tenantgate/authz/decision'));
  project.provide('bundleFile', file);
  return () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    bundleFile: string;
  }
}
