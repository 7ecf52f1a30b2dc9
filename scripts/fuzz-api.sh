#!/usr/bin/env bash
# Fuzzes a real `loam serve`: schemathesis over the OpenAPI document (every /api/v1 route,
# generated and stateful, failing on any 5xx), then apifuzz.py's type confusion over the
# MLflow routes. Usage: scripts/fuzz-api.sh [MAX_EXAMPLES] [MLFLOW_REQUESTS]
# schemathesis goes into a throwaway virtual environment, never into the test path.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${1:-100}
REQUESTS=${2:-20000}
swift build -c release --product loam >/dev/null
LOAM=$PWD/.build/release/loam
WORK=$(mktemp -d)
VENV=${FUZZ_VENV:-$WORK/venv}
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
[ -x "$VENV/bin/st" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q schemathesis; }
"$LOAM" init "$WORK/repo" >/dev/null
printf 'id,name,score\n1,a,0.5\n2,b,\n3,c,1.5\n' > "$WORK/t.csv"
"$LOAM" import "$WORK/t.csv" -d t -q --repo "$WORK/repo"
"$LOAM" user add fuzz --repo "$WORK/repo" >/dev/null
TOKEN=$("$LOAM" token create --user fuzz --role admin --repo "$WORK/repo")
"$LOAM" serve --repo "$WORK/repo" --port 0 > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do grep -q Serving "$WORK/serve.log" && break; sleep 0.2; done
URL="http://$(awk '/Serving/ {print $2}' "$WORK/serve.log")"
"$VENV/bin/st" run "$URL/api/v1/openapi.json" --url "$URL" -H "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error --max-examples "$EXAMPLES" --no-color | tail -25
python3 python/tests/apifuzz.py --url "$URL" --token "$TOKEN" --requests "$REQUESTS" --seed "${SEED:-$RANDOM}"
kill -0 $SERVER && echo "server still up after both runs"
