#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh clone: npm packages and the compiled CLI, the pinned opa CLI, and
# OPA's builtins module for WASI, side by side. `--demo`: only what the demo needs (the builtins module, which only
# policies calling x509, GraphQL, JSON Schema, ... use, waits for the next `npm run setup` or `npm test`; such a
# policy is refused until then, saying so).
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
install_npm() {
  local lockhash
  lockhash=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -d node_modules ] && [ "$(cat node_modules/.tenantgate-lock 2>/dev/null)" = "$lockhash" ]; then return 0; fi
  echo "setup: installing npm packages (first time only, about a minute)" >&3
  npm ci --no-audit --no-fund || return 1
  # Make sure the native SQLite addon really is built (npm versions differ on running install scripts).
  if ! node -e 'new (require("better-sqlite3"))(":memory:")' 2>/dev/null; then
    npm rebuild better-sqlite3 --foreground-scripts || return 1
  fi
  echo "$lockhash" > node_modules/.tenantgate-lock
}

# opa: OPA_BIN, then an opa on PATH, then the pinned build in .tools/bin (go install).
install_opa() {
  if [ -n "${OPA_BIN:-}" ] && [ -x "$OPA_BIN" ]; then return 0; fi
  # Read whole (grep -q in a pipe can end opa with SIGPIPE, which pipefail would take for a wrong version).
  local have=''
  [ -x "$TOOLS/opa" ] && have=$("$TOOLS/opa" version 2>/dev/null || true)
  if [[ $have == *"Version: ${OPA_VERSION#v}"* ]]; then return 0; fi
  if command -v opa >/dev/null; then return 0; fi
  if ! command -v go >/dev/null; then
    echo "setup: the opa CLI is needed to compile policies. Install Go (https://go.dev/dl/) and rerun, or run" >&2
    echo "  go install github.com/open-policy-agent/opa@$OPA_VERSION   and put it on PATH, or set OPA_BIN=/path/to/opa" >&2
    return 1
  fi
  echo "setup: installing opa $OPA_VERSION with go install (first time only, a few minutes)" >&3
  # Less to build (no cgo, no OCI bundle downloader, no symbol tables) and a compiler that collects its garbage
  # less often (GOGC=400): a first build about a fifth faster. tenantgate uses opa to build, test, eval and deps.
  GOGC=400 CGO_ENABLED=0 GOBIN="$TOOLS" go install -tags opa_no_oci -trimpath -ldflags='-s -w' "github.com/open-policy-agent/opa@$OPA_VERSION" || return 1
}

# OPA's own builtins for WASI (tools/opa-builtins → .tools/lib/opa-builtins.wasm), rebuilt when its sources change.
# Without Go it is skipped: policies that call those builtins are then refused at load, saying so.
build_builtins() {
  local src="$ROOT/tools/opa-builtins" out="$ROOT/.tools/lib/opa-builtins.wasm" hash
  hash=$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -d' ' -f1)
  if [ -f "$out" ] && [ "$(cat "$out.sha256" 2>/dev/null)" = "$hash" ]; then return 0; fi
  if ! command -v go >/dev/null; then
    echo "setup: Go is not installed: OPA's builtins module is not built (policies calling x509, graphql, json.match_schema, ... are refused)" >&3
    return 0
  fi
  echo "setup: building OPA's builtins module for WASI (first time only, about a minute)" >&3
  # (set -e does not apply inside a function called with ||: every step checks its own status.) One build at a
  # time: two set-ups may run at once (a test run beside another).
  mkdir -p "$(dirname "$out")" || return 1
  (
    flock 9 || exit 1
    [ -f "$out" ] && [ "$(cat "$out.sha256" 2>/dev/null)" = "$hash" ] && exit 0
    cd "$src" && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o "$out.tmp" . || exit 1
    mv "$out.tmp" "$out" && echo "$hash" > "$out.sha256"
  ) 9>"$out.lock" || return 1
}

# The three steps are independent: run them side by side, each logging to a file shown only if it fails (their
# one line of progress goes to fd 3, the terminal). (set -e does not apply inside a function called with ||.)
exec 3>&1
step() {
  local name=$1 log="$ROOT/.tools/$1.log"
  "install_$name" >"$log" 2>&1 || { echo "setup: $name failed:" >&2; cat "$log" >&2; return 1; }
}
install_builtins() { build_builtins; }
# The TypeScript compiled (also a strict type check) as soon as the npm packages are there.
install_node() { install_npm && npx --no-install tsc -p tsconfig.json; }
steps=(node opa builtins)
if [ "${1:-}" = "--demo" ]; then steps=(node opa); fi
pids=()
for s in "${steps[@]}"; do step "$s" & pids+=($!); done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ "$status" -eq 0 ] || exit 1
