#!/usr/bin/env bash
# Issue 18's rows so far (bench/quality.py): profiling and checking 5 expectations on 10M rows, and what gated
# expectations add to a 1,000-row append. Builds Loam (release); writes bench/results/<time>-quality.json.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import pyarrow, numpy" 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q --disable-pip-version-check pyarrow numpy
fi
mkdir -p bench/results
bench/.venv/bin/python bench/quality.py --bin "$PWD/.build/release" --out "bench/results/$(date -u +%Y%m%d-%H%M%S)-quality.json" "$@"
