"""Every Arrow type pyarrow writes: the types Loam stores as they are, and the others converted on
import to the type `docs/FORMAT.md` names (with `arrow.original_type` in the field's metadata),
each checked against pyarrow's own conversion of the same column, in files and streams, with
nulls and across batches; dictionaries plain, nested, replaced and delta; what stays unsupported
is an error naming the field and the conversion to make."""
import datetime
import decimal
import subprocess
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pytest

from conftest import LOAM, exported, loam as run

N = 9


def source_columns():
    def some(values, type_):
        return pa.array([None if i % 4 == 2 else v for i, v in enumerate(values)], type_)
    return {
        "d64": some([datetime.date(1969, 12, 1) + datetime.timedelta(days=40 * i) for i in range(N)], pa.date64()),
        "t32s": some([i * 3661 for i in range(N)], pa.time32("s")),
        "t32": some([i * 1000 + 7 for i in range(N)], pa.time32("ms")),
        "t64": some([i * 10**9 + 1 for i in range(N)], pa.time64("ns")),
        "dur": some([i - 4 for i in range(N)], pa.duration("us")),
        "mdn": some([pa.MonthDayNano([i, -i, i * 10**12]) for i in range(N)], pa.month_day_nano_interval()),
        "dec": some([decimal.Decimal(f"{i - 4}.{i}5") for i in range(N)], pa.decimal128(10, 2)),
        "dec38": some([decimal.Decimal(f"-12345678901234567890123.{i}") for i in range(N)], pa.decimal128(38, 1)),
        "dec256": some([decimal.Decimal(10) ** 60 * (i - 4) for i in range(N)], pa.decimal256(70, 0)),
        "dec32": some([decimal.Decimal(f"{i}.5") for i in range(N)], pa.decimal32(5, 1)),
        "dec64": some([decimal.Decimal(f"-{i}.125") for i in range(N)], pa.decimal64(12, 3)),
        "decneg": some([decimal.Decimal(i * 300 - 900) for i in range(N)], pa.decimal128(5, -2)),
        "f16": some([1.5, -2.0, 0.25, 65504.0, 3.0, 1e-4, -0.0, 7.0, 2.0], pa.float16()),
        "fsb": some([bytes([i, 255 - i, 0, 9]) for i in range(N)], pa.binary(4)),
        "uuid": some([uuid.UUID(int=i * 7919).bytes for i in range(N)], pa.uuid()),
        "ll": some([list(range(i % 3)) for i in range(N)], pa.large_list(pa.int32())),
        "map": some([[("k", i), ("ü", -i)] for i in range(N)], pa.map_(pa.string(), pa.int64())),
        "nul": pa.array([None] * N, pa.null()),
        "dict": some(["cat", "dog", "cat", "emu", "dog", "cat", "ant", "dog", "emu"], pa.string()).dictionary_encode(),
        "dict16": pa.DictionaryArray.from_arrays(pa.array([1, 0, None, 1, 2, 0, 2, 1, 0], pa.uint16()), pa.array([10.5, None, -1.0])),
        "sv": some(["short", "a string longer than twelve bytes", "", "ümlaut", "x" * 40, "y", "z", "w" * 13, "v"], pa.string_view()),
        "bv": some([b"ab", b"\x00" * 30, b"", b"\xff", b"z", b"q" * 12, b"r" * 13, b"s", b"t"], pa.binary_view()),
        "lv": some([[1, 2], [3], [], [4, 5, 6], [7], [8, 9], [], [10], [11]], pa.list_view(pa.int64())),
        "llv": some([["a"], [], ["b", "c"], ["d"], ["e"], [], ["f"], ["g"], ["h"]], pa.large_list_view(pa.string())),
        "ree": pc.run_end_encode(pa.array([1, 1, 1, 2, 2, None, 3, 3, 3], pa.int64())),
        "ldict": pa.array([["p", "q"], ["q"], [], None, ["p"], ["r"], ["p", "p"], ["q"], []], pa.list_(pa.dictionary(pa.int8(), pa.string()))),
        "sdict": pa.array([{"name": s, "n": i} for i, s in enumerate("abcabcabc")],
                          pa.struct([("name", pa.dictionary(pa.int32(), pa.string())), ("n", pa.int16())])),
    }


