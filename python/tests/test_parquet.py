"""Parquet files as pyarrow and DuckDB write them, imported by Loam's own reader and compared
value for value with what pyarrow reads from the same file: every type Loam maps, each codec,
data page v1 and v2, dictionary and the DELTA / BYTE_STREAM_SPLIT encodings, many pages and row
groups, nested lists, structs and maps. Corrupt files fail with an error naming the place."""
import datetime
import decimal
import math
import os
import random
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import LOAM, exported, loam as run

N = 3000


def sample_table(seed=7, n=N):
    rng = random.Random(seed)

    def maybe(v, p=0.1):
        return None if rng.random() < p else v

    words = ["", "a", "héllo", "水", "🙂 emoji", "tab\there", "x" * 300, "quote\"s", "line\nbreak"]
    day = datetime.date(1970, 1, 1)
    cols = {
        "b": pa.array([maybe(rng.random() < 0.5) for _ in range(n)], pa.bool_()),
        "i8": pa.array([maybe(rng.randint(-128, 127)) for _ in range(n)], pa.int8()),
        "i16": pa.array([maybe(rng.randint(-2**15, 2**15 - 1)) for _ in range(n)], pa.int16()),
        "i32": pa.array([maybe(rng.randint(-2**31, 2**31 - 1)) for _ in range(n)], pa.int32()),
        "i64": pa.array([maybe(rng.choice([rng.randint(-2**63, 2**63 - 1), rng.randint(-50, 50), 2**63 - 1, -2**63]))
                         for _ in range(n)], pa.int64()),
        "u8": pa.array([maybe(rng.randint(0, 255)) for _ in range(n)], pa.uint8()),
        "u16": pa.array([maybe(rng.randint(0, 2**16 - 1)) for _ in range(n)], pa.uint16()),
        "u32": pa.array([maybe(rng.randint(0, 2**32 - 1)) for _ in range(n)], pa.uint32()),
        "u64": pa.array([maybe(rng.randint(0, 2**64 - 1)) for _ in range(n)], pa.uint64()),
        "f32": pa.array([maybe(rng.uniform(-1e6, 1e6)) for _ in range(n)], pa.float32()),
        "f64": pa.array([maybe(rng.choice([rng.gauss(0, 1e10), 0.0, -0.0, math.inf, 5e-324])) for _ in range(n)], pa.float64()),
        "s": pa.array([maybe(rng.choice(words) + str(rng.randint(0, 40))) for _ in range(n)], pa.string()),
        "ls": pa.array([maybe(rng.choice(words)) for _ in range(n)], pa.large_string()),
        "bin": pa.array([maybe(bytes(rng.randrange(256) for _ in range(rng.randint(0, 20)))) for _ in range(n)], pa.binary()),
        "fsb": pa.array([maybe(bytes(rng.randrange(256) for _ in range(16))) for _ in range(n)], pa.binary(16)),
        "d": pa.array([maybe(day + datetime.timedelta(days=rng.randint(-100000, 100000))) for _ in range(n)], pa.date32()),
        "ts_ms": pa.array([maybe(rng.randint(-2**40, 2**42)) for _ in range(n)], pa.timestamp("ms")),
        "ts_us_utc": pa.array([maybe(rng.randint(-2**50, 2**52)) for _ in range(n)], pa.timestamp("us", tz="UTC")),
        "ts_ns_tz": pa.array([maybe(rng.randint(-2**62, 2**62)) for _ in range(n)], pa.timestamp("ns", tz="Europe/Paris")),
        "ts_s": pa.array([maybe(rng.randint(-2**33, 2**33)) for _ in range(n)], pa.timestamp("s")),
        "dec": pa.array([maybe(decimal.Decimal(rng.randint(-10**9, 10**9)).scaleb(-4)) for _ in range(n)], pa.decimal128(12, 4)),
        "dec_big": pa.array([maybe(decimal.Decimal(f"{rng.choice([rng.randint(-10**37, 10**37), rng.randint(-99, 99)])}E-10"))
                             for _ in range(n)], pa.decimal128(38, 10)),
        "t_ms": pa.array([maybe(rng.randint(0, 86399999)) for _ in range(n)], pa.time32("ms")),
        "t_us": pa.array([maybe(rng.randint(0, 86399999999)) for _ in range(n)], pa.time64("us")),
        "dict": pa.array([maybe(rng.choice(["cat", "dog", "🐟"])) for _ in range(n)], pa.string()).dictionary_encode(),
        "l": pa.array([maybe([maybe(rng.randint(-5, 5), 0.2) for _ in range(rng.randint(0, 4))]) for _ in range(n)], pa.list_(pa.int64())),
        "ll": pa.array([maybe([maybe([rng.randint(0, 9) for _ in range(rng.randint(0, 3))], 0.2) for _ in range(rng.randint(0, 3))])
                        for _ in range(n)], pa.list_(pa.list_(pa.int32()))),
        "lstr": pa.array([maybe([maybe(rng.choice(words), 0.2) for _ in range(rng.randint(0, 3))]) for _ in range(n)], pa.list_(pa.string())),
        "st": pa.array([maybe({"x": maybe(rng.randint(0, 100)), "y": maybe(rng.choice(words)),
                               "z": maybe([rng.random() for _ in range(rng.randint(0, 2))])}) for _ in range(n)],
                       pa.struct([("x", pa.int32()), ("y", pa.string()), ("z", pa.list_(pa.float64()))])),
        "lst": pa.array([maybe([maybe({"k": rng.randint(0, 3), "v": maybe(rng.choice(words))}, 0.2) for _ in range(rng.randint(0, 3))])
                         for _ in range(n)], pa.list_(pa.struct([("k", pa.int16()), ("v", pa.string())]))),
        "m": pa.array([maybe([(f"k{j}", maybe(rng.random())) for j in range(rng.randint(0, 3))]) for _ in range(n)],
                      pa.map_(pa.string(), pa.float64())),
        "emb": pa.FixedSizeListArray.from_arrays(pa.array([rng.uniform(-1, 1) for _ in range(n * 4)], pa.float32()), 4),
        "emb_null": pa.array([maybe([rng.random(), None, 1.0]) for _ in range(n)], pa.list_(pa.float64(), 3)),
        "req": pa.array(list(range(n)), pa.int64()),
    }
    schema = pa.schema([pa.field(k, v.type, nullable=(k != "req")) for k, v in cols.items()])
    return pa.table(cols, schema=schema)


