#!/usr/bin/env bash
# The whole test suite: set-up, policy tests (opa test with coverage), then vitest (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
node scripts/check-structure.mjs
node bin/tenantgate.js policy test
npx --no-install vitest run "$@"
