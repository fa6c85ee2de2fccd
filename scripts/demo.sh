#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job: a local three-node raftgres cluster on
# 127.0.0.1. See README.md for what it shows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/scripts/demo_cluster.js "$@"
