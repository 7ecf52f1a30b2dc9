"""The audit log: every write (CLI and server) and every server read is an entry naming the user and the command
or route, with personal data redacted; `loam audit verify` names each kind of tampering done to the catalog by hand."""
import json
import os
import shutil
import sqlite3
import subprocess
import urllib.request

import pytest

from conftest import LOAM, loam as run


def cli(repo, *args, user="ada"):
    done = subprocess.run([LOAM, *args, "--repo", str(repo)], env=dict(os.environ, LOAM_AUTHOR=user), capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture()
def repo(tmp_path):
    path = tmp_path / "repo"
    run("init", str(path))
    (tmp_path / "t.csv").write_text("id,email\n1,ana@example.com\n2,bob@example.org\n")
    assert cli(path, "import", str(tmp_path / "t.csv"), "-d", "t", "-q")[0] == 0
    assert cli(path, "query", "UPDATE t SET id = 3 WHERE email = 'ana@example.com'", user="bo")[0] == 0
    assert cli(path, "tag", "v1")[0] == 0
    assert cli(path, "branch", "exp")[0] == 0
    assert cli(path, "user", "add", "cy")[0] == 0
    return path


def entries(repo):
    return json.loads(cli(repo, "audit", "log", "--json")[1])


def test_writes_are_entries_with_user_command_and_no_personal_data(repo):
    log = entries(repo)
    assert [e["action"] for e in log] == ["create ref", "move ref", "move ref", "create ref", "create ref", "add user"]
    assert [e["user"] for e in log][1:] == ["ada", "bo", "ada", "ada", "ada"]
    update = log[2]
    assert update["detail"].startswith("loam query UPDATE t SET id = 3 WHERE email = '[EMAIL]'")
    assert "ana@example.com" not in json.dumps(log)
    code, out, _ = cli(repo, "audit", "verify")
    assert code == 0 and "6 entries, chain intact" in out


def test_server_reads_and_writes_name_the_token_user_and_route(repo):
    run("user", "add", "dee", repo=repo)
    token = run("token", "create", "--user", "dee", "--role", "writer", repo=repo).strip()
    server = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = "http://" + server.stdout.readline().split()[1]
        def send(method, path, body=None):
            req = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(), method=method)
            req.add_header("Authorization", "Bearer " + token)
            req.add_header("Content-Type", "application/json")
            return json.loads(urllib.request.urlopen(req).read() or b"{}") if path.startswith("/api/2.0") else urllib.request.urlopen(req).read()
        experiment = send("POST", "/api/2.0/mlflow/experiments/create", {"name": "audited"})["experiment_id"]
        run_id = send("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]
        send("POST", "/api/2.0/mlflow/runs/log-metric", {"run_id": run_id, "key": "loss", "value": 0.123456789, "timestamp": 1, "step": 0})
        for method, path, body in [("GET", "/api/v1/datasets", None), ("POST", "/api/v1/query", {"sql": "DELETE FROM t WHERE id = 2"})]:
            send(method, path, body)
    finally:
        server.kill()
    log = entries(repo)
    read = next(e for e in log if e["action"] == "read")
    assert read["user"] == "dee" and read["target"] == "/api/v1/datasets" and read["detail"] == "GET /api/v1/datasets"
    # Tracking writes (MLflow's REST API) are entries too: ids and keys, never values.
    run_entry = next(e for e in log if e["action"] == "track")
    assert run_entry["user"] == "dee" and run_entry["target"] == "create experiment audited"
    assert run_entry["detail"] == "POST /api/2.0/mlflow/experiments/create"
    metric = next(e for e in log if e["action"] == "track" and "metric" in e["target"])
    assert metric["user"] == "dee" and metric["target"] == f"log 1 metric points to run {run_id}" and "0.123456789" not in json.dumps(log)
    write = log[-1]
    assert write["user"] == "dee" and write["action"] == "move ref" and write["detail"].startswith("POST /api/v1/query — DELETE FROM t WHERE id = 2")
    assert cli(repo, "audit", "verify")[0] == 0


def tampered(repo, tmp_path, name, statements):
    copy = tmp_path / name
    shutil.copytree(repo, copy)
    db = sqlite3.connect(copy / ".loam" / "catalog.sqlite")
    for sql in statements:
        db.execute(sql)
    db.commit()
    db.close()
    return copy


def test_verify_names_each_kind_of_tampering(repo, tmp_path):
    head = json.loads(cli(repo, "audit", "verify", "--json")[1])["head"]
    cases = {
        "edited": (["UPDATE audit_log SET user = 'mallory' WHERE seq = 3"], "entry 3: was edited"),
        "detail": (["UPDATE audit_log SET detail = 'loam query SELECT 1' WHERE seq = 3"], "entry 3: was edited: its detail"),
        # A detail redacted as an erasure does it (salt destroyed), but with no erasure entry naming it.
        "redacted": (["UPDATE audit_log SET detail = '[erased]', detail_salt = '' WHERE seq = 3"], "entry 3: was edited: its detail"),
        "deleted": (["DELETE FROM audit_log WHERE seq = 4"], "entry 4: is missing (deleted)"),
        "reordered": (["UPDATE audit_log SET seq = -1 WHERE seq = 2", "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                       "UPDATE audit_log SET seq = 3 WHERE seq = -1"], "does not follow the entry before it"),
    }
    for name, (statements, expected) in cases.items():
        code, out, _ = cli(tampered(repo, tmp_path, name, statements), "audit", "verify")
        assert code == 1 and expected in out, f"{name}: {out}"
    truncated = tampered(repo, tmp_path, "truncated", ["DELETE FROM audit_log WHERE seq = 6"])
    assert cli(truncated, "audit", "verify")[0] == 0  # a shorter chain is still a chain …
    code, out, _ = cli(truncated, "audit", "verify", "--head", head)
    assert code == 1 and "not in the log" in out  # … which a saved head catches