def normalize(name, expected, got_type):
    """pyarrow's column as Loam maps it: decimals to float64 (precision ≤ 15) or exact text,
    times to integers of their unit, maps to lists of key/value structs, fixed-size binary to binary."""
    t = expected.type
    if pa.types.is_dictionary(t):
        expected = expected.cast(t.value_type)
        t = expected.type
    if pa.types.is_decimal(t):
        values = expected.to_pylist()
        if pa.types.is_floating(got_type):
            return [None if v is None else float(v) for v in values]
        return [None if v is None else format(v, "f") for v in values]
    if pa.types.is_time(t):
        return expected.cast(pa.int32() if pa.types.is_time32(t) else pa.int64()).to_pylist()
    if pa.types.is_timestamp(t):
        return expected.cast(pa.timestamp(got_type.unit, tz=t.tz)).cast(pa.int64()).to_pylist()
    if pa.types.is_map(t):
        return [None if v is None else [{"key": k, "value": x} for k, x in v] for v in expected.to_pylist()]
    return expected.to_pylist()


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def check(repo, path, dataset):
    run("import", path, "-d", dataset, "-q", repo=repo)
    got = exported(repo, dataset, "HEAD")
    expected = pq.read_table(path)
    assert got.column_names == expected.column_names
    for name in expected.column_names:
        g = got.column(name)
        want = normalize(name, expected.column(name), g.type)
        have = g.cast(pa.int64()).to_pylist() if pa.types.is_timestamp(g.type) else g.to_pylist()
        bad = [i for i, (x, y) in enumerate(zip(have, want)) if not same(x, y)]
        assert len(have) == len(want) and not bad, f"{path}: column {name} ({g.type}) differs at rows {bad[:5]}: {[have[i] for i in bad[:3]]} vs {[want[i] for i in bad[:3]]}"
    return got


@pytest.fixture(scope="module")
def table():
    return sample_table()


@pytest.fixture
def repo(tmp_path):
    run("init", str(tmp_path / "repo"))
    return tmp_path / "repo"


