// The OPA-Envoy mode against the compatibility suite (test/compat/opa-envoy): each policy, unmodified, served by
// tenantgate with its OPA-Envoy path; every request gets exactly the answer the plugin gives (docs/opa-envoy.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { descriptorSet, runCase, suite } from '../compat/opa-envoy-suite.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

for (const policy of suite()) {
  describe(`OPA-Envoy mode: ${policy.name}`, () => {
    let t: TestServer;
    beforeAll(async () => {
      const proto_descriptor = await descriptorSet(policy, mkdtempSync(join(tmpdir(), 'tg-pb-')));
      t = await startTestServer({ config: { policies: { bundle_file: undefined, dir: policy.dir, entrypoint: policy.path, watch: false, proto_descriptor, ...policy.options } } });
    });
    afterAll(() => t?.close());

    for (const c of policy.cases) {
      it(c.name, async () => {
        expect(await runCase(t.server.address, c)).toEqual(c.expect);
      });
    }
  });
}
