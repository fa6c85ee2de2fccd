#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job: a local three-node raftgres cluster on
# 127.0.0.1 with real PostgreSQL 15, narrated step by step (bootstrap, writes through libpq's
# multi-host string, `raftgres list`). `--failover` adds a node crash and failover with the
# measured write downtime, the old primary's pg_rewind, and a postmaster crash restarted in place.
# It then keeps running until Ctrl-C; `--exit` stops and removes the cluster at the end instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/scripts/demo_cluster.js "$@"
