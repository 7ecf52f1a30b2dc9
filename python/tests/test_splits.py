"""Deterministic splits (docs/SPLITS.md): Python's arithmetic equals SQL's split_bucket row for row,
a row keeps its split across appends and deletes, and the loaders, the server stream and lineage
read and record exactly the split's rows."""
import os
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

import loam
from loam import splits
from conftest import LOAM, loam as run


def sql_splits(repo, seed=42, fractions="0.8, 0.1, 0.1"):
    out = os.path.join(str(repo), "splits.arrow")
    run("query", f"SELECT _rowid, split_bucket(_rowid, {seed}, {fractions}) AS s FROM t", "--format", "arrow", "-o", out, repo=repo)
    table = ipc.open_file(out).read_all()
    return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist()))


def write(repo, name, ids):
    path = os.path.join(str(repo), name)
    table = pa.table({"id": pa.array(ids, pa.int64()), "x": pa.array(np.asarray(ids, dtype=np.float64) / 7)})
    with ipc.new_file(path, table.schema) as w:
        w.write_table(table)
    return path


@pytest.fixture()
def repo(tmp_path):
    run("init", str(tmp_path / "r"))
    repo = tmp_path / "r"
    run("import", write(repo, "a.arrow", list(range(2000))), "-d", "t", "--fragment-rows", "500", "-q", repo=repo)
    return repo


def test_python_and_sql_assign_the_same_split_to_every_row(repo):
    by_sql = sql_splits(repo)
    ids = np.array(sorted(by_sql), dtype=np.uint64)
    assert splits.bucket(ids, 42, [0.8, 0.1, 0.1]) == [by_sql[int(i)] for i in ids]
    assert splits.bucket(np.array([3], dtype=np.uint64), 42, [0.8, 0.1, 0.1]) == ["test"]  # docs/SPLITS.md's known answer
    # Two fractions, fractions under 1 (rows past the sum are in no split), a negative seed.
    two = sql_splits(repo, seed=-5, fractions="0.5, 0.25")
    assert splits.bucket(ids, -5, [0.5, 0.25]) == [two[int(i)] for i in ids]
    assert None in two.values() and set(two.values()) == {"train", "test", None}


def test_a_row_keeps_its_split_and_the_loaders_read_exactly_it(repo):
    before = sql_splits(repo)
    run("import", write(repo, "b.arrow", list(range(2000, 2600))), "-d", "t", "-q", repo=repo)
    run("delete", "t", "--where", "id % 5 = 0", repo=repo)
    after = sql_splits(repo)
    assert all(after[i] == before[i] for i in after if i in before)

    ds = loam.open(repo).dataset("t")
    expected = {i for i, s in after.items() if s == "val"}
    view = ds.split("val", seed=42)
    assert len(view) == len(expected)
    assert set(splits.positions(ds.rowids(), "val", 42)) == set(np.flatnonzero([after[int(i)] == "val" for i in ds.rowids()]))
    ids_by_row = dict(zip(ds.to_arrow(["id"]).column(0).to_pylist(), ds.rowids().tolist()))
    got = [ids_by_row[i] for batch in ds.to_numpy(["id"], batch_size=64, seed=3, split="val", split_seed=42) for i in batch["id"].tolist()]
    assert len(got) == len(set(got)) and set(got) == expected
    with pytest.raises(loam.LoamError, match="splits: train, val, test"):
        ds.split("validation")


def test_the_server_stream_and_lineage_carry_the_split(repo):
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0", "--anonymous"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("Serving "), line + process.stderr.read()
        remote = loam.connect("http://" + line.split()[1])
        local = loam.open(repo).dataset("t")
        ds = remote.dataset("t")
        streamed = [b["id"].tolist() for b in ds.to_numpy(["id"], batch_size=50, seed=9, split="train", split_seed=42)]
        here = [b["id"].tolist() for b in local.to_numpy(["id"], batch_size=50, seed=9, split="train", split_seed=42)]
        assert streamed == here and sum(map(len, here)) == len(local.split("train", seed=42))
        with remote.start_run("splits") as run_:
            for _ in ds.to_numpy(["id"], batch_size=500, split="test", split_seed=42):
                pass
        run_id = run_.id
        inputs = remote.get_json(f"/api/2.0/mlflow/runs/get", run_id=run_id)["run"]["inputs"]["dataset_inputs"]
        assert any('"split": {"fractions": [0.8, 0.1, 0.1], "name": "test", "seed": 42}' in d["dataset"]["source"] for d in inputs)
    finally:
        process.kill()
        process.wait()
