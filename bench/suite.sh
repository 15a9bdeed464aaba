#!/usr/bin/env bash
# Wall time of the development loop: `make lint`, `make test-fast` and `make test` on SQLite
# and, when TEST_DATABASE_URL is set, both again on PostgreSQL. Figures go to bench/README.md.
# Run it on a quiet machine: each command uses every core.
set -euo pipefail
cd "$(dirname "$0")/.."
make install-dev >/dev/null

measure() {
  local label=$1
  shift
  local start end log
  log=$(mktemp)
  start=$(date +%s%N)
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log"
    echo "$label: failed" >&2
    exit 1
  fi
  end=$(date +%s%N)
  local tenths=$(((end - start) / 100000000))
  printf '%-26s %5d.%d s   %s\n' "$label" $((tenths / 10)) $((tenths % 10)) \
    "$(grep -Eo '[0-9]+ passed[^=]*' "$log" | tail -n 1)"
  rm -f "$log"
}

echo "machine: $(nproc) cores, $(python3 --version), $(date -u +%F)"
measure "make lint" make lint
measure "make test-fast (SQLite)" env -u TEST_DATABASE_URL make test-fast
measure "make test (SQLite)" env -u TEST_DATABASE_URL make test
if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
  measure "make test-fast (PostgreSQL)" make test-fast
  measure "make test (PostgreSQL)" make test
fi
