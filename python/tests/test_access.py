"""Token expiry and user removal on a real `loam serve`: an expired token is refused with a message that
says so, a removed user's tokens stop working at once, and both are in the audit log."""
import json
import os
import sqlite3
import subprocess
import time

import pyarrow as pa

import loam
from conftest import LOAM, loam as run
from test_server import call


def test_expiry_and_removal(tmp_path):
    repo = tmp_path / "repo"
    run("init", str(repo))
    loam.open(str(repo)).write(pa.table({"id": [1, 2, 3]}), "t")
    run("user", "add", "ada", repo=repo)
    run("user", "add", "bob", repo=repo)
    lasting = run("token", "create", "--user", "ada", "--role", "reader", "--expires-in", "30d", repo=repo).strip()
    brief = run("token", "create", "--user", "ada", "--role", "reader", "--expires-in", "2h", repo=repo).strip()
    bobs = [run("token", "create", "--user", "bob", "--role", r, repo=repo).strip() for r in ("reader", "writer")]
    listed = {t["id"]: t for t in json.loads(run("token", "list", "--json", repo=repo))}
    ada = [t for t in listed.values() if t["user"] == "ada"]
    assert len(ada) == 2 and all(t["expires"] for t in ada)
    assert all(t["expires"] is None for t in listed.values() if t["user"] == "bob")
    bad = subprocess.run([LOAM, "token", "create", "--user", "ada", "--role", "reader", "--expires-in", "soon", "--repo", str(repo)],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "90m, 12h or 30d" in bad.stderr
    # The 2-hour token's expiry moved into the past, as time would.
    catalog = sqlite3.connect(os.path.join(str(repo), ".loam", "catalog.sqlite"))
    catalog.execute("UPDATE tokens SET expires_at = ? WHERE id = ?", (time.time() - 5, brief.split("_")[1]))
    catalog.commit()
    catalog.close()
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        server = {"url": "http://" + line.split()[1]}
        assert call(server, "GET", "/api/v1/datasets/t", token=lasting)[0] == 200
        status, payload = call(server, "GET", "/api/v1/datasets/t", token=brief)
        assert status == 401 and "expired at" in json.loads(payload)["error"]["message"]
        assert all(call(server, "GET", "/api/v1/datasets/t", token=t)[0] == 200 for t in bobs)
        assert "Removed user bob and 2 token(s)" in run("user", "remove", "bob", repo=repo)
        assert all(call(server, "GET", "/api/v1/datasets/t", token=t)[0] == 401 for t in bobs)  # at once, no restart
    finally:
        process.kill()
    assert "bob" not in run("user", "list", repo=repo)
    assert not any(t["user"] == "bob" for t in json.loads(run("token", "list", "--json", repo=repo)))
    log = run("audit", "log", "--json", repo=repo)
    entries = json.loads(log)
    assert any(e["action"] == "remove user" and e["target"] == "bob and 2 token(s)" for e in entries)
    assert any(e["action"] == "create token" and "expires" in e["target"] for e in entries)
    assert "chain intact" in run("audit", "verify", repo=repo)
    missing = subprocess.run([LOAM, "user", "remove", "nobody", "--repo", str(repo)], capture_output=True, text=True)
    assert missing.returncode == 1 and "no user 'nobody'" in missing.stderr
