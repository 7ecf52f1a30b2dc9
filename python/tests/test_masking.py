"""Column masking per role on a real `loam serve`, as an automated matrix: every read route (rows, take,
stream, SQL with a join, a subquery, loam_diff and an old version, the Python client) × every role (reader,
writer, admin) × every column (hashed, redacted, redacted number, clear). The keyed hash is checked against
Python's hmac with the repository's masking key; policy changes are an admin's, and a write may not read a
masked column."""
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

import loam
from conftest import LOAM, loam as run
from test_server import call

N = 40
EMAILS = [f"user{i % 30}@mail.example" for i in range(N)]  # some shared: equal values must hash equally
SSNS = [f"{100 + i:03d}-45-{1000 + i:04d}" for i in range(N)]
NAMES = [f"Person {i}" for i in range(N)]
SALARIES = [1000.0 + i for i in range(N)]
POLICIES = {"email": ("hash", ["reader"]), "ssn": ("redact", ["reader", "writer"]), "salary": ("redact", ["reader"])}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    repo = tmp_path_factory.mktemp("masked") / "repo"
    run("init", str(repo))
    lo = loam.open(str(repo))
    lo.write(pa.table({"id": list(range(N)), "email": EMAILS, "ssn": SSNS, "name": NAMES, "salary": SALARIES}), "users")
    lo.write(pa.table({"user_id": [0, 1, 2, 35], "email": [EMAILS[0], EMAILS[1], "nobody@x.example", EMAILS[35]], "total": [5.0, 6.0, 7.0, 8.0]}), "orders")
    run("tag", "before-masks", repo=repo)
    for column, (method, roles) in POLICIES.items():
        run("mask", "users", column, f"--{method}", "--roles", ",".join(roles), repo=repo)
    run("query", "UPDATE users SET name = 'Renamed' WHERE id = 3", repo=repo)
    run("user", "add", "ada", repo=repo)
    tokens = {role: run("token", "create", "--user", "ada", "--role", role, repo=repo).strip() for role in ("reader", "writer", "admin")}
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("Serving "), line + process.stderr.read()
    server = {"url": "http://" + line.split()[1], "tokens": tokens, "repo": repo}
    call(server, "GET", "/api/v1/datasets", token=tokens["reader"])  # the first authenticated request makes the masking key
    catalog = sqlite3.connect(os.path.join(str(repo), ".loam", "catalog.sqlite"))
    server["key"] = bytes.fromhex(catalog.execute("SELECT value FROM settings WHERE key = 'mask_key'").fetchone()[0])
    catalog.close()
    yield server
    process.kill()


def expected(server, role, column, values):
    policy = POLICIES.get(column)
    if policy is None or role not in policy[1]:
        return values
    if policy[0] == "hash":
        return [None if v is None else hmac.new(server["key"], v.encode(), hashlib.sha256).hexdigest()[:32] for v in values]
    return [None if v is None else ("***" if isinstance(v, str) else None) for v in values]


def arrow_of(payload):
    return ipc.open_stream(payload).read_all()


def sql(server, role, text):
    status, payload = call(server, "POST", "/api/v1/query", {"sql": text}, server["tokens"][role])
    assert status == 200, payload
    return arrow_of(payload)


def reads(server, role):
    """Every read route's answer as {route: table with id and the four columns}."""
    token = server["tokens"][role]
    out = {}
    status, payload = call(server, "GET", "/api/v1/datasets/users/rows?limit=100", token=token)
    assert status == 200
    out["rows"] = arrow_of(payload)
    status, payload = call(server, "POST", "/api/v1/datasets/users/take", {"positions": list(range(N))}, token)
    assert status == 200
    out["take"] = arrow_of(payload)
    status, payload = call(server, "GET", "/api/v1/datasets/users/stream?batch_size=7&shuffle=false", token=token)
    assert status == 200
    out["stream"] = arrow_of(payload)
    out["sql"] = sql(server, role, "SELECT id, email, ssn, name, salary FROM users ORDER BY id")
    out["sql old version"] = sql(server, role, "SELECT id, email, ssn, name, salary FROM users AT 'before-masks' ORDER BY id")
    out["subquery"] = sql(server, role, "SELECT id, email, ssn, name, salary FROM users WHERE id IN (SELECT id FROM users WHERE salary IS NULL OR salary >= 0) ORDER BY id")
    out["python client"] = loam.connect(server["url"], token=token).dataset("users").to_arrow()
    return out


