"""A real `loam serve` process: every API call, 401/403 per route and role, and the
remote client returning exactly what the local one reads."""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pyarrow as pa
import pytest

import loam
from conftest import LOAM, loam as run

# Every route with a request that exercises it: (method, path, body or None).
ROUTES = [
    ("GET", "/metrics", None), ("GET", "/api/v1/openapi.json", None), ("GET", "/api/v1/repository", None),
    ("GET", "/api/v1/refs", None), ("GET", "/api/v1/log?limit=2", None), ("GET", "/api/v1/commits/HEAD", None),
    ("GET", "/api/v1/datasets", None), ("GET", "/api/v1/datasets/t", None), ("GET", "/api/v1/datasets/t/rows?limit=3", None),
    ("POST", "/api/v1/datasets/t/take", {"positions": [0, 1]}), ("GET", "/api/v1/datasets/t/stream?batch_size=500", None),
    ("POST", "/api/v1/datasets/t/import?format=csv", b"id,label\n"), ("POST", "/api/v1/query", {"sql": "SELECT count(*) FROM t"}),
]


@pytest.fixture(scope="module")
def server(history, tmp_path_factory):
    repo = tmp_path_factory.mktemp("served") / "repo"
    shutil.copytree(history, repo)
    run("user", "add", "ada", repo=repo)
    run("user", "add", "bob", repo=repo)
    tokens = {role: run("token", "create", "--user", "ada", "--role", role, repo=repo).strip() for role in ("reader", "writer", "admin")}
    tokens["other"] = run("token", "create", "--user", "bob", "--role", "writer", "--dataset", "other", repo=repo).strip()
    tokens["t-reader"] = run("token", "create", "--user", "bob", "--role", "reader", "--dataset", "t", repo=repo).strip()
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("Serving "), line + process.stderr.read()
    url = "http://" + line.split()[1]
    yield {"url": url, "tokens": tokens, "repo": repo, "process": process}
    if process.poll() is None:
        process.kill()


def same(a, b):
    """Equal tables, NaN equal to NaN (pyarrow's equals says NaN != NaN)."""
    if a.schema.names != b.schema.names or [f.type for f in a.schema] != [f.type for f in b.schema] or a.num_rows != b.num_rows:
        return False
    nan = lambda v: isinstance(v, float) and v != v
    return all(x == y or (nan(x) and nan(y)) for name in a.schema.names
               for x, y in zip(a.column(name).to_pylist(), b.column(name).to_pylist()))


def call(server, method, path, body=None, token=None, attempts=2):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(server["url"] + path, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError):
        # A server may answer (say 401) and close before reading a request body; the status is what we test.
        if attempts <= 1:
            raise
        return call(server, method, path, body, token, attempts - 1)


def test_health_needs_no_token_and_every_other_route_does(server):
    assert call(server, "GET", "/healthz") == (200, b"ok\n")
    admin = server["tokens"]["admin"]
    mistyped = admin[:-1] + ("1" if admin.endswith("0") else "0")  # one character off (never the token itself)
    for method, path, body in ROUTES:
        for token in (None, "loam_000000000000_" + "0" * 48, "garbage", mistyped):
            status, payload = call(server, method, path, body, token)
            assert status == 401, (method, path, token, status)
            error = json.loads(payload)["error"]
            assert error["code"] == "unauthorized" and error["message"]


