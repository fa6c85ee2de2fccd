#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test: type check, import rules, unit, transcript,
# simulation (300+ seeds) and runtime tests. Exits non-zero if anything fails.
# A CI log is often read from its tail: when tests fail, the failing lines and what they printed
# are repeated at the end, so the tail names them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
log="$(mktemp -t raftgres-test.XXXXXX)"
trap 'rm -f "$log"' EXIT
set +e
npm test 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  echo
  echo "=== npm test failed (exit $rc); the failing tests, with what follows each ==="
  if grep -q -E '^\s*not ok ' "$log"; then
    # head may close the pipe early: that is not a failure of the summary.
    grep -n -A 20 -E '^\s*not ok ' "$log" | head -n 300 || true
  else
    echo "(no 'not ok' line: the failure came before the tests ran; see above)"
  fi
fi
exit "$rc"
