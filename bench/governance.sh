#!/usr/bin/env bash
# Governance at scale (bench/governance.py): PII scan speed and recall beside Presidio's pattern recognizers,
# encryption overhead on import, SQL scan and Python reads, and erasure of one person from 1M and 10M rows with
# 50 commits of history. Peers install into a throwaway venv (bench/.venv-governance).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
V=bench/.venv-governance
if [ ! -x $V/bin/python ] || ! $V/bin/python -c "import presidio_analyzer, pyarrow, numpy, cryptography" 2>/dev/null; then
  python3 -m venv $V
  $V/bin/pip install -q --disable-pip-version-check presidio-analyzer pyarrow numpy cryptography
fi
rm -rf python/build python/*.egg-info
$V/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
exec $V/bin/python bench/governance.py --bin "$PWD/.build/release" "$@"
