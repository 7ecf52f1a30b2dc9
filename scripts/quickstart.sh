#!/usr/bin/env bash
# Loam end to end on the embedded default: build, create a repository, import
# the sample reviews, inspect, change, time-travel, export, and label them.
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
step profile reviews
cat > "$demo/reviews.expect.toml" <<'TOML'
[[expect]]
kind = "not_null"
column = "id"
gate = true          # a write that breaks it fails and changes nothing

[[expect]]
kind = "unique"
column = "id"
gate = true

[[expect]]
kind = "range"
column = "score"
min = 0
max = 1

[[expect]]
kind = "in"
column = "label"
values = [0, 1, 2, 3, 4]
TOML
step expect reviews --file "$demo/reviews.expect.toml"
step check reviews
echo
echo '$ loam query "INSERT INTO reviews (id, text, label, score) VALUES (NULL, '"'"'no id'"'"', 1, 0.5)"   # refused by the gate'
"$loam" query "INSERT INTO reviews (id, text, label, score) VALUES (NULL, 'no id', 1, 0.5)" && { echo "the gate let a null id through"; exit 1; } || true
step dedupe reviews --near text --threshold 0.8
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
step drift reviews --from v1
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
echo; echo "Labels: a schema, a task that gives six reviews to two blind annotators, their agreement, a reviewer's resolution"
export LOAM_AUTHOR=mia   # who you are on the command line (loam serve uses the token's user)
step label schema add sentiment --dataset reviews --kind class --classes negative,neutral,positive
step label task create --dataset reviews --schema sentiment --query "SELECT _rowid FROM reviews ORDER BY _rowid LIMIT 6" --annotators 2
task=$("$loam" label task list --json | grep -o '"id":"[0-9a-f]*"' | tail -1 | cut -d'"' -f4)
step label task member "$task" ana annotator
step label task member "$task" bob annotator
# Each annotator asks for their next item and answers it, as the annotation page at /label does.
answer() {  # NAME ANSWER…: the annotator labels their next items with these answers
  local who=$1; shift
  for value in "$@"; do
    row=$(LOAM_AUTHOR=$who "$loam" label task next "$task" --json | grep -o '"row_id":[0-9]*' | cut -d: -f2)
    echo "\$ LOAM_AUTHOR=$who loam label task submit $task $row $value"
    LOAM_AUTHOR=$who "$loam" label task submit "$task" "$row" "$value"
  done
}
answer ana positive negative positive neutral positive negative
answer bob positive negative negative neutral positive positive
step label task progress "$task"
step label agreement --dataset reviews --schema sentiment
step label task disagreements "$task"
first=$("$loam" label task disagreements "$task" --json | grep -o '"row_id":[0-9]*' | head -1 | cut -d: -f2)
step label task resolve "$task" "$first" negative
step label list --dataset reviews --schema sentiment --by adjudicated
step query "SELECT r.text, l.annotator, l.value FROM reviews r JOIN reviews__labels l ON l.row_id = r._rowid ORDER BY r._rowid, l.annotator LIMIT 6"
step label export --dataset reviews --schema sentiment --format labelstudio -o "$demo/sentiment-labelstudio.json"
echo; echo "Labels are rows of reviews__labels: they branch, merge and time-travel with the data (loam log shows each label's commit)"
step log --oneline -n 3
echo; echo "Governance: personal data found (never printed), one review erased from every version of both datasets that hold it, the audit chain checked"
step pii scan reviews
step erase reviews reviews_copy --where "id = 3" --dry-run
step erase reviews reviews_copy --where "id = 3" --verify   # reviews_copy holds a copy of the row: name it too
step count reviews --ref v1
step audit verify
echo; echo "Done. The repository is in $demo; try: LOAM_REPO=$demo $loam --help"
