#!/usr/bin/env bash
# Loam end to end on the embedded default: build, create a repository, import
# the sample reviews, inspect, change, time-travel and export.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS="libsqlite3-dev libsnappy-dev libzstd-dev zlib1g-dev liblz4-dev"
if ! dpkg -s $DEBS >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq $DEBS >/dev/null
fi
echo "== building loam (release; the first build takes a few minutes)"
swift build -c release 2>&1 | tail -1
loam="$PWD/.build/release/loam"
demo="$PWD/quickstart-demo"
rm -rf "$demo"
# Echo each command as a person would type it: arguments with spaces in single quotes (double quotes when they hold one).
step() {
  echo
  printf '$ loam'
  for arg in "$@"; do
    case "$arg" in
      *\'*) printf ' "%s"' "$arg" ;;
      *[[:space:]]*|*\**|*\(*) printf " '%s'" "$arg" ;;
      *) printf ' %s' "$arg" ;;
    esac
  done
  echo
  "$loam" "$@"
}

step init "$demo"
export LOAM_REPO="$demo"
step import examples/reviews.csv --dataset reviews -m "Import the sample reviews"
step schema reviews
step head reviews -n 5
step count reviews
step tag v1
step delete reviews --where "label = 0 OR text LIKE '%terrible%terrible%'" -m "Drop label 0 and doubly terrible reviews"
step update reviews --set label=4 --where "score > 0.95" -m "Relabel very confident reviews"
step alter reviews add-column reviewer string
step query "SELECT label, count(*) AS n, round(avg(score), 3) AS mean FROM reviews GROUP BY label ORDER BY label"
step query "EXPLAIN SELECT label, count(*) FROM reviews WHERE score > 0.5 GROUP BY label"
echo; echo "A split that survives appends, and the best review per label by a window function"
step query "SELECT split_bucket(_rowid, 42, 0.8, 0.1, 0.1) AS split, count(*) FROM reviews GROUP BY split ORDER BY split"
step query "SELECT label, id, score FROM reviews QUALIFY row_number() OVER (PARTITION BY label ORDER BY score DESC NULLS LAST, id) = 1 ORDER BY label"
step query "COPY (SELECT * FROM reviews WHERE split_bucket(_rowid, 42, 0.8, 0.1, 0.1) = 'test') TO '$demo/test-split.csv'"
step diff v1 HEAD -n 3
step log --oneline
step show HEAD~1
echo; echo "Time travel: the same dataset at three versions"
step count reviews --ref v1
step count reviews --ref HEAD~2
step count reviews
step export reviews --ref v1 --format arrow -o "$demo/reviews-v1.arrow"
step export reviews --format jsonl -o "$demo/reviews-now.jsonl"
echo; echo "Parquet out and back in: the current reviews as zstd Parquet (pyarrow, DuckDB and polars read it), imported as a new dataset"
step export reviews --format parquet --compression zstd -o "$demo/reviews.parquet"
step import "$demo/reviews.parquet" --dataset reviews_copy -m "Import the reviews back from Parquet"
step query "SELECT (SELECT count(*) FROM reviews) AS reviews, (SELECT count(*) FROM reviews_copy) AS from_parquet"
echo; echo "Done. The repository is in $demo; try: LOAM_REPO=$demo $loam --help"
