#!/usr/bin/env bash
# Servers the integration tests run for real (each started by the tests on a free loopback port, then stopped):
# redis-server (quota store across replicas), PostgreSQL (the fleet store; its own cluster per test file, made with
# initdb) and nginx (auth_request end-to-end, bundle server); Python's venv; and, where a docker client exists, docker-compose to
# check docker-compose.yml; and the tz database. Installed from Debian's packages when missing.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
# A Python venv for kubernetes-validate (scripts/test-tools.sh): Debian ships venv apart from python3.
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
# The time zones' own abbreviations ("IST", "MSK") for time.format, read from the system as Go reads them.
[ -d /usr/share/zoneinfo/Asia ] || missing+=(tzdata)
# Where a docker client exists, the tests check docker-compose.yml with `docker compose config` (no engine needed).
if command -v docker >/dev/null && ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  missing+=(docker-compose)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "services: please install ${missing[*]} (needed by the integration tests)" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "services: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update >/dev/null
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
}
# The packages may start system-wide daemons; the tests run their own.
($SUDO service redis-server stop || true) >/dev/null 2>&1
($SUDO service nginx stop || true) >/dev/null 2>&1
($SUDO service postgresql stop || true) >/dev/null 2>&1
