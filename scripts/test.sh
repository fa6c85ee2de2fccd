#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test: type check, import rules, unit, transcript,
# simulation (300+ seeds) and runtime tests. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
