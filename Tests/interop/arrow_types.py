"""pyarrow side of Loam's Arrow interop tests.

  arrow_types.py write DIR     writes all_types.arrow (file), all_types.stream, compressed.arrow
  arrow_types.py same A B      exits 0 when the two IPC files hold equal tables (schema, metadata, values)
  arrow_types.py check FILE    checks a file Loam built against the values Loam's test put in it
  arrow_types.py text-exports ARROW CSV JSONL   pyarrow reads Loam's CSV and JSONL exports equal to ARROW
"""
import datetime
import sys

import pyarrow as pa
import pyarrow.ipc as ipc


def all_types_table():
    n = 5
    emb_type = pa.list_(pa.float32(), 3)
    struct_type = pa.struct([("x", pa.int32()), ("tag", pa.string())])
    columns = {
        "b": pa.array([True, False, None, True, False], pa.bool_()),
        "i8": pa.array([-128, 127, None, 0, 1], pa.int8()),
        "i16": pa.array([-32768, 32767, None, 0, 2], pa.int16()),
        "i32": pa.array([-2**31, 2**31 - 1, None, 0, 3], pa.int32()),
        "i64": pa.array([-2**63, 2**63 - 1, None, 0, 4], pa.int64()),
        "u8": pa.array([0, 255, None, 1, 5], pa.uint8()),
        "u16": pa.array([0, 65535, None, 1, 6], pa.uint16()),
        "u32": pa.array([0, 2**32 - 1, None, 1, 7], pa.uint32()),
        "u64": pa.array([0, 2**64 - 1, None, 1, 8], pa.uint64()),
        "f32": pa.array([1.5, -0.25, None, float("inf"), 3.0], pa.float32()),
        "f64": pa.array([1e300, -2.5, None, float("-inf"), 0.1], pa.float64()),
        "s": pa.array(["héllo", "", None, "a,b\"c", "日本"], pa.string()),
        "ls": pa.array(["x", None, "yy", "", "zzz"], pa.large_string()),
        "bin": pa.array([b"\x00\x01", b"", None, b"\xff", b"abc"], pa.binary()),
        "lbin": pa.array([b"q", None, b"", b"\x00", b"zz"], pa.large_binary()),
        "d": pa.array([datetime.date(2024, 2, 29), None, datetime.date(1970, 1, 1), datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)], pa.date32()),
        "ts_s": pa.array([0, 1, None, -1, 1700000000], pa.timestamp("s")),
        "ts_ms": pa.array([0, 1, None, -1, 1700000000000], pa.timestamp("ms", tz="UTC")),
        "ts_us": pa.array([0, 1, None, -1, 1700000000000000], pa.timestamp("us", tz="Europe/Paris")),
        "ts_ns": pa.array([0, 1, None, -1, 1700000000000000000], pa.timestamp("ns")),
        "emb": pa.array([[1, 2, 3], None, [0, 0, 0], [-1.5, 2.5, None], [7, 8, 9]], emb_type),
        "lst": pa.array([[1, 2], [], None, [None, 5], [6]], pa.list_(pa.int64())),
        "lst_s": pa.array([["a"], ["b", None], [], None, ["c", "d"]], pa.list_(pa.string())),
        "st": pa.array([{"x": 1, "tag": "a"}, None, {"x": None, "tag": "c"}, {"x": 4, "tag": None}, {"x": 5, "tag": "e"}], struct_type),
    }
    fields = []
    for name, arr in columns.items():
        meta = {"shape": "[3]"} if name == "emb" else None
        fields.append(pa.field(name, arr.type, nullable=True, metadata=meta))
    schema = pa.schema(fields, metadata={"origin": "pyarrow", "rows": str(n)})
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def write(directory):
    table = all_types_table()
    with ipc.new_file(f"{directory}/all_types.arrow", table.schema) as w:
        w.write_table(table, max_chunksize=3)  # two batches
    with ipc.new_stream(f"{directory}/all_types.stream", table.schema) as w:
        w.write_table(table)
    opts = ipc.IpcWriteOptions(compression="zstd")
    with ipc.new_file(f"{directory}/compressed.arrow", table.schema, options=opts) as w:
        w.write_table(table)