@pytest.mark.parametrize("role", ["reader", "writer", "admin"])
def test_every_route_masks_every_column_for_the_role(served, role):
    for route, table in reads(served, role).items():
        by_id = {r["id"]: r for r in table.to_pylist()}
        assert sorted(by_id) == list(range(N)), route
        for column, values in (("email", EMAILS), ("ssn", SSNS), ("salary", SALARIES)):
            got = [by_id[i][column] for i in range(N)]
            assert got == expected(served, role, column, values), f"{route} × {role} × {column}"
        names = [by_id[i]["name"] for i in range(N)]
        assert names[:3] == NAMES[:3] and names[3] in ("Renamed", NAMES[3]), f"{route} × {role} × name (never masked)"


@pytest.mark.parametrize("role", ["reader", "writer", "admin"])
def test_joins_and_diffs_see_masked_values(served, role):
    # A join on a hashed column still matches (equal values hash equally) and returns the hash.
    joined = sql(served, role, "SELECT o.user_id, u.email, o.total FROM orders o JOIN users u ON u.id = o.user_id ORDER BY o.user_id")
    assert joined["email"].to_pylist() == expected(served, role, "email", [EMAILS[0], EMAILS[1], EMAILS[2], EMAILS[35]])
    # loam_diff: both sides, the old version's included, as the role may see them.
    diff = sql(served, role, "SELECT * FROM loam_diff('before-masks', 'HEAD', 'users')").to_pylist()
    assert {r["column"] for r in diff if r["change"] == "modified"} >= {"name"}
    for row in diff:
        assert row["_rowid"] is not None
        if row["change"] == "modified" and row["column"] in POLICIES:
            source = {"email": EMAILS, "ssn": SSNS, "salary": SALARIES}[row["column"]][3]
            masked = expected(served, role, row["column"], [source])[0]
            assert json.loads(row["old"]) == masked and json.loads(row["new"]) == masked, (role, row)
    if role != "admin":
        assert not any(v in json.dumps(diff) for v in (SSNS[3], EMAILS[3] if role == "reader" else "@@")), diff
    # A change invisible to the role (masked to the same value on both sides) is not a row of its diff.
    assert all(json.loads(r["old"]) != json.loads(r["new"]) for r in diff if r["change"] == "modified")


def test_policies_are_an_admins_and_writes_may_not_read_masked_columns(served):
    tokens = served["tokens"]
    status, payload = call(served, "GET", "/api/v1/datasets/users/masks", token=tokens["reader"])
    assert status == 200 and json.loads(payload) == {c: {"method": m, "roles": sorted(r)} for c, (m, r) in POLICIES.items()}
    for role in ("reader", "writer"):
        status, _ = call(served, "PUT", "/api/v1/datasets/users/masks/name", {"method": "redact"}, tokens[role])
        assert status == 403
        status, _ = call(served, "DELETE", "/api/v1/datasets/users/masks/email", token=tokens[role])
        assert status == 403
    # A writer's DELETE or UPDATE naming a column masked for writers is refused (it would probe or copy it).
    for statement in ("DELETE FROM users WHERE ssn = '100-45-1000'", "UPDATE users SET name = ssn WHERE id = 1"):
        status, payload = call(served, "POST", "/api/v1/query", {"sql": statement}, tokens["writer"])
        assert status == 400 and b"masked" in payload, payload
    status, _ = call(served, "POST", "/api/v1/query", {"sql": "UPDATE users SET name = 'N' WHERE id = 39"}, tokens["writer"])
    assert status == 200  # other columns stay writable, and the masked values are kept as stored
    assert loam.open(str(served["repo"])).dataset("users").to_arrow().to_pylist()[39]["ssn"] == SSNS[39]
    # An admin changes a policy: a commit; readers now see the name redacted, then clear again.
    status, payload = call(served, "PUT", "/api/v1/datasets/users/masks/name", {"method": "redact", "roles": ["reader"]}, tokens["admin"])
    assert status == 200 and len(json.loads(payload)["commit"]) == 64
    assert set(sql(served, "reader", "SELECT name FROM users")["name"].to_pylist()) == {"***"}
    status, _ = call(served, "DELETE", "/api/v1/datasets/users/masks/name", token=tokens["admin"])
    assert status == 200
    assert "***" not in sql(served, "reader", "SELECT name FROM users")["name"].to_pylist()
    # Zone maps of a masked column do not prune: a reader's equality on the hash finds the row.
    digest = expected(served, "reader", "email", [EMAILS[5]])[0]
    assert sql(served, "reader", f"SELECT id FROM users WHERE email = '{digest}' ORDER BY id")["id"].to_pylist() == [5, 35]
