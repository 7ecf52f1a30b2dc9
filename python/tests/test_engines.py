"""Issue 17: the engine readers (one fragment per task at a pinned commit) return exactly what
`loam export` returns at the same ref — on a local repository and on one in PostgreSQL + S3."""
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import loam
import loam.engines as engines
from conftest import exported


def same(got, expected):
    assert got.schema.names == expected.schema.names
    assert got.num_rows == expected.num_rows
    for name in expected.schema.names:
        assert got.column(name).type == expected.column(name).type, name
        a, b = got.column(name).to_pylist(), expected.column(name).to_pylist()
        assert a == b or name == "score" and np.allclose(np.array(a, dtype=float), np.array(b, dtype=float), equal_nan=True), name


@pytest.mark.parametrize("ref", ["v1", "v2", "HEAD"])
def test_a_plan_reads_what_loam_exports(history, ref):
    """Deleted rows, a renamed column (text → body), a column added later (null in older fragments)."""
    plan = engines.plan(history, "t", ref=ref)
    assert plan.commit == loam.open(history).resolve(ref)
    assert len(plan.tasks) > 1
    same(plan.read(), exported(history, "t", ref))


def test_projection_and_zone_maps_are_pushed_down(history):
    expected = exported(history, "t", "HEAD")
    plan = engines.plan(history, "t", columns=["id", "body"], filters=[("id", "<", 700), ("label", "!=", 4)])
    # ids were imported in order, 600 to a fragment: only the first two can hold id < 700, and the one the
    # update of id < 40 wrote.
    assert len(plan.tasks) == 3 and plan.pruned > 2
    want = expected.filter(pc.and_(pc.less(expected["id"], 700), pc.not_equal(expected["label"], 4))).select(["id", "body"])
    same(plan.read(), want)
    assert engines.plan(history, "t", filters=[("id", ">", 10**9)]).tasks == []
    with pytest.raises(loam.LoamError, match="no column 'nope'"):
        engines.plan(history, "t", columns=["nope"])
    with pytest.raises(loam.LoamError, match="op one of"):
        engines.plan(history, "t", filters=[("id", "~", 1)])


def test_duckdb_scans_the_fragments(history):
    import duckdb
    expected = exported(history, "t", "v2")
    conn = duckdb.connect()
    engines.to_duckdb(engines.plan(history, "t", ref="v2", columns=["id", "label", "body"]), conn, name="t_v2")
    got = conn.sql("SELECT label, count(*) AS n, sum(id) AS s, count(body) AS b FROM t_v2 GROUP BY label ORDER BY label").fetchall()
    conn.register("ref", expected)
    want = conn.sql("SELECT label, count(*) AS n, sum(id) AS s, count(body) AS b FROM ref GROUP BY label ORDER BY label").fetchall()
    assert got == want and len(got) == 4  # label 2 was deleted at v2


def test_dask_has_one_partition_per_fragment(history):
    pytest.importorskip("dask.dataframe")
    plan = engines.plan(history, "t", ref="HEAD", columns=["id", "label", "note"])
    frame = engines.to_dask(plan)
    assert frame.npartitions == len(plan.tasks)
    got = frame.compute()
    expected = exported(history, "t", "HEAD").select(["id", "label", "note"]).to_pandas()
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["note"].fillna("<null>").tolist() == expected["note"].fillna("<null>").tolist()
    assert int(frame["label"].sum().compute()) == int(expected["label"].sum())


# --- the same on PostgreSQL + S3 ------------------------------------------------------------------------

servers = pytest.mark.skipif(not os.environ.get("LOAM_TEST_POSTGRES") and os.environ.get("LOAM_REQUIRE_SERVERS") != "1",
                             reason="needs the test servers: eval \"$(bash scripts/test-servers.sh start)\"")


@servers
def test_engines_read_a_repository_in_postgres_and_s3(tmp_path, monkeypatch):
    from conftest import fresh_backends, server_env
    from test_scale_out import run
    for key, value in server_env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    catalog, objects = fresh_backends()
    node = tmp_path / "node"
    run("init", str(node), "--catalog", catalog, "--objects", objects)
    n = 3000
    table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "label": pa.array(np.arange(n, dtype=np.int32) % 5),
                      "text": pa.array([None if i % 7 == 0 else f"rów {i}" for i in range(n)])})
    path = tmp_path / "t.arrow"
    with pa.ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)
    run("import", str(path), "-d", "t", "--fragment-rows", "500", "-q", cwd=node)
    run("tag", "v1", cwd=node)
    run("delete", "t", "--where", "label = 3", cwd=node)
    run("alter", "t", "rename-column", "text", "body", cwd=node)
    out = tmp_path / "export.arrow"
    for ref in ("v1", "HEAD"):
        run("export", "t", "--ref", ref, "--format", "arrow", "-o", str(out), cwd=node)
        expected = pa.ipc.open_file(str(out)).read_all()
        plan = engines.plan(str(node), "t", ref=ref)
        assert all(t["path"].startswith("s3://") for t in plan.tasks) and len(plan.tasks) == 6
        same(plan.read(), expected)
        same(loam.open(str(node)).dataset("t", ref=ref).to_arrow(), expected)
    # Given only the S3 location, a reader finds the catalog through the repository's loam.json.
    same(engines.plan(objects, "t", ref="v1").read(), loam.open(str(node)).dataset("t", ref="v1").to_arrow())
    pruned = engines.plan(str(node), "t", filters=[("id", ">=", 2500)])
    assert len(pruned.tasks) == 1
    assert pruned.read().column("id").to_pylist() == [i for i in range(2500, 3000) if i % 5 != 3]



@pytest.mark.parametrize("remote", [False, pytest.param(True, marks=servers)])
def test_a_distributed_write_stages_on_workers_and_commits_once(tmp_path, monkeypatch, remote):
    """Dask workers each write their partition's fragments (staged, uncommitted); one compare-and-swap commits
    them all: one new commit, every row, nothing visible before it."""
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd
    from conftest import fresh_backends, server_env
    from test_scale_out import run
    node = tmp_path / "node"
    if remote:
        for key, value in server_env().items():
            if key.startswith("AWS_"):
                monkeypatch.setenv(key, value)
        catalog, objects = fresh_backends()
        run("init", str(node), "--catalog", catalog, "--objects", objects)
    else:
        run("init", str(node))
    repo = loam.open(str(node))
    before = repo.resolve("HEAD")
    frame = dd.from_pandas(pd.DataFrame({"id": np.arange(900, dtype=np.int64), "text": [f"rów {i}" for i in range(900)]}), npartitions=3)
    staged = [repo.write(part, "t", stage=True) for part in (frame.get_partition(i).compute() for i in range(3))]
    assert repo.resolve("HEAD") == before  # staging commits nothing
    with pytest.raises(loam.LoamError, match="not a staged write"):
        repo.commit_staged("t", [before])
    done = engines.write_dask(frame, repo, "t", message="three workers")
    assert done["rows"] == 900 and done["fragments"] == 3 and done["created"]
    assert repo.commit(repo.resolve("HEAD"))["parents"] == [before]  # one commit
    table = repo.dataset("t").to_arrow()
    assert sorted(table.column("id").to_pylist()) == list(range(900))
    assert len(set(repo.dataset("t").rowids())) == 900  # row ids reserved in the shared catalog, never twice
    # The parts staged by hand commit too (appended), and committing them again adds nothing.
    ids = [s["staged"] for s in staged]
    assert repo.commit_staged("t", ids)["rows"] == 900
    assert repo.commit_staged("t", ids)["rows"] == 0 and len(repo.dataset("t")) == 1800
