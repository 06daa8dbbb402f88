#!/usr/bin/env bash
# Tools only the tests use, pinned, into the git-ignored .tools, side by side: helm (the chart's lint and render),
# kubernetes-validate (the Kubernetes schemas of a current release, from PyPI, in a venv), Jaeger (a real trace
# backend for the tracing test, built from tools/jaeger) and Istio's API protos (to check the mesh config recipe).
# Idempotent: each is skipped when its pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=$PWD/.tools
HELM_VERSION=v3.22.0
KUBERNETES_VALIDATE_VERSION=1.37.0
ISTIO_API_VERSION=v1.32.0
mkdir -p "$TOOLS/bin"

install_helm() {
  [ -x "$TOOLS/bin/helm" ] && [ "$(cat "$TOOLS/bin/helm.version" 2>/dev/null)" = "$HELM_VERSION" ] && return 0
  echo "test-tools: installing helm $HELM_VERSION with go install"
  GOGC=400 CGO_ENABLED=0 GOBIN="$TOOLS/bin" go install -trimpath -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "$HELM_VERSION" > "$TOOLS/bin/helm.version"
}

install_kubernetes_validate() {
  [ "$("$TOOLS/venv/bin/kubernetes-validate" --version 2>/dev/null)" = "$KUBERNETES_VALIDATE_VERSION" ] && return 0
  echo "test-tools: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI) into .tools/venv"
  # python3-venv comes from scripts/services.sh on Debian.
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
}

# `go install github.com/jaegertracing/jaeger/cmd/jaeger@...` is refused (Jaeger's go.mod has a replace directive):
# tools/jaeger is a module that requires it as a tool, with the same replace. Rebuilt when that module changes.
build_jaeger() {
  local hash
  hash=$(cat tools/jaeger/go.mod tools/jaeger/go.sum | sha256sum | cut -d' ' -f1)
  [ -x "$TOOLS/bin/jaeger" ] && [ "$(cat "$TOOLS/bin/jaeger.sha256" 2>/dev/null)" = "$hash" ] && return 0
  echo "test-tools: building jaeger (tools/jaeger, first time only, a few minutes)"
  (cd tools/jaeger && GOGC=400 CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$TOOLS/bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger)
  echo "$hash" > "$TOOLS/bin/jaeger.sha256"
}

fetch_istio_api() {
  [ -f "$TOOLS/istio-api/mesh/v1alpha1/config.proto" ] && [ "$(cat "$TOOLS/istio-api.version" 2>/dev/null)" = "$ISTIO_API_VERSION" ] && return 0
  local dir
  dir=$(cd tools/jaeger && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')
  ln -sfn "$dir" "$TOOLS/istio-api"
  echo "$ISTIO_API_VERSION" > "$TOOLS/istio-api.version"
}

command -v go >/dev/null || { echo "test-tools: Go is needed to install helm and jaeger (https://go.dev/dl/)" >&2; exit 1; }
pids=(); names=()
for step in install_helm install_kubernetes_validate build_jaeger fetch_istio_api; do
  $step & pids+=($!); names+=("$step")
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { echo "test-tools: ${names[$i]} failed" >&2; failed=1; }
done
exit $failed
