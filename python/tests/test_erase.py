"""Erasure from every version, checked from outside Loam: a history of 20+ commits with branches, tags,
updates, deletes and labels; `loam erase` removes one person; every old commit still reads through the
Python client (its own Arrow reader), identical but for that person's rows; and no byte of any file under
.loam/ holds the person's values (searched here with plain Python, not with Loam). A kill -9 at every step
of the erasure leaves the old state or the erased one, and a second run finishes the job."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pyarrow as pa

import loam
from conftest import LOAM, loam as run

os.environ.setdefault("LOAM_BIN", LOAM)

SUBJECT = 123
SECRETS = ["ada.subject@erase.example", "Ada Quuxberg", "Rue Secrète 17", "ordered by ada.subject", "subject-note-xyz"]


def query(repo, sql):
    return [json.loads(line) for line in run("query", sql, "--format", "jsonl", repo=repo).splitlines() if line.strip()]


def users(start, count):
    rows = range(start, start + count)
    return pa.table({
        "user_id": pa.array(rows, pa.int64()),
        "email": [SECRETS[0] if i == SUBJECT else f"u{i}@mail.example" for i in rows],
        "name": [SECRETS[1] if i == SUBJECT else f"Person {i}" for i in rows],
        "address": [SECRETS[2] if i == SUBJECT else f"{i} Main Street" for i in rows],
        "city": ["Paris" if i % 2 else "Lyon" for i in rows],
    })


def build(repo, small=False):
    """The history; returns how many commits it made."""
    run("init", str(repo))
    lo = loam.open(str(repo))
    commits = 0
    batches = 2 if small else 6
    for b in range(batches):
        lo.write(users(100 + b * 50, 50), "users")  # the subject (123) arrives in the first batch
        commits += 1
    run("tag", "v1", repo=repo)
    lo.write(pa.table({"user_id": pa.array([SUBJECT, SUBJECT, 101], pa.int64()),
                       "note": [SECRETS[3], SECRETS[4], "an order of 101"], "amount": [9.5, 3.25, 7.0]}), "orders")
    commits += 1
    run("query", f"UPDATE users SET city = 'Nice' WHERE user_id = {SUBJECT}", repo=repo)
    commits += 1
    if not small:
        run("label", "schema", "add", "tier", "-d", "users", "--kind", "class", "--classes", "gold,silver", repo=repo)
        commits += 1
        ids = query(repo, f"SELECT _rowid FROM users WHERE user_id IN ({SUBJECT}, 104)")
        for row in ids:
            run("label", "add", "-d", "users", "--schema", "tier", "--row", str(row["_rowid"]), "--annotator", "ann", "gold", repo=repo)
            commits += 1
        run("branch", "exp", repo=repo)
        run("switch", "exp", repo=repo)
        for i in range(3):
            run("query", f"UPDATE users SET city = 'Exp{i}' WHERE user_id IN ({SUBJECT}, {102 + i})", repo=repo)
            commits += 1
        run("tag", "exp-done", repo=repo)
        run("switch", "main", repo=repo)
        for i in range(5):
            run("query", f"UPDATE users SET address = '{i} New Road' WHERE user_id = {110 + i}", repo=repo)
            commits += 1
        run("query", "DELETE FROM users WHERE user_id = 105", repo=repo)
        commits += 1
        run("tag", "v2", repo=repo)
        run("query", f"SELECT * FROM users WHERE email = '{SECRETS[0]}'", repo=repo)
    run("query", f"DELETE FROM users WHERE user_id = {SUBJECT}", repo=repo)  # deleted at the head, still in history
    commits += 1
    return commits


def every_commit(repo):
    lo = loam.open(str(repo))
    seen = []
    for ref in list(lo.branches()) + list(lo.tags()):
        for cid, _ in lo.log(ref):
            if cid not in seen:
                seen.append(cid)
    return seen


def snapshot(repo, commits):
    """commit → dataset → sorted rows, read by the Python client itself (not through the binary)."""
    lo = loam.open(str(repo))
    out = {}
    for cid in commits:
        out[cid] = {}
        for name in lo.datasets(cid):
            rows = lo.dataset(name, ref=cid).to_arrow().to_pylist()
            out[cid][name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return out


def without_subject(state, subject_rowids):
    out = {}
    for cid, datasets in state.items():
        out[cid] = {}
        for name, rows in datasets.items():
            if name == "users__labels":
                out[cid][name] = [r for r in rows if r["row_id"] not in subject_rowids]
            else:
                out[cid][name] = [r for r in rows if r.get("user_id") != SUBJECT]
    return out


SEARCH = """
import base64, binascii, json, os, sys
root, values = sys.argv[1], json.loads(sys.argv[2])

