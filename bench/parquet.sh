#!/usr/bin/env bash
# Parquet in and out: the 1M-row bench table (id, text, label, score, features[16],
# embedding[128]) written by pyarrow with snappy and with zstd, imported by Loam beside
# pyarrow, DuckDB and polars loading the same file; then each writes it back as Parquet.
# Builds Loam (release); the peers go into a throwaway venv (bench/.venv-parquet).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
if [ ! -x bench/.venv-parquet/bin/python ] || ! bench/.venv-parquet/bin/python -c "import duckdb, numpy, pyarrow, polars" 2>/dev/null; then
  python3 -m venv bench/.venv-parquet
  bench/.venv-parquet/bin/pip install -q --disable-pip-version-check duckdb numpy pyarrow polars
fi
exec bench/.venv-parquet/bin/python bench/parquet.py --bin "$PWD/.build/release" "$@"
