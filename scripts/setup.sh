#!/usr/bin/env bash
# Sets up a fresh machine for raftgres: the PostgreSQL 15 server, HAProxy and pgbouncer from
# Debian's packages (if they are missing), the npm dependencies, and the build. Idempotent: run it
# as often as you like.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=/usr/lib/postgresql/15/bin
if [ ! -x "$PG_BIN/postgres" ] || [ ! -x "$PG_BIN/pg_rewind" ]; then
  echo "setup: installing the PostgreSQL 15 server from Debian's packages"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 >/dev/null
  # The package may create and start a default cluster on port 5432; raftgres manages its own.
  $SUDO pg_ctlcluster 15 main stop 2>/dev/null || true
fi
# HAProxy 2.6 from Debian's packages, for the HAProxy integration test (test/haproxy) and
# packaging/haproxy.cfg. The package enables and starts its own service with Debian's default
# configuration (no listener of ours): stop it, the tests run their own haproxy.
if ! command -v haproxy >/dev/null 2>&1; then
  echo "setup: installing HAProxy from Debian's packages"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq haproxy >/dev/null
  $SUDO systemctl stop haproxy 2>/dev/null || $SUDO service haproxy stop 2>/dev/null || true
fi
# pgbouncer from Debian's packages, for the pgbouncer integration test (test/pgbouncer) and
# packaging/pgbouncer.ini. The package enables and starts its own service on port 6432 with
# Debian's configuration: stop and disable it, the tests run their own pgbouncer processes.
if ! command -v pgbouncer >/dev/null 2>&1; then
  echo "setup: installing pgbouncer from Debian's packages"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pgbouncer >/dev/null
  $SUDO systemctl stop pgbouncer 2>/dev/null || $SUDO service pgbouncer stop 2>/dev/null || true
  $SUDO systemctl disable pgbouncer 2>/dev/null || true
fi
# iproute2 (ip netns, veth, bridges), iptables and util-linux (setpriv) for the fault-injection
# harness (test/jepsen-like), which puts each node in its own network namespace.
if ! command -v iptables >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
  echo "setup: installing iproute2, iptables and util-linux from Debian's packages"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iproute2 iptables util-linux >/dev/null
fi
if ! id postgres >/dev/null 2>&1; then
  echo "setup: the 'postgres' OS user is missing; PostgreSQL refuses to run as root" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: building"
npm run build --silent
# `raftgres` on PATH, as the README uses it: a wrapper that runs this checkout's build.
WRAPPER=/usr/local/bin/raftgres
WANTED="$(printf '#!/bin/sh\n# Written by raftgres scripts/setup.sh: runs the build of %s.\nexec node %s "$@"\n' "$PWD" "$PWD/dist/src/agent/main.js")"
if [ ! -e "$WRAPPER" ] || [ "$(cat "$WRAPPER" 2>/dev/null)" != "$WANTED" ]; then
  if [ ! -e "$WRAPPER" ] || grep -q "Written by raftgres scripts/setup.sh" "$WRAPPER"; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    printf '%s\n' "$WANTED" | $SUDO tee "$WRAPPER" >/dev/null && $SUDO chmod 755 "$WRAPPER"
    echo "setup: $WRAPPER runs this checkout's raftgres"
  else
    echo "setup: $WRAPPER exists and is not ours; left as it is (run node dist/src/agent/main.js instead)"
  fi
fi
echo "setup: done"