def test_roles_and_dataset_scopes(server):
    t = server["tokens"]
    writes = {"/api/v1/datasets/t/import?format=csv"}
    for method, path, body in ROUTES:
        status, _ = call(server, method, path, body, t["reader"])
        assert status == (403 if path in writes else 200), (path, status)
    # A write statement needs a writer.
    status, payload = call(server, "POST", "/api/v1/query", {"sql": "DELETE FROM t WHERE id = -1"}, t["reader"])
    assert status == 403 and json.loads(payload)["error"]["code"] == "forbidden"
    status, payload = call(server, "POST", "/api/v1/query", {"sql": "DELETE FROM t WHERE id = -1"}, t["writer"])
    assert status == 200 and json.loads(payload)["verb"] == "DELETE"
    # A token for dataset 'other' cannot touch 't', run SQL, or read repository-wide routes.
    for method, path, body in ROUTES:
        status, _ = call(server, method, path, body, t["other"])
        assert status == (200 if path == "/api/v1/datasets" else 403), (path, status)
    status, payload = call(server, "POST", "/api/v1/datasets/other/import?format=csv", b"id,name\n1,x\n2,y\n", t["other"])
    assert status == 201, payload
    assert json.loads(payload)["rows"] == 2
    status, payload = call(server, "GET", "/api/v1/datasets", None, t["other"])
    assert [d["name"] for d in json.loads(payload)] == ["other"]
    # SQL with a dataset token: its own dataset only — joins, subqueries and writes that reach further are refused.
    status, payload = call(server, "POST", "/api/v1/query", {"sql": "SELECT count(*) AS n FROM other"}, t["other"])
    assert status == 200
    for sql in ["SELECT * FROM other o JOIN t ON t.id = o.id", "SELECT (SELECT count(*) FROM t) AS n",
                "SELECT * FROM other WHERE id IN (SELECT id FROM t)", "DELETE FROM t WHERE id = -1", "CREATE TABLE stolen AS SELECT * FROM other"]:
        status, payload = call(server, "POST", "/api/v1/query", {"sql": sql}, t["other"])
        assert status == 403 and "outside what this token may use" in json.loads(payload)["error"]["message"], (sql, payload)
    status, payload = call(server, "POST", "/api/v1/query", {"sql": "DELETE FROM other WHERE id = 2"}, t["other"])
    assert status == 200 and json.loads(payload)["affected"] == 1
    status, _ = call(server, "GET", "/api/v1/datasets/t/rows?limit=1", None, t["t-reader"])
    assert status == 200
    assert call(server, "GET", "/api/v1/datasets/other/rows", None, t["t-reader"])[0] == 403


def test_errors_are_json_without_paths(server):
    t = server["tokens"]["admin"]
    cases = [("GET", "/api/v1/datasets/missing", None, 404, "not_found"),
             ("GET", "/api/v1/datasets/t/rows?limit=-4", None, 400, "bad_request"),
             ("GET", "/api/v1/datasets/t/rows?columns=nope", None, 400, "bad_request"),
             ("GET", "/api/v1/datasets/t/stream?rank=3&world_size=2", None, 400, "bad_request"),
             ("POST", "/api/v1/query", {"sql": "SELEC 1"}, 400, "bad_request"),
             ("POST", "/api/v1/query", b"not json", 400, "bad_request"),
             ("POST", "/api/v1/datasets/t/take", {"positions": [10 ** 9]}, 400, "bad_request"),
             ("POST", "/api/v1/datasets/t/import?format=csv", b"id,label\n1,not-a-number\n", 400, "bad_request"),
             ("POST", "/api/v1/datasets/t/import", b"x", 400, "bad_request"),
             ("GET", "/api/v1/commits/nope", None, 404, "not_found"),
             ("POST", "/api/v1/query", {"sql": "SELECT 1", "pad": "x" * (2 << 20)}, 413, "payload_too_large")]
    for method, path, body, status, code in cases:
        got, payload = call(server, method, path, body, t)
        error = json.loads(payload)["error"]
        assert (got, error["code"]) == (status, code), (path, got, payload[:200])
        assert str(server["repo"]) not in error["message"] and "/tmp/" not in error["message"], error["message"]
    # Offsets and step ranges near the integer limits are answered, not trapped on.
    got, payload = call(server, "GET", f"/api/v1/datasets/t/rows?offset={2 ** 63 - 1}", None, t)
    assert got == 200, payload
    got, payload = call(server, "GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=x&metric_key=m&start_step=5&end_step=1", None, t)
    assert got == 400 and json.loads(payload)["message"] == "start_step (5) is after end_step (1)", payload
    # An upload's errors name the upload, the line and the column.
    got, payload = call(server, "POST", "/api/v1/datasets/t/import?format=csv", b"id,label\n1,2\n1,not-a-number\n", t)
    assert got == 400 and json.loads(payload)["error"]["message"].startswith("upload:3 (column 'label')"), payload


