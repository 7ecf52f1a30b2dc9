#!/usr/bin/env bash
# One MLflow client script against a real `mlflow server` (full MLflow, in a throwaway venv:
# bench/.venv-mlflow) and against `loam serve`, step by step (bench/mlflow_parity.py).
# Writes bench/results/mlflow-parity-latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product loam 2>&1 | tail -1
V=bench/.venv-mlflow
if [ ! -x $V/bin/mlflow ] || ! $V/bin/python -c "import mlflow, sklearn, skops" 2>/dev/null; then
  python3 -m venv $V
  $V/bin/pip install -q --disable-pip-version-check mlflow scikit-learn skops
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mport=$(port)
MLFLOW_SERVER_ALLOWED_HOSTS="*" $V/bin/mlflow server --host 127.0.0.1 --port "$mport" --backend-store-uri "sqlite:///$work/mlflow.db" \
  --artifacts-destination "$work/mlartifacts" --workers 1 > "$work/mlflow.log" 2>&1 &
.build/release/loam init "$work/repo" > /dev/null
.build/release/loam serve --repo "$work/repo" --port 0 --anonymous > "$work/loam.log" 2>&1 &
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$mport/health" > /dev/null && [ -s "$work/loam.log" ]; then break; fi
  sleep 1
done
curl -sf "http://127.0.0.1:$mport/health" > /dev/null || { cat "$work/mlflow.log"; echo "mlflow server did not start"; exit 1; }
lurl="http://$(head -1 "$work/loam.log" | awk '{print $2}')"
$V/bin/python bench/mlflow_parity.py --mlflow "http://127.0.0.1:$mport" --loam "$lurl"
