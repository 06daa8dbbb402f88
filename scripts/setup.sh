#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh clone: npm packages, the pinned opa CLI, the compiled CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OPA_VERSION=v1.22.2
TOOLS="$ROOT/.tools/bin"
mkdir -p "$TOOLS"

command -v node >/dev/null || { echo "setup: Node.js 20+ is required" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "setup: Node.js 20+ is required (found $(node --version))" >&2; exit 1; }

# Native addons (better-sqlite3) build with node-gyp: use the installed Node headers instead of downloading them.
nodedir=$(node -p 'require("path").resolve(process.execPath, "../..")')
if [ -f "$nodedir/include/node/node.h" ]; then export npm_config_nodedir="$nodedir"; fi

# npm packages: reinstall only when the lock file changed since the last install.
lockhash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat node_modules/.tenantgate-lock 2>/dev/null)" != "$lockhash" ]; then
  echo "setup: installing npm packages"
  log=$(mktemp)
  npm ci --no-audit --no-fund >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  # Make sure the native SQLite addon really is built (npm versions differ on running install scripts).
  if ! node -e 'new (require("better-sqlite3"))(":memory:")' 2>/dev/null; then
    npm rebuild better-sqlite3 --foreground-scripts >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  fi
  rm -f "$log"
  echo "$lockhash" > node_modules/.tenantgate-lock
fi

# opa: OPA_BIN, then an opa on PATH, then the pinned build in .tools/bin (go install).
if [ -n "${OPA_BIN:-}" ] && [ -x "$OPA_BIN" ]; then :
elif [ -x "$TOOLS/opa" ] && "$TOOLS/opa" version 2>/dev/null | grep -q "Version: ${OPA_VERSION#v}"; then :
elif command -v opa >/dev/null; then :
elif command -v go >/dev/null; then
  echo "setup: installing opa $OPA_VERSION with go install (first time only, a few minutes)"
  GOBIN="$TOOLS" go install "github.com/open-policy-agent/opa@$OPA_VERSION"
else
  echo "setup: the opa CLI is needed to compile policies. Install Go (https://go.dev/dl/) and rerun, or run" >&2
  echo "  go install github.com/open-policy-agent/opa@$OPA_VERSION   and put it on PATH, or set OPA_BIN=/path/to/opa" >&2
  exit 1
fi

# Compile the TypeScript (also a strict type check).
npx --no-install tsc -p tsconfig.json
