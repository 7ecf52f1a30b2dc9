"""Arrow files as pyarrow writes them: what pyarrow's validate(full=True) refuses, Loam refuses
too, naming the column and row; valid text of every width round-trips exactly."""
import subprocess

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from conftest import LOAM, exported, loam as run


def write(path, table):
    with ipc.new_file(str(path), table.schema) as w:
        w.write_table(table, max_chunksize=2)
    return str(path)


def failed_import(repo, path):
    done = subprocess.run([LOAM, "import", path, "-d", "t", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode != 0, done.stdout
    return done.stderr


@pytest.fixture
def repo(tmp_path):
    run("init", str(tmp_path / "repo"))
    return tmp_path / "repo"


def test_invalid_utf8_is_refused_naming_column_and_row(repo, tmp_path):
    good = ["a", "é", "水", "🙂"]
    # Row 4 (the fifth, in the third two-row batch) holds a lone continuation byte; pyarrow builds it without checking.
    for bad in (b"\x80", b"ab\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"):
        values = [v.encode() for v in good] + [bad]
        offsets = pa.array([sum(len(v) for v in values[:i]) for i in range(len(values) + 1)], pa.int32())
        text = pa.Array.from_buffers(pa.string(), len(values), [None, offsets.buffers()[1], pa.py_buffer(b"".join(values))])
        table = pa.table({"id": pa.array(range(5), pa.int64()), "s": text})
        with pytest.raises(pa.ArrowInvalid):
            table.validate(full=True)
        message = failed_import(repo, write(tmp_path / "bad.arrow", table))
        assert "column 's'" in message and "row 4" in message and "not valid UTF-8" in message, message
    # A string may not start inside another's character even when the bytes together are valid.
    split = pa.Array.from_buffers(pa.string(), 2, [None, pa.array([0, 1, 2], pa.int32()).buffers()[1], pa.py_buffer("é".encode())])
    message = failed_import(repo, write(tmp_path / "split.arrow", pa.table({"s": split})))
    assert "row 0" in message and "not valid UTF-8" in message, message
    # Inside a list column too.
    nested = pa.ListArray.from_arrays(pa.array([0, 1, 2], pa.int32()), text.slice(3, 2))
    message = failed_import(repo, write(tmp_path / "nested.arrow", pa.table({"tags": nested})))
    assert "column 'tags'" in message and "row 1" in message, message
    assert run("datasets", repo=repo).startswith("No datasets"), "a refused import committed something"


def test_valid_text_of_every_width_round_trips(repo, tmp_path):
    values = ["", "ascii", "é", "水", "🙂", "a\u0000b", "\U0010FFFF", None, "mixé水🙂" * 50]
    table = pa.table({"s": pa.array(values, pa.string()), "big": pa.array(values, pa.large_string())})
    run("import", write(tmp_path / "text.arrow_file", table), "-d", "t", repo=repo)
    back = exported(repo, "t", "HEAD")
    assert back.column("s").to_pylist() == values
    assert back.column("big").to_pylist() == values


def test_two_columns_with_one_name_are_refused_naming_both(repo, tmp_path):
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array(["x", "y"]), pa.array([3, 4])], names=["a", "b", "a"])
    message = failed_import(repo, write(tmp_path / "dup.feather", table))
    assert "columns 1 and 3 are both named 'a'" in message, message


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_compressed_arrow_files_read_and_write(repo, tmp_path, codec):
    import numpy as np
    n = 5000
    rng = np.random.default_rng(4)
    table = pa.table({"id": pa.array(np.arange(n)), "s": pa.array([None if i % 9 == 0 else f"row {i} é" for i in range(n)]),
                      "x": pa.array(rng.standard_normal(n)),
                      "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * 4, dtype=np.float32)), 4),
                      "l": pa.array([[i, None] if i % 3 else [] for i in range(n)], pa.list_(pa.int64()))})
    options = ipc.IpcWriteOptions(compression=codec)
    path = str(tmp_path / f"in-{codec}.arrow")
    with ipc.new_file(path, table.schema, options=options) as w:
        w.write_table(table, max_chunksize=1200)
    stream = str(tmp_path / f"in-{codec}.arrows")
    with ipc.new_stream(stream, table.schema, options=options) as w:
        w.write_table(table, max_chunksize=700)
    run("import", path, "-d", "t", repo=repo)
    run("import", stream, "-d", "u", repo=repo)
    for name in ("t", "u"):
        assert exported(repo, name, "HEAD").equals(table), name
    # Written compressed on request, and pyarrow reads it back.
    out = str(tmp_path / f"out-{codec}.arrow")
    run("export", "t", "--format", "arrow", "--compression", codec, "-o", out, repo=repo)
    plain = str(tmp_path / "plain.arrow")
    run("export", "t", "--format", "arrow", "-o", plain, repo=repo)
    import os
    assert os.path.getsize(out) < os.path.getsize(plain) * 0.9
    back = ipc.open_file(out).read_all()
    back.validate(full=True)
    assert back.equals(table)
    # A damaged compressed buffer is an error, not garbage.
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 2
    data[middle:middle + 32] = b"\x00" * 32
    open(str(tmp_path / "bad.arrow"), "wb").write(bytes(data))
    message = failed_import(repo, str(tmp_path / "bad.arrow"))
    assert "record batch" in message, message