def read_any(path):
    with open(path, "rb") as f:
        head = f.read(6)
    if head == b"ARROW1":
        return ipc.open_file(path).read_all()
    return ipc.open_stream(path).read_all()


def same(a, b):
    ta, tb = read_any(a), read_any(b)
    if not ta.schema.equals(tb.schema, check_metadata=True):
        sys.exit(f"schemas differ:\n{ta.schema}\n---\n{tb.schema}")
    if not ta.equals(tb):
        for name in ta.column_names:
            if not ta[name].equals(tb[name]):
                sys.exit(f"column {name} differs: {ta[name].to_pylist()} vs {tb[name].to_pylist()}")
        sys.exit("tables differ")


def check(path):
    """The values LoamFormatTests.builtFileOpensInPyArrow writes."""
    t = ipc.open_file(path).read_all()
    expect = {
        "id": [1, None, -3],
        "name": ["a", None, "ccc"],
        "score": [0.5, None, -1.25],
        "flag": [True, None, False],
        "vec": [[1.0, 2.0], None, [5.0, 6.0]],
        "tags": [["x", "y"], None, []],
        "point": [{"x": 1, "y": "p"}, None, {"x": None, "y": "q"}],
        "day": [datetime.date(2024, 1, 2), None, datetime.date(1970, 1, 1)],
        "at": [datetime.datetime(1970, 1, 1, 0, 0, 1), None, datetime.datetime(1970, 1, 1)],
    }
    for name, values in expect.items():
        got = t[name].to_pylist()
        if got != values:
            sys.exit(f"column {name}: got {got}, expected {values}")
    if t.schema.field("vec").metadata != {b"shape": b"[2]"}:
        sys.exit(f"vec metadata lost: {t.schema.field('vec').metadata}")
    if t.schema.metadata != {b"loam": b"test"}:
        sys.exit(f"schema metadata lost: {t.schema.metadata}")


def text_exports(arrow_path, csv_path, jsonl_path):
    """Loam's CSV and JSONL exports of the scalar columns read back in pyarrow equal to the original."""
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    original = read_any(arrow_path)
    scalar = [f.name for f in original.schema if not pa.types.is_nested(f.type) and not pa.types.is_timestamp(f.type)]
    original = original.select(scalar)
    schema = original.schema
    from_csv = pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                                                           quoted_strings_can_be_null=False))
    # pyarrow's JSON reader does not parse ISO date strings; read those as text and compare ISO forms.
    json_schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_date(f.type) else f for f in schema])
    from_json = pajson.read_json(jsonl_path, parse_options=pajson.ParseOptions(explicit_schema=json_schema))
    for name in scalar:
        want = original[name].to_pylist()
        if pa.types.is_binary(schema.field(name).type) or pa.types.is_large_binary(schema.field(name).type):
            import base64
            want = [None if v is None else base64.b64encode(v) for v in want]
            got_csv = [None if v is None else v for v in from_csv[name].to_pylist()]
            got_json = [None if v is None else v for v in from_json[name].to_pylist()]
        else:
            got_csv, got_json = from_csv[name].to_pylist(), from_json[name].to_pylist()
            if pa.types.is_date(schema.field(name).type):
                got_json = [None if v is None else datetime.date.fromisoformat(v) for v in got_json]
        import math
        json_want = [None if isinstance(v, float) and not math.isfinite(v) else v for v in want]  # JSON has no inf/nan
        for label, got, want in (("csv", got_csv, want), ("jsonl", got_json, json_want)):
            if got != want and not (all(isinstance(x, float) or x is None for x in want) and _close(got, want)):
                sys.exit(f"{label} column {name}: got {got}, expected {want}")


def _close(got, want):
    import math
    for g, w in zip(got, want):
        if (g is None) != (w is None):
            return False
        if g is not None and not (g == w or (math.isinf(w) and g == w) or abs(g - w) <= 1e-6 * max(1.0, abs(w))):
            return False
    return True


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2])
    elif cmd == "same":
        same(sys.argv[2], sys.argv[3])
    elif cmd == "check":
        check(sys.argv[2])
    elif cmd == "text-exports":
        text_exports(sys.argv[2], sys.argv[3], sys.argv[4])
    print("ok")