@pytest.mark.parametrize("codec", ["none", "snappy", "gzip", "zstd", "lz4"])
@pytest.mark.parametrize("pages", ["1.0", "2.0"])
def test_every_type_and_codec_reads_as_pyarrow_reads_it(repo, tmp_path, table, codec, pages):
    path = str(tmp_path / f"t-{codec}-{pages}.parquet")
    # Small pages and row groups: many pages per chunk, a dictionary fallback, several row groups.
    pq.write_table(table, path, compression=codec, data_page_version=pages, data_page_size=4096,
                   row_group_size=1100, dictionary_pagesize_limit=2048)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 3 and meta.row_group(0).column(0).compression.lower() == ("uncompressed" if codec == "none" else codec)
    got = check(repo, path, "t")
    schema = {f.name: f.type for f in got.schema}
    # From the Arrow schema pyarrow stores beside the Parquet one: fixed-size lists and time zones.
    assert schema["emb"] == pa.list_(pa.float32(), 4) and schema["emb_null"] == pa.list_(pa.float64(), 3), schema
    assert schema["ts_ns_tz"] == pa.timestamp("ns", tz="Europe/Paris"), schema["ts_ns_tz"]
    assert schema["dec"] == pa.float64() and schema["dec_big"] == pa.string() and schema["m"] == pa.list_(
        pa.field("entries", pa.struct([pa.field("key", pa.string(), nullable=False), ("value", pa.float64())]), nullable=False))


@pytest.mark.parametrize("encoding", ["PLAIN", "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "BYTE_STREAM_SPLIT"])
@pytest.mark.parametrize("pages", ["1.0", "2.0"])
def test_each_encoding(repo, tmp_path, table, encoding, pages):
    fits = {"DELTA_BINARY_PACKED": lambda t: pa.types.is_integer(t) or pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_time(t),
            "DELTA_LENGTH_BYTE_ARRAY": lambda t: pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t),
            "DELTA_BYTE_ARRAY": lambda t: pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t)
            or pa.types.is_fixed_size_binary(t),
            "BYTE_STREAM_SPLIT": lambda t: pa.types.is_floating(t) or pa.types.is_fixed_size_binary(t)
            or t in (pa.int32(), pa.int64()),
            "PLAIN": lambda t: not pa.types.is_nested(t) and not pa.types.is_dictionary(t)}[encoding]
    columns = [f.name for f in table.schema if fits(f.type) and not f.name.startswith("ts_ns")]
    sub = table.select(columns)
    path = str(tmp_path / f"{encoding}.parquet")
    pq.write_table(sub, path, use_dictionary=False, column_encoding={c: encoding for c in columns},
                   data_page_version=pages, data_page_size=2048, compression="snappy")
    used = {e for g in range(pq.ParquetFile(path).metadata.num_row_groups)
            for c in range(len(columns)) for e in pq.ParquetFile(path).metadata.row_group(g).column(c).encodings}
    assert encoding in used, used
    check(repo, path, "t")


def test_legacy_and_spark_layouts(repo, tmp_path, table):
    # INT96 timestamps (Spark, Impala), the old two-level lists, and converted types only.
    sub = table.select(["ts_ms", "ts_us_utc", "l", "ll", "lst", "st", "s", "u8", "dec"])
    path = str(tmp_path / "legacy.parquet")
    pq.write_table(sub, path, use_deprecated_int96_timestamps=True, use_compliant_nested_type=False, version="1.0")
    physical = {pq.ParquetFile(path).schema.column(i).name: pq.ParquetFile(path).schema.column(i).physical_type
                for i in range(2)}
    assert set(physical.values()) == {"INT96"}
    check(repo, path, "t")