def expected(column):
    """What Loam stores for a column, computed by pyarrow from the same values."""
    column = column.combine_chunks()
    t = column.type
    if pa.types.is_dictionary(t):
        return column.dictionary_decode().to_pylist()
    if pa.types.is_date64(t):
        return column.cast(pa.timestamp("ms")).to_pylist()
    if pa.types.is_time(t) or pa.types.is_duration(t):
        return column.cast(pa.int32() if t.bit_width == 32 else pa.int64()).to_pylist()
    if pa.types.is_decimal(t):
        if t.scale < 0:  # exact text, the integer it stands for
            return [None if v is None else str(int(v)) for v in column.to_pylist()]
        convert = float if t.precision <= 15 else str
        return [None if v is None else convert(v) for v in column.to_pylist()]
    if t == pa.float16():
        return column.cast(pa.float32()).to_pylist()
    if pa.types.is_map(t):
        key, item = t.key_field.name, t.item_field.name
        return [None if v is None else [{key: k, item: x} for k, x in v] for v in column.to_pylist()]
    if t == pa.month_day_nano_interval():
        return [None if v is None else {"months": v.months, "days": v.days, "nanoseconds": v.nanoseconds} for v in column.to_pylist()]
    if isinstance(t, pa.BaseExtensionType):  # uuid: its 16 bytes
        return column.storage.to_pylist()
    return column.to_pylist()  # the rest (views, large and view lists, run-end encoded, nested dictionaries) as pyarrow reads them


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("types")
    columns = {k: v for k, v in source_columns().items() if v is not None}
    table = pa.table(columns)
    with ipc.new_file(str(tmp / "all.arrow"), table.schema) as w:
        w.write_table(table, max_chunksize=4)  # three batches, the dictionaries shared by all
    with ipc.new_stream(str(tmp / "all.arrows"), table.schema) as w:
        w.write_table(table, max_chunksize=4)
    run("init", str(tmp / "repo"))
    run("import", str(tmp / "all.arrow"), "-d", "file", repo=tmp / "repo")
    run("import", str(tmp / "all.arrows"), "-d", "stream", repo=tmp / "repo")
    return table, {d: exported(tmp / "repo", d, "HEAD") for d in ["file", "stream"]}


@pytest.mark.parametrize("name", [k for k, v in source_columns().items() if v is not None])
def test_each_type_imports_as_pyarrow_converts_it(imported, name):
    table, got = imported
    want = expected(table.column(name))
    for kind, out in got.items():
        assert out.column(name).to_pylist() == want, (kind, name)
    original = table.schema.field(name).type
    metadata = got["file"].schema.field(name).metadata or {}
    stored_as_is = not (pa.types.is_dictionary(original) or name in ("ldict", "sdict"))
    if stored_as_is and original != got["file"].schema.field(name).type:
        assert b"arrow.original_type" in metadata, (name, metadata)  # a conversion is never silent


def test_stream_dictionaries_replaced_and_extended_between_batches(tmp_path):
    run("init", str(tmp_path / "repo"))
    schema = pa.schema([("label", pa.dictionary(pa.int32(), pa.string())), ("i", pa.int64())])
    first = pa.record_batch([pa.array(["a", "b", "a"]).dictionary_encode(), pa.array([0, 1, 2])], schema=schema)
    second = pa.record_batch([pa.DictionaryArray.from_arrays(pa.array([0, 1, None]), pa.array(["z", "a"])), pa.array([3, 4, 5])], schema=schema)
    third = pa.record_batch([pa.DictionaryArray.from_arrays(pa.array([0, 1, 2]), pa.array(["z", "a", "new"])), pa.array([6, 7, 8])], schema=schema)
    for name, options in [("replaced", ipc.IpcWriteOptions()), ("delta", ipc.IpcWriteOptions(emit_dictionary_deltas=True))]:
        with ipc.new_stream(str(tmp_path / f"{name}.arrows"), schema, options=options) as w:
            for batch in [first, second, third]:
                w.write_batch(batch)
        run("import", str(tmp_path / f"{name}.arrows"), "-d", name, repo=tmp_path / "repo")
        got = exported(tmp_path / "repo", name, "HEAD")
        assert got.column("label").to_pylist() == ["a", "b", "a", "z", "a", None, "z", "a", "new"], name
        assert got.column("i").to_pylist() == list(range(9))


@pytest.mark.parametrize("column, words", [
    (pa.UnionArray.from_sparse(pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])]), ["sparse union", "one nullable column per member"]),
    (pa.UnionArray.from_dense(pa.array([0, 1], pa.int8()), pa.array([0, 0], pa.int32()), [pa.array([1]), pa.array(["a"])]), ["dense union"]),
])
def test_types_loam_does_not_store_are_refused_naming_field_and_fix(tmp_path, column, words):
    run("init", str(tmp_path / "repo"))
    path = tmp_path / "bad.arrow"
    table = pa.table({"ok": pa.array([1, 2]), "odd": column})
    with ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)
    done = subprocess.run([LOAM, "import", str(path), "-d", "t", "--repo", str(tmp_path / "repo")], capture_output=True, text=True)
    assert done.returncode != 0 and "'odd'" in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    assert "t" not in run("datasets", repo=tmp_path / "repo").split()  # nothing was committed


def test_a_dictionary_index_outside_its_dictionary_is_refused_naming_column_and_row(tmp_path):
    run("init", str(tmp_path / "repo"))
    bad = pa.DictionaryArray.from_arrays(pa.array([0, 1, 5], pa.int8()), pa.array(["a", "b"]), safe=False)
    path = tmp_path / "bad.arrows"
    with ipc.new_stream(str(path), pa.schema([("label", bad.type)])) as w:
        w.write_batch(pa.record_batch([bad], names=["label"]))
    done = subprocess.run([LOAM, "import", str(path), "-d", "t", "--repo", str(tmp_path / "repo")], capture_output=True, text=True)
    assert done.returncode != 0 and "'label' row 2" in done.stderr and "dictionary index 5" in done.stderr, done.stderr
