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
