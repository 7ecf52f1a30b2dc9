"""`loam query --format arrow`: a column selected as it is keeps its field's nullability and metadata;
computed columns are nullable. pyarrow reads the file."""
import os

import pyarrow as pa
import pyarrow.ipc as ipc

from conftest import loam as run


def test_arrow_results_keep_nullability_and_field_metadata(tmp_path):
    run("init", str(tmp_path / "r"))
    repo = tmp_path / "r"
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False, metadata={"unit": "row"}),
                        pa.field("label", pa.string(), metadata={"classes": "cat,dog"}), pa.field("score", pa.float64())])
    table = pa.table({"id": [1, 2, 3], "label": ["cat", None, "dog"], "score": [0.5, 1.5, None]}, schema=schema)
    path = os.path.join(str(repo), "t.arrow")
    with ipc.new_file(path, table.schema) as w:
        w.write_table(table)
    run("import", path, "-d", "t", "-q", repo=repo)
    out = os.path.join(str(repo), "out.arrow")
    run("query", "SELECT id, label, score * 2 AS doubled, _rowid FROM t WHERE id > 1", "--format", "arrow", "-o", out, repo=repo)
    got = ipc.open_file(out).read_all()
    assert got.schema.field("id").nullable is False and got.schema.field("id").metadata == {b"unit": b"row"}
    assert got.schema.field("label").nullable is True and got.schema.field("label").metadata == {b"classes": b"cat,dog"}
    assert got.schema.field("doubled").nullable is True and not got.schema.field("doubled").metadata
    assert got.schema.field("_rowid").nullable is False and got.schema.field("_rowid").type == pa.uint64()
    assert got.column("id").to_pylist() == [2, 3] and got.column("doubled").to_pylist() == [3.0, None]


def test_struct_fields_unnest_and_copy_match_duckdb(tmp_path):
    duckdb = __import__("pytest").importorskip("duckdb")
    run("init", str(tmp_path / "r"))
    repo = tmp_path / "r"
    bbox = pa.struct([("x", pa.float64()), ("y", pa.float64()), ("label", pa.string())])
    table = pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "bbox": pa.array([{"x": 1.5, "y": 2.0, "label": "cat"}, None, {"x": -3.0, "y": None, "label": "dog"}, {"x": 0.0, "y": 9.5, "label": None}], bbox),
        "tags": pa.array([["a", "b"], [], None, ["c", None, "a"]], pa.list_(pa.string())),
    })
    path = os.path.join(str(repo), "t.arrow")
    with ipc.new_file(path, table.schema) as w:
        w.write_table(table)
    run("import", path, "-d", "t", "-q", repo=repo)
    con = duckdb.connect()
    con.register("t", table)

    def both(sql):
        out = os.path.join(str(repo), "q.arrow")
        run("query", sql, "--format", "arrow", "-o", out, repo=repo)
        return ipc.open_file(out).read_all().to_pylist(), con.sql(sql).to_arrow_table().rename_columns(
            ipc.open_file(out).read_all().column_names).to_pylist()

    for sql in ["SELECT id, bbox.x, t.bbox.y, struct_extract(bbox, 'label') AS label FROM t ORDER BY id",
                "SELECT id, bbox.label FROM t WHERE bbox.x > 0 ORDER BY id",
                "SELECT id, unnest(tags) AS tag FROM t ORDER BY id, tag NULLS LAST",
                "SELECT tag, count(*) AS n FROM (SELECT unnest(tags) AS tag FROM t) AS u GROUP BY tag ORDER BY tag NULLS FIRST"]:
        mine, theirs = both(sql)
        assert mine == theirs, sql

    # COPY (query) TO 'file': the rows, as --format would write them; the format from FORMAT or the extension.
    out = os.path.join(str(repo), "copied.arrow")
    printed = run("query", f"COPY (SELECT id, bbox.x AS x FROM t WHERE id > 1) TO '{out}'", repo=repo)
    assert printed.startswith("COPY 3 rows") and ipc.open_file(out).read_all().to_pydict() == {"id": [2, 3, 4], "x": [None, -3.0, 0.0]}
    csv_out = os.path.join(str(repo), "copied.txt")
    run("query", f"COPY (SELECT id FROM t ORDER BY id DESC LIMIT 2) TO '{csv_out}' (FORMAT csv)", repo=repo)
    assert open(csv_out).read().split() == ["id", "4", "3"]
