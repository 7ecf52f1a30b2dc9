#!/usr/bin/env bash
# Fuzzes Loam's SQL lexer and parser with libFuzzer (and AddressSanitizer) for
# SECONDS (default 60), starting from Fuzz/corpus and the keywords in
# Fuzz/sql.dict; `scripts/fuzz.sh SECONDS parquet` fuzzes the Parquet reader
# from the small files in Fuzz/corpus-parquet instead (replay with LOAM_FUZZ=parquet), and
# `scripts/fuzz.sh SECONDS arrow` the Arrow IPC reader from Arrow's golden streams (Tests/Fixtures). New interesting inputs go to .build-fuzz/corpus; a crash is
# saved as crash-* in the current folder. Replay one with a plain build:
#   swift build --product loam-fuzz && .build/debug/loam-fuzz crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
target="${2:-sql}"
swift build --product loam-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLIBFUZZER 2>&1 | tail -1
if [ "$target" = arrow ]; then  # seeds: Arrow's golden streams under 8 KiB (Tests/Fixtures/arrow-integration)
  mkdir -p .build-fuzz/corpus-arrow .build-fuzz/seeds-arrow
  find Tests/Fixtures/arrow-integration -name '*.stream' -size -8k | while read -r f; do cp "$f" ".build-fuzz/seeds-arrow/$(echo "$f" | tr '/' '_')"; done
  cp Fuzz/corpus-arrow-regressions/* .build-fuzz/seeds-arrow/
  LOAM_FUZZ=arrow exec .build-fuzz/debug/loam-fuzz .build-fuzz/corpus-arrow .build-fuzz/seeds-arrow -max_total_time="$seconds" -timeout=5 -max_len=8192 -rss_limit_mb=4096 -print_final_stats=1
fi
if [ "$target" = parquet ]; then
  mkdir -p .build-fuzz/corpus-parquet
  LOAM_FUZZ=parquet exec .build-fuzz/debug/loam-fuzz .build-fuzz/corpus-parquet Fuzz/corpus-parquet -max_total_time="$seconds" -timeout=5 -max_len=8192 -rss_limit_mb=4096 -print_final_stats=1
fi
mkdir -p .build-fuzz/corpus
exec .build-fuzz/debug/loam-fuzz .build-fuzz/corpus Fuzz/corpus -dict=Fuzz/sql.dict -max_total_time="$seconds" -timeout=5 -max_len=4096 -print_final_stats=1
