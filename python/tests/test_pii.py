"""Personal data through the CLI, against references: the keyed hash equals Python's hmac (HMAC-SHA256),
the scan's counts equal what the test planted, and anonymized rows keep their _rowid while the old
version still reads the originals through the Python client."""
import hashlib
import hmac
import json
import os

import pyarrow as pa

import loam
from conftest import LOAM, loam as run

os.environ.setdefault("LOAM_BIN", LOAM)


def test_scan_hash_and_time_travel(tmp_path):
    repo = tmp_path / "repo"
    run("init", str(repo))
    emails = [f"user{i}@example.com" if i % 3 else "shared@example.org" for i in range(300)]
    notes = [f"card 4111 1111 1111 1111, ref {i}" if i % 10 == 0 else f"order {i}" for i in range(300)]
    loam.open(str(repo)).write(pa.table({"email": emails, "note": notes, "n": list(range(300))}), "people")
    report = json.loads(run("pii", "scan", "people", "--json", repo=repo))
    kinds = {(c["column"], k["kind"]): k["rows"] for c in report["columns"] for k in c["kinds"]}
    assert kinds == {("email", "email"): 300, ("note", "credit_card"): 30}
    assert "4111" not in json.dumps(report) and "example.com" not in json.dumps(report)
    key = b"a key of sixteen bytes or more"
    done = __import__("subprocess").run([LOAM, "anonymize", "people", "email", "--hash", "--repo", str(repo)],
                                        env=dict(os.environ, LOAM_HASH_KEY=key.decode()), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run("anonymize", "people", "note", "--mask", repo=repo)
    ds = loam.open(str(repo)).dataset("people")
    table = ds.to_arrow()
    assert table["email"].to_pylist() == [hmac.new(key, e.encode(), hashlib.sha256).hexdigest()[:32] for e in emails]
    assert table["note"][0].as_py() == "card **** **** **** 1111, ref 0" and table["note"][1].as_py() == "order 1"
    before = loam.open(str(repo)).dataset("people", ref="HEAD~2")
    assert before.to_arrow()["email"].to_pylist() == emails
    assert list(before.rowids()) == list(ds.rowids())  # rows keep their identity


def test_sql_functions_match_the_cli_and_pythons_hmac(tmp_path):
    repo = tmp_path / "repo"
    run("init", str(repo))
    notes = ["mail ada@example.com or +44 20 7946 0958", "card 4111 1111 1111 1111", "nothing here", None]
    loam.open(str(repo)).write(pa.table({"id": [1, 2, 3, 4], "note": notes, "email": ["a@x.org", "b@x.org", "a@x.org", None]}), "people")
    key = "a key of sixteen bytes or more"
    env = dict(os.environ, LOAM_HASH_KEY=key)
    done = __import__("subprocess").run([LOAM, "query", "SELECT id, pii_kinds(note) AS k, pii_mask(note) AS m, pii_redact(note) AS r, "
                                         "pii_hash(email) AS h FROM people ORDER BY id", "--format", "jsonl", "--repo", str(repo)],
                                        env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["k"] for r in rows] == ["email,phone", "credit_card", "", None]
    assert rows[0]["r"] == "mail [EMAIL] or [PHONE]" and rows[1]["m"] == "card **** **** **** 1111" and rows[2]["m"] == "nothing here"
    assert [r["h"] for r in rows] == [hmac.new(key.encode(), e.encode(), hashlib.sha256).hexdigest()[:32] if e else None
                                     for e in ["a@x.org", "b@x.org", "a@x.org", None]]
    missing = __import__("subprocess").run([LOAM, "query", "SELECT pii_hash(email) FROM people", "--repo", str(repo)],
                                           env={k: v for k, v in os.environ.items() if k != "LOAM_HASH_KEY"}, capture_output=True, text=True)
    assert missing.returncode == 1 and "LOAM_HASH_KEY" in missing.stderr