def test_duckdb_written_parquet(repo, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    path = str(tmp_path / "duck.parquet")
    duckdb.sql(f"""COPY (SELECT i, i::VARCHAR || 'é' AS s, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 0.5 END AS f,
                   [i, i + 1] AS l, {{'a': i, 'b': 'x'}} AS st, DATE '2000-01-01' + i::INTEGER AS d,
                   (i * 1.25)::DECIMAL(18, 2) AS dec, TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND AS ts, i % 3 = 0 AS flag
                   FROM range(5000) t(i)) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)""")
    check(repo, path, "t")


def test_corrupt_files_fail_with_the_place_and_never_crash(repo, tmp_path, table):
    path = str(tmp_path / "good.parquet")
    pq.write_table(table.select(["i64", "s", "l", "st"]), path, compression="snappy", data_page_size=1024, row_group_size=1000)
    data = bytearray(open(path, "rb").read())

    def attempt(blob, name):
        bad = str(tmp_path / name)
        open(bad, "wb").write(blob)
        done = subprocess.run([LOAM, "import", bad, "-d", "bad", "-q", "--repo", str(repo)], capture_output=True, text=True)
        assert done.returncode in (0, 1), f"{name}: exit {done.returncode} (a crash?) {done.stderr[-500:]}"
        return done

    done = attempt(bytes(data[: len(data) // 2]), "truncated.parquet")
    assert "does not end with PAR1" in done.stderr, done.stderr
    # A page's bytes overwritten: the error names the row group, column and page.
    meta = pq.ParquetFile(path).metadata
    chunk = meta.row_group(1).column(1)
    start = chunk.data_page_offset + 40
    smashed = bytearray(data)
    smashed[start:start + 64] = b"\xff" * 64
    done = attempt(bytes(smashed), "smashed.parquet")
    assert done.returncode == 1 and "row group 1, column 's'" in done.stderr and "page" in done.stderr, done.stderr
    # Random damage anywhere: an error or (where the damage is harmless) an import, never a crash.
    rng = random.Random(5)
    imported = 0
    for k in range(60):
        blob = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        imported += attempt(bytes(blob), f"fuzz{k}.parquet").returncode == 0
    # A refused file commits nothing: the log holds the initial commit and one per accepted file.
    assert run("log", "--oneline", repo=repo).count("\n") == 1 + imported


def test_unsupported_codec_names_the_fix(repo, tmp_path, table):
    path = str(tmp_path / "brotli.parquet")
    pq.write_table(table.select(["i64"]), path, compression="brotli")
    done = subprocess.run([LOAM, "import", path, "-d", "t", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode == 1 and "brotli" in done.stderr and "zstd" in done.stderr, done.stderr


def comparable(column, unit_of=None):
    """A column's values for comparison; timestamps as integers in the reference's unit."""
    t = column.type
    if pa.types.is_timestamp(t):
        return column.cast(pa.timestamp(unit_of or t.unit, tz=t.tz)).cast(pa.int64()).to_pylist()
    return column.to_pylist()


def assert_same_table(reference, other, label):
    assert other.column_names == reference.column_names, label
    for name in reference.column_names:
        want = reference.column(name)
        unit = want.type.unit if pa.types.is_timestamp(want.type) else None
        have, expect = comparable(other.column(name), unit), comparable(want)
        bad = [i for i, (x, y) in enumerate(zip(have, expect)) if not same(x, y)]
        assert len(have) == len(expect) and not bad, f"{label}: column {name} differs at rows {bad[:5]}: {[have[i] for i in bad[:3]]} vs {[expect[i] for i in bad[:3]]}"


@pytest.mark.parametrize("codec", ["snappy", "zstd", "gzip", "lz4", "none"])
def test_export_is_read_by_pyarrow_duckdb_and_polars(repo, tmp_path, table, codec):
    source = str(tmp_path / "in.parquet")
    pq.write_table(table, source, row_group_size=1000)
    run("import", source, "-d", "t", "-q", repo=repo)
    reference = exported(repo, "t", "HEAD")
    out = str(tmp_path / f"out-{codec}.parquet")
    run("export", "t", "--format", "parquet", "--compression", codec, "-o", out, repo=repo)
    meta = pq.ParquetFile(out).metadata
    assert meta.row_group(0).column(0).compression.lower() == ("uncompressed" if codec == "none" else codec)
    # pyarrow's full validation of every array it reads back.
    back = pq.read_table(out)
    back.validate(full=True)
    assert_same_table(reference, back, f"pyarrow reading {codec}")
    duckdb = pytest.importorskip("duckdb")
    answer = duckdb.sql(f"SELECT * FROM '{out}'").arrow()
    answer = answer.read_all() if hasattr(answer, "read_all") else answer
    assert_same_table(reference, answer, f"DuckDB reading {codec}")
    # Loam reads its own file back the same.
    run("import", out, "-d", "again", "-q", repo=repo)
    assert_same_table(reference, exported(repo, "again", "HEAD"), "Loam reading its export")
    polars = pytest.importorskip("polars")
    frame = polars.read_parquet(out)
    assert frame.height == reference.num_rows and frame.columns == reference.column_names
    assert frame["s"].to_list() == reference.column("s").to_pylist()
    assert frame["l"].to_list() == reference.column("l").to_pylist()
    assert frame["i64"].to_list() == reference.column("i64").to_pylist()


def test_export_sums_match_in_duckdb(repo, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    n = 200_000
    rng = np.random.default_rng(1)
    t = pa.table({"id": np.arange(n), "cat": pa.array([["a", "b", "c", None][i % 4] for i in range(n)]),
                  "x": rng.standard_normal(n), "flag": rng.random(n) < 0.3})
    source = str(tmp_path / "big.parquet")
    pq.write_table(t, source)
    run("import", source, "-d", "big", "-q", repo=repo)
    out = str(tmp_path / "big-out.parquet")
    run("export", "big", "--format", "parquet", "-o", out, repo=repo)
    q = "SELECT cat, count(*), sum(id), round(sum(x), 6), count(*) FILTER (WHERE flag) FROM '{}' GROUP BY cat ORDER BY cat NULLS LAST"
    assert duckdb.sql(q.format(out)).fetchall() == duckdb.sql(q.format(source)).fetchall()
    # The string column is dictionary-encoded (four distinct values).
    encodings = pq.ParquetFile(out).metadata.row_group(0).column(1).encodings
    assert "RLE_DICTIONARY" in encodings, encodings


def test_import_reads_only_the_chosen_columns(repo, tmp_path, table):
    path = str(tmp_path / "wide.parquet")
    pq.write_table(table, path, row_group_size=1000)
    run("import", path, "-d", "t", "--columns", "s,l,req", repo=repo)
    got = exported(repo, "t", "HEAD")
    assert got.column_names == ["s", "l", "req"]
    assert got.column("s").to_pylist() == table.column("s").to_pylist()
    assert got.column("l").to_pylist() == table.column("l").to_pylist()
    done = subprocess.run([LOAM, "import", path, "-d", "u", "--columns", "s,nope", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode == 1 and "no column 'nope'" in done.stderr, done.stderr
    # A damaged page in a column left out is never read.
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    chunk = meta.row_group(0).column(names.index("i64"))
    data = bytearray(open(path, "rb").read())
    data[chunk.data_page_offset + 30:chunk.data_page_offset + 60] = b"\xff" * 30
    open(path, "wb").write(bytes(data))
    run("import", path, "-d", "v", "--columns", "s", repo=repo)
    assert subprocess.run([LOAM, "import", path, "-d", "w", "--repo", str(repo)], capture_output=True).returncode == 1


def test_exported_statistics_are_exact_min_max_and_null_counts(repo, tmp_path):
    """Each column chunk's statistics, as pyarrow reads them, equal the chunk's values: min and max
    in the logical type's order (unsigned as unsigned, text bytewise, NaN ignored, a zero bound
    signed as the format says), and the null count; DuckDB, which prunes row groups by them, answers a
    range filter over the file exactly."""
    rng = np.random.default_rng(11)
    n = 3000
    def holes(values):
        return [None if rng.random() < 0.1 else v for v in values]
    table = pa.table({
        "i64": pa.array(holes(rng.integers(-2**62, 2**62, n).tolist()), pa.int64()),
        "i16": pa.array(holes(rng.integers(-30000, 30000, n).tolist()), pa.int16()),
        "u64": pa.array(holes(rng.integers(0, 2**64 - 1, n, dtype=np.uint64).tolist()), pa.uint64()),
        "u32": pa.array(holes(rng.integers(0, 2**32 - 1, n).tolist()), pa.uint32()),
        "f64": pa.array(holes([float("nan") if i % 50 == 0 else v for i, v in enumerate(rng.standard_normal(n).tolist())]), pa.float64()),
        "text": pa.array(holes([f"w{v}é" for v in rng.integers(0, 10**6, n)])),
        "day": pa.array(holes(rng.integers(-1000, 20000, n).tolist()), pa.date32()),
        "flag": pa.array(holes((rng.random(n) < 0.5).tolist())),
    })
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    run("import", str(path), "-d", "s", repo=repo)
    out = tmp_path / "out.parquet"
    run("export", "s", "--format", "parquet", "-o", str(out), repo=repo)
    meta = pq.ParquetFile(out).metadata
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            column = meta.row_group(g).column(c)
            values = [v for v in table.column(column.path_in_schema).to_pylist() if v is not None]
            stats = column.statistics
            assert stats.null_count == n - len(values), column.path_in_schema
            ordered = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
            key = (lambda s: s.encode()) if column.path_in_schema == "text" else None
            assert stats.has_min_max and (stats.min, stats.max) == (min(ordered, key=key), max(ordered, key=key)), column.path_in_schema
    duckdb = pytest.importorskip("duckdb")
    low = sorted(v for v in table.column("i64").to_pylist() if v is not None)[n // 2]
    assert duckdb.sql(f"SELECT count(*) FROM '{out}' WHERE i64 >= {low}").fetchall()[0][0] == sum(
        1 for v in table.column("i64").to_pylist() if v is not None and v >= low)
