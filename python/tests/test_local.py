"""loam.open reads a repository straight from its folder (docs/FORMAT.md) and must
give exactly what the Swift implementation exports, at every version."""
import numpy as np
import pyarrow as pa
import pytest

import loam
from conftest import exported, loam as run


@pytest.mark.parametrize("ref", ["v1", "v2", "HEAD~1", "HEAD", "main"])
def test_every_version_reads_as_loam_exports_it(history, ref):
    ds = loam.open(history).dataset("t", ref=ref)
    expected = exported(history, "t", ref)
    got = ds.to_arrow()
    assert got.schema.names == expected.schema.names
    assert len(ds) == expected.num_rows
    for name in expected.schema.names:
        assert got.column(name).type == expected.column(name).type, name
        assert got.column(name).to_pylist() == expected.column(name).to_pylist() or name == "score" and np.allclose(
            got.column(name).to_numpy(zero_copy_only=False), expected.column(name).to_numpy(zero_copy_only=False), equal_nan=True), name


def test_refs_resolve_like_the_cli(history):
    repo = loam.open(history)
    log = run("log", "--json", repo=history)
    assert repo.resolve("HEAD") == repo.resolve("main") == repo.branches()["main"]
    assert repo.resolve("HEAD~1") == repo.commit(repo.resolve("HEAD"))["parents"][0]
    assert repo.resolve("HEAD^^") == repo.resolve("HEAD~2")
    head = repo.resolve("HEAD")
    assert repo.resolve(head[:8]) == head and head in log
    assert set(repo.tags()) == {"v1", "v2"}
    assert [c for c, _ in repo.log(limit=2)] == [head, repo.resolve("HEAD~1")]
    with pytest.raises(loam.LoamError, match="unknown ref 'nope'"):
        repo.resolve("nope")
    with pytest.raises(loam.LoamError, match="past the first commit"):
        repo.resolve("HEAD~99")
    with pytest.raises(loam.LoamError, match="no dataset 'missing'"):
        repo.dataset("missing")


def test_rows_slices_and_takes(history):
    ds = loam.open(history).dataset("t")
    table = exported(history, "t", "HEAD")
    n = table.num_rows
    assert ds[0]["id"] == table.column("id")[0].as_py()
    assert ds[-1]["id"] == table.column("id")[n - 1].as_py()
    assert ds[100:900].column("id").to_pylist() == table.column("id").to_pylist()[100:900]
    assert ds[5:50:7].column("id").to_pylist() == table.column("id").to_pylist()[5:50:7]
    picks = np.random.default_rng(1).integers(0, n, 500)
    assert ds.take(picks, ["id", "body"]).to_pydict() == table.select(["id", "body"]).take(pa.array(picks)).to_pydict()
    assert ds.take([], ["id"]).num_rows == 0
    with pytest.raises(IndexError, match="out of range"):
        ds.take([n])
    with pytest.raises(loam.LoamError, match="no column 'nope'"):
        ds.take([0], ["nope"])


def test_batches_cover_the_dataset_in_order(history):
    ds = loam.open(history).dataset("t")
    sizes, ids = [], []
    for batch in ds.iter_batches(batch_size=333, columns=["id"]):
        sizes.append(batch.num_rows)
        ids += batch.column(0).to_pylist()
    assert ids == exported(history, "t", "HEAD").column("id").to_pylist()
    assert set(sizes[:-1]) == {333} and 0 < sizes[-1] <= 333
    emb = next(ds.to_numpy(["emb"], batch_size=64, shuffle=False))["emb"]
    assert emb.shape == (64, 8) and emb.dtype == np.float32


def test_local_query_runs_the_binary(history, monkeypatch):
    from conftest import LOAM
    monkeypatch.setenv("LOAM_BIN", LOAM)
    ds = loam.open(history).dataset("t", ref="v1")
    result = ds.query("SELECT count(*) AS n FROM t WHERE label = 2")
    assert result.column("n").to_pylist() == [sum(1 for v in exported(history, "t", "v1").column("label").to_pylist() if v == 2)]
