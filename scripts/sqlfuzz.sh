#!/usr/bin/env bash
# Differential SQL testing for as long as asked: random tables and queries with fresh seeds, run on
# Loam (optimized and reference) and DuckDB; prints every disagreement and exits 1 if there was one.
#   bash scripts/sqlfuzz.sh 600            # ten minutes
#   bash scripts/sqlfuzz.sh 60 --seed 42   # reproducible
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
if [ ! -x .venv-test/bin/python ] || ! .venv-test/bin/python -c "import pyarrow, duckdb" 2>/dev/null; then
  python3 -m venv .venv-test
  .venv-test/bin/pip install -q --disable-pip-version-check pyarrow numpy duckdb
fi
[ -x .build/debug/loam ] || swift build
export LOAM_BIN="${LOAM_BIN:-$PWD/.build/debug/loam}"
exec .venv-test/bin/python python/tests/sqlfuzz.py --seconds "$seconds" "$@"
