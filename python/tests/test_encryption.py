"""Encryption at rest on real files: `loam init --encrypt`, data written and read back through the CLI and
through the Python client (which decrypts with `cryptography`), every object file an envelope with no
plaintext in it, wrong and missing keys refused with a clear error and no partial output, key rotation
that rewrites no object, and a damaged object refused rather than misread."""
import json
import os
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

import loam
from conftest import LOAM

MARKER = "zebra-crossing-7731"


def cli(*args, key=None, check=True):
    env = dict(os.environ)
    env.pop("LOAM_MASTER_KEY", None)
    env.pop("LOAM_KEY_FILE", None)
    if key:
        env["LOAM_KEY_FILE"] = str(key)
    done = subprocess.run([LOAM, *map(str, args)], capture_output=True, text=True, env=env)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def objects(repo):
    folder = os.path.join(str(repo), ".loam", "objects")
    return sorted(os.path.join(d, n) for d, _, names in os.walk(folder) for n in names)


@pytest.fixture
def encrypted(tmp_path, monkeypatch):
    key = tmp_path / "master.key"
    repo = tmp_path / "repo"
    out = cli("init", repo, "--encrypt", "--key-file", key).stdout
    assert "encrypted" in out and oct(os.stat(key).st_mode & 0o777) == "0o600"
    rng = np.random.default_rng(1)
    table = pa.table({
        "id": pa.array(np.arange(5000, dtype=np.int64)),
        "text": [f"{MARKER} {i}" if i % 100 == 0 else f"row {i}" for i in range(5000)],
        "score": pa.array(rng.random(5000)),
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(5000 * 4).astype(np.float32)), 4),
    })
    source = tmp_path / "t.arrow"
    with ipc.new_file(str(source), table.schema) as w:
        w.write_table(table)
    cli("import", source, "-d", "t", "--repo", repo, key=key)
    cli("query", "DELETE FROM t WHERE id % 7 = 0", "--repo", repo, key=key)
    monkeypatch.setenv("LOAM_KEY_FILE", str(key))
    return repo, key, table


def test_round_trip_through_cli_and_python(encrypted, tmp_path):
    repo, key, table = encrypted
    # Every object is an envelope, and no file under .loam/ holds the plaintext marker.
    files = objects(repo)
    assert len(files) >= 5
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        assert data[:8] == b"LOAMENC1" and MARKER.encode() not in data and b"ARROW1" not in data and b'"kind"' not in data
    with pytest.raises(Exception):
        ipc.open_file(files[0]).read_all()  # pyarrow alone cannot read a fragment
    # The Python client decrypts: the head and the old version equal what was written.
    lo = loam.open(str(repo))
    assert lo.dataset("t", ref="HEAD~1").to_arrow().equals(table)
    expected = table.filter(pa.array(table["id"].to_numpy() % 7 != 0))
    assert lo.dataset("t").to_arrow().equals(expected)
    batches = list(lo.dataset("t").to_numpy(batch_size=1000, shuffle=True, seed=3))
    assert sum(len(b["id"]) for b in batches) == expected.num_rows
    assert sorted(np.concatenate([b["id"] for b in batches]).tolist()) == expected["id"].to_pylist()
    # The CLI agrees, and a Parquet export is plaintext for the user to take away.
    count = json.loads(cli("query", "SELECT count(*) AS n FROM t", "--format", "jsonl", "--repo", repo, key=key).stdout)
    assert count["n"] == expected.num_rows
    out = tmp_path / "t.parquet"
    cli("export", "t", "--format", "parquet", "-o", out, "--repo", repo, key=key)
    assert pq.read_table(str(out)).to_pylist() == expected.to_pylist()  # (a fixed-size list exports as a Parquet LIST)
    assert cli("fsck", "--repo", repo, key=key).stdout.startswith("ok")


def test_wrong_or_missing_key_is_a_clear_error_with_no_output(encrypted, tmp_path, monkeypatch):
    repo, key, _ = encrypted
    other = tmp_path / "other.key"
    cli("key", "generate", other)
    out = tmp_path / "out.csv"
    for given, message in [(None, "is encrypted: give its master key"), (other, "does not open this repository")]:
        done = cli("export", "t", "--format", "csv", "-o", out, "--repo", repo, key=given, check=False)
        assert done.returncode == 1 and message in done.stderr and not os.path.exists(out), done.stderr
    monkeypatch.setenv("LOAM_KEY_FILE", str(other))
    with pytest.raises(loam.LoamError, match="does not open this repository"):
        loam.open(str(repo))
    monkeypatch.delenv("LOAM_KEY_FILE")
    with pytest.raises(loam.LoamError, match="is encrypted"):
        loam.open(str(repo))


def test_rotation_rewraps_keys_and_rewrites_no_object(encrypted, tmp_path, monkeypatch):
    repo, key, table = encrypted
    before = {p: (os.stat(p).st_mtime_ns, open(p, "rb").read()) for p in objects(repo)}
    new = tmp_path / "new.key"
    out = cli("key", "rotate", "--new-key-file", new, "--repo", repo, key=key).stdout
    assert "Rewrapped 1 data key" in out
    assert {p: (os.stat(p).st_mtime_ns, open(p, "rb").read()) for p in objects(repo)} == before
    assert cli("count", "t", "--repo", repo, key=key, check=False).returncode == 1  # the old key is done
    assert cli("count", "t", "--repo", repo, key=new).stdout.strip() == str(table.num_rows - 715)
    monkeypatch.setenv("LOAM_KEY_FILE", str(new))
    assert loam.open(str(repo)).dataset("t", ref="HEAD~1").to_arrow().equals(table)
    status = json.loads(cli("key", "status", "--json", "--repo", repo, key=new).stdout)
    assert status["encrypted"] and "rotated" in status["keys"][0] and "wrapped" not in json.dumps(status)
    assert "rotate key" in cli("audit", "log", "--repo", repo, key=new).stdout


def test_a_damaged_object_is_refused_not_misread(encrypted):
    repo, key, _ = encrypted
    biggest = max(objects(repo), key=os.path.getsize)
    with open(biggest, "r+b") as f:
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0x40]))
    done = cli("query", "SELECT sum(score) FROM t AT 'HEAD~1'", "--repo", repo, key=key, check=False)
    assert done.returncode == 1 and "does not decrypt" in done.stderr
    assert "corrupt" in cli("fsck", "--repo", repo, key=key, check=False).stdout
    with pytest.raises(loam.LoamError, match="does not decrypt"):
        loam.open(str(repo)).dataset("t", ref="HEAD~1").to_arrow()
