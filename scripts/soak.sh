#!/usr/bin/env bash
# Soak: mixed reads, writes, queries and tracking from several clients against `loam serve`,
# the server killed with SIGKILL and restarted every minute, CLI writers killed mid-write.
# Prints a JSON summary (lost acknowledged writes, fsck, peak server memory); exit 1 on a loss.
# Usage: scripts/soak.sh MINUTES
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam >/dev/null
exec python3 python/tests/soak.py --loam "$PWD/.build/release/loam" --minutes "${1:-10}" --seed "${SEED:-1}"
