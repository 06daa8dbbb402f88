#!/usr/bin/env bash
# The whole test suite: set-up, policy tests (opa test with coverage), then vitest (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
bash scripts/test-tools.sh
node scripts/check-structure.mjs
# The sources and the tests type-check under `strict` (vitest itself strips the types without checking them).
npx --no-install tsc -p tsconfig.test.json
node bin/tenantgate.js policy test
npx --no-install vitest run "$@"
