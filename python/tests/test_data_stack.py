"""The Python data stack over Loam: polars, DuckDB, pyarrow datasets and batch readers show the live
rows of one commit with current column names (never deleted rows or old names, as reading the
fragment files directly would), and writes from pyarrow, pandas and polars land as one commit each,
locally and through `loam serve`."""
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import loam
from conftest import LOAM, exported, loam as run


@pytest.fixture
def repo(tmp_path):
    run("init", str(tmp_path / "repo"))
    return tmp_path / "repo"


def table(n, start=0):
    rng = np.random.default_rng(start)
    return pa.table({"id": pa.array(np.arange(start, start + n, dtype=np.int64)),
                     "label": pa.array(rng.integers(0, 4, n, dtype=np.int32)),
                     "text": pa.array([None if i % 11 == 0 else f"é {i}" for i in range(start, start + n)]),
                     "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * 3, dtype=np.float32)), 3)})


def test_writes_from_pyarrow_pandas_and_polars_are_commits(repo):
    r = loam.open(str(repo))
    first = r.write(table(1000), dataset="t", message="from pyarrow")
    assert first["created"] and first["rows"] == 1000
    pandas = pytest.importorskip("pandas")
    frame = table(500, 1000).select(["id", "label", "text"]).to_pandas()
    second = r.write(frame, dataset="t", message="from pandas")
    assert not second["created"] and second["rows"] == 500
    polars = pytest.importorskip("polars")
    third = r.write(polars.from_arrow(table(250, 1500)), dataset="t")
    assert third["rows"] == 250
    log = run("log", "--oneline", repo=repo)
    assert "from pyarrow" in log and "from pandas" in log
    back = exported(repo, "t", "HEAD")
    assert back.column("id").to_pylist() == list(range(1750))
    # pandas had no emb column: those rows read as null; the text survived every path.
    assert back.column("emb").null_count == 500
    assert back.column("text").to_pylist() == table(1750).column("text").to_pylist()
    # A frame that does not fit the dataset is refused, naming the column, and nothing is committed.
    with pytest.raises(loam.LoamError, match="label"):
        r.write(pa.table({"id": [1], "label": ["not a number"]}), dataset="t")
    assert run("log", "--oneline", repo=repo).count("\n") == log.count("\n")


def test_readers_show_live_rows_with_current_names(repo):
    r = loam.open(str(repo))
    r.write(table(3000), dataset="t")
    run("delete", "t", "--where", "label = 2", repo=repo)
    run("alter", "t", "rename-column", "text", "body", repo=repo)
    expected = exported(repo, "t", "HEAD")
    ds = loam.open(str(repo)).dataset("t")
    assert 2 not in ds.to_arrow().column("label").to_pylist()

    polars = pytest.importorskip("polars")
    frame = ds.to_polars()
    assert frame.columns == ["id", "label", "body", "emb"] and frame.height == expected.num_rows
    assert frame["id"].to_list() == expected.column("id").to_pylist()

    duckdb = pytest.importorskip("duckdb")
    conn = duckdb.connect()
    relation = ds.to_duckdb(conn)
    assert relation.aggregate("count(*)").fetchall()[0][0] == expected.num_rows
    counts = dict(conn.sql("SELECT label, count(*) FROM t GROUP BY label").fetchall())
    want = pc.value_counts(expected.column("label")).to_pylist()
    assert counts == {v["values"]: v["counts"] for v in want}
    assert conn.sql("SELECT count(*) FROM t WHERE body IS NULL").fetchall()[0][0] == expected.column("body").null_count

    dataset = ds.to_pyarrow_dataset(["id", "body"])
    assert dataset.schema.names == ["id", "body"] and dataset.count_rows() == expected.num_rows
    reader = ds.to_batch_reader(["id", "label"], filter=pc.field("label") == 3, batch_size=500)
    got = reader.read_all()
    assert got.schema.names == ["id", "label"]
    assert got.column("id").to_pylist() == [i for i, l in zip(expected.column("id").to_pylist(), expected.column("label").to_pylist()) if l == 3]
    # Older commits read as they were.
    before = loam.open(str(repo)).dataset("t", ref="HEAD~2").to_polars()
    assert "text" in before.columns and 2 in before["label"].to_list()


def test_write_through_the_server(repo, tmp_path):
    run("init", str(tmp_path / "served"))
    served = tmp_path / "served"
    process = subprocess.Popen([LOAM, "serve", "--repo", str(served), "--port", "0", "--anonymous"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("Serving "), line + process.stderr.read()
        remote = loam.connect("http://" + line.split()[1])
        result = remote.write(table(800), dataset="t", message="over HTTP")
        assert result["rows"] == 800 and result["created"]
        polars = pytest.importorskip("polars")
        remote.write(polars.from_arrow(table(200, 800)), dataset="t")
        ds = remote.dataset("t")
        assert len(ds) == 1000
        assert ds.to_polars()["id"].to_list() == list(range(1000))
        assert "over HTTP" in run("log", "--oneline", repo=served)
    finally:
        process.kill()
