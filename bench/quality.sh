#!/usr/bin/env bash
# Data quality (bench/quality.py): checking five expectations and profiling on 1M and 10M rows beside Great
# Expectations, pandera and Soda (with DuckDB); what commit gates add to a 1,000-row append; near-dedup of 1M short
# texts beside datasketch. Builds Loam (release); the peers install into a throwaway venv (bench/.venv-quality).
# Writes bench/results/<time>-quality.json and bench/results/quality-latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
V=bench/.venv-quality
if [ ! -x $V/bin/python ] || ! $V/bin/python -c "import great_expectations, pandera, soda.scan, datasketch, duckdb, pyarrow, numpy" 2>/dev/null; then
  python3 -m venv $V
  $V/bin/pip install -q --disable-pip-version-check great_expectations pandera soda-core-duckdb datasketch duckdb pandas pyarrow numpy
fi
mkdir -p bench/results
exec $V/bin/python bench/quality.py --bin "$PWD/.build/release" "$@"