def packed(data):
    # The strings of a JSON file (the quality module's kept profiles) that are base64, decoded: packed values.
    try:
        document = json.loads(data)
    except ValueError:
        return b""
    out, stack = [], [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack += list(item.values())
        elif isinstance(item, list):
            stack += item
        elif isinstance(item, str) and len(item) >= 8:
            try:
                out.append(base64.b64decode(item, validate=True))
            except (binascii.Error, ValueError):
                pass
    return b"\\0".join(out)

found = []
for folder, _, names in os.walk(os.path.join(root, ".loam")):
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        decoded = packed(data) if data[:1] == b"{" else b""
        path = os.path.relpath(os.path.join(folder, name), root)
        found += [[path, v, "bytes"] for v in values if v.encode() in data]
        found += [[path, v, "packed"] for v in values if v.encode() in decoded]
print(json.dumps(found))
"""


def files_holding(repo, values):
    """Every (file, value, how) under .loam/ holding a value's UTF-8 bytes, as they are ("bytes") or in a JSON
    string of base64 ("packed"). Searched in another process: closing a descriptor of the catalog here would
    drop this process's SQLite locks on it (POSIX advisory locks)."""
    done = subprocess.run([sys.executable, "-c", SEARCH, str(repo), json.dumps(values)], capture_output=True, text=True, check=True)
    return [tuple(found) for found in json.loads(done.stdout)]


def after_rows(repo):
    return query(repo, "SELECT count(*) AS n FROM users")[0]["n"]


def test_erase_from_every_version(tmp_path):
    repo = tmp_path / "repo"
    made = build(repo)
    commits = every_commit(repo)
    assert made >= 20 and len(commits) >= 20
    before = snapshot(repo, commits)
    subject_rowids = {r["_rowid"] for r in query(repo, f"SELECT _rowid FROM users AT 'v1' WHERE user_id = {SUBJECT}")}
    # Kept profiles and a key index hold the person's values, packed or hashed: the erasure must drop them too.
    run("profile", "users", "--json", repo=repo)
    run("profile", "orders", "--json", repo=repo)
    run("profile", "users", "--ref", "v1", "--json", repo=repo)
    held = files_holding(repo, SECRETS[:1])
    assert any(how == "bytes" for _, _, how in held)  # the history holds the person before
    assert any(how == "packed" for _, _, how in held)  # and a profile's top values, packed
    assert any(r["row_id"] in subject_rowids for d in before.values() for r in d.get("users__labels", []))

    dry = json.loads(run("erase", "users", "orders", "--where", f"user_id = {SUBJECT}", "--dry-run", "--json", repo=repo))
    assert dry["dryRun"] and dry["rows"] == 4 and snapshot(repo, commits) == before  # the person, 2 orders, 1 label

    out = run("erase", "users", "orders", "--where", f"user_id = {SUBJECT}", "--verify", repo=repo)
    assert "verified: none of the" in out and not any(s in out for s in SECRETS)

    # Every commit id still reads, identical but for the person's rows (and the label of them).
    assert every_commit(repo) == commits
    after = snapshot(repo, commits)
    assert after == without_subject(before, subject_rowids)
    assert sum(len(d.get("users", [])) for d in after.values()) < sum(len(d.get("users", [])) for d in before.values())
    # No byte anywhere: fragments, manifests (statistics), commits, catalog, WAL, SQL history, kept profiles.
    assert files_holding(repo, SECRETS) == []
    catalog = sqlite3.connect(os.path.join(str(repo), ".loam", "catalog.sqlite"))
    kept = catalog.execute("SELECT count(*), sum(size) FROM artifacts WHERE path LIKE 'quality/%'").fetchone()
    catalog.close()
    assert kept[0] > 0 and kept[1] == 0  # every kept profile emptied, to be computed again
    profile = run("profile", "users", "--json", repo=repo)
    assert json.loads(profile)["rows"] == after_rows(repo) and not any(s in profile for s in SECRETS)
    assert files_holding(repo, SECRETS) == []  # computed again from what is left
    # The replacement map names the rewritten objects; the audit log holds the proof, not the values.
    catalog = sqlite3.connect(os.path.join(str(repo), ".loam", "catalog.sqlite"))
    assert catalog.execute("SELECT count(*) FROM object_replacements").fetchone()[0] > 0
    entry = catalog.execute("SELECT target, detail FROM audit_log WHERE action = 'erase'").fetchone()
    catalog.close()
    proof = json.loads(entry[1].split(" — ", 1)[1])
    assert proof["rows"] == 4 and len(proof["row_ids_sha256"]) == 64 and not any(s in entry[0] + entry[1] for s in SECRETS)
    assert "chain intact" in run("audit", "verify", repo=repo)
    assert run("fsck", repo=repo).startswith("ok")
    run("gc", "--grace-minutes", "0", repo=repo)
    assert snapshot(repo, commits) == after
    # A person with no rows left: nothing more to do, and the scan finds nothing.
    again = json.loads(run("erase", "users", "--where", f"user_id = {SUBJECT}", "--json", repo=repo))
    assert again["rows"] == 0
    assert "verified" in run("erase", *sum((["--check", s] for s in SECRETS), []), repo=repo)


def test_kill_at_every_step_leaves_old_or_erased(tmp_path):
    pristine = tmp_path / "pristine"
    build(pristine, small=True)
    commits = every_commit(pristine)
    before = snapshot(pristine, commits)
    rowids = {r["_rowid"] for r in query(pristine, f"SELECT _rowid FROM users AT 'v1' WHERE user_id = {SUBJECT}")}
    erased = without_subject(before, rowids)
    argv = [LOAM, "erase", "users", "orders", "--where", f"user_id = {SUBJECT}"]
    outcomes = {"old": 0, "erased": 0}
    for n in range(1, 400):
        repo = tmp_path / f"kill{n}"
        shutil.copytree(pristine, repo)
        done = subprocess.run(argv + ["--repo", str(repo)], env=dict(os.environ, LOAM_FAILPOINT=f"any:{n}"), capture_output=True, text=True)
        if done.returncode == 0:
            break
        assert done.returncode == -9, done.stderr
        state = snapshot(repo, commits)
        assert state in (before, erased), f"kill at step {n} left a state that is neither"
        outcomes["old" if state == before else "erased"] += 1
        run(*argv[1:], "--repo", str(repo))  # a second run finishes
        assert snapshot(repo, commits) == erased and files_holding(repo, SECRETS) == []
        shutil.rmtree(repo)
    else:
        raise AssertionError("erase never finished")
    assert outcomes["old"] > 0 and outcomes["erased"] > 0 and n > 5
    assert snapshot(repo, commits) == erased and files_holding(repo, SECRETS) == []