def test_remote_reads_exactly_what_local_reads(server):
    remote = loam.connect(server["url"], token=server["tokens"]["reader"])
    local = loam.open(server["repo"])
    assert remote.datasets() == local.datasets()
    assert remote.resolve("v1") == local.resolve("v1") and remote.branches() == local.branches() and remote.tags() == local.tags()
    for ref in ("v1", "v2", "HEAD"):
        r, l = remote.dataset("t", ref=ref), local.dataset("t", ref=ref)
        assert len(r) == len(l) and r.schema == l.schema and r.commit == l.commit
        assert same(r.to_arrow(), l.to_arrow())
        picks = np.random.default_rng(4).integers(0, len(l), 300)
        assert same(r.take(picks, ["id", "emb"]), l.take(picks, ["id", "emb"]))
        assert same(r[10:40], l[10:40]) and r[7]["id"] == l[7]["id"]
    r, l = remote.dataset("t"), local.dataset("t")
    # The server's training stream is the local order, bit for bit, for every rank and resume point.
    for kwargs in ({"seed": 5, "epoch": 2}, {"seed": 5, "epoch": 2, "rank": 1, "world_size": 3},
                   {"seed": 1, "shuffle": False}, {"seed": 9, "start_batch": 4, "block_rows": 100, "window_blocks": 3}):
        got = [b["id"].tolist() for b in r.to_numpy(["id", "emb"], batch_size=64, **kwargs)]
        want = [b["id"].tolist() for b in l.to_numpy(["id", "emb"], batch_size=64, **kwargs)]
        assert got == want and got, kwargs
    assert r.query("SELECT count(*) AS n FROM t").column("n").to_pylist() == [len(l)]


def test_import_and_sql_writes_are_commits_the_local_reader_sees(server):
    writer = loam.connect(server["url"], token=server["tokens"]["writer"])
    path = os.path.join(str(server["repo"]), "extra.csv")
    with open(path, "w") as f:
        f.write("k,v\n" + "".join(f"{i},{i * i}\n" for i in range(50)))
    done = writer.import_file("extra", path)
    assert done["rows"] == 50 and done["created"]
    local = loam.open(server["repo"])
    assert local.resolve("HEAD") == done["commit"]
    assert local.dataset("extra").to_arrow().column("v").to_pylist() == [i * i for i in range(50)]
    outcome = writer.query("UPDATE extra SET v = 0 WHERE k < 10")
    assert outcome["affected"] == 10 and loam.open(server["repo"]).resolve("HEAD") == outcome["commit"]
    # Writes through a token are authored by the token's user, not the server's process.
    for commit in (done["commit"], outcome["commit"]):
        status, payload = call(server, "GET", f"/api/v1/commits/{commit}", None, server["tokens"]["reader"])
        assert status == 200 and json.loads(payload)["author"] == "ada"
    with pytest.raises(loam.ServerError) as failure:
        loam.connect(server["url"], token=server["tokens"]["reader"]).import_file("extra", path)
    assert failure.value.status == 403


def test_metrics_count_requests_bytes_and_commits(server):
    status, payload = call(server, "GET", "/metrics", None, server["tokens"]["reader"])
    text = payload.decode()
    assert status == 200
    assert 'loam_http_requests_total{route="/api/v1/datasets/{name}/take",method="POST",status="200"}' in text.replace(":name", "{name}") or \
        'route="/api/v1/datasets/:name/take"' in text
    streamed = int(next(l for l in text.splitlines() if l.startswith("loam_bytes_streamed_total")).split()[1])
    commits = int(next(l for l in text.splitlines() if l.startswith("loam_commits_total")).split()[1])
    assert streamed > 0 and commits >= 1
    assert "loam_http_request_duration_seconds_bucket" in text


def test_sigterm_stops_the_server_cleanly(server, history, tmp_path):
    repo = tmp_path / "r"
    shutil.copytree(history, repo)
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0", "--anonymous"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    url = "http://" + line.split()[1]
    assert loam.connect(url).datasets() == ["t"]  # anonymous: no token
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    refused = subprocess.run([LOAM, "serve", "--repo", str(repo), "--host", "0.0.0.0", "--anonymous"], capture_output=True, text=True)
    assert refused.returncode != 0 and "loopback" in refused.stderr
