#!/usr/bin/env bash
# One command: builds Loam (release), installs the peers into a throwaway venv
# (bench/.venv), generates the 1M-row dataset (fixed seed) and prints Loam
# beside pyarrow, Lance, Hugging Face datasets, DuckDB, polars, sqlite3 and numpy,
# and the Python client locally and through `loam serve`. Writes bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
# wrk loads the tracking servers with the same requests the mlflow client sends.
if ! dpkg -s libsqlite3-dev wrk >/dev/null 2>&1; then apt-get update -qq && apt-get install -y -qq libsqlite3-dev wrk >/dev/null; fi
swift build -c release --product loam 2>&1 | tail -1
swift build -c release --product loam-bench 2>&1 | tail -1
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import lance, datasets, pyarrow, duckdb, polars, mlflow" 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q --disable-pip-version-check pyarrow pylance datasets numpy duckdb polars mlflow
fi
rm -rf python/build python/*.egg-info
bench/.venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
exec bench/.venv/bin/python bench/bench.py --bin "$PWD/.build/release" "$@"
