#!/usr/bin/env bash
# ORDER BY, a 10M-group GROUP BY and a self-join over a dataset five times the memory
# budget, beside DuckDB with the same memory_limit; and checksum overhead on a scan.
# Builds Loam (release); DuckDB, numpy and pyarrow go into a throwaway venv (bench/.venv-spill).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
if [ ! -x bench/.venv-spill/bin/python ] || ! bench/.venv-spill/bin/python -c "import duckdb, numpy, pyarrow" 2>/dev/null; then
  python3 -m venv bench/.venv-spill
  bench/.venv-spill/bin/pip install -q --disable-pip-version-check duckdb numpy pyarrow
fi
exec bench/.venv-spill/bin/python bench/spill.py --bin "$PWD/.build/release" "$@"
