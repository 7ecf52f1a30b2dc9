"""Apache Arrow's own golden integration files (Tests/Fixtures/arrow-integration: 182 IPC files and
streams written by Arrow C++ 0.14.1 to 21.0.0, little- and big-endian, compressed, shared
dictionaries): each imports into Loam and every column equals pyarrow's reading of the same file,
converted as docs/FORMAT.md says — except the unions and the duplicate column names, which are
refused naming the field (Loam stores no unions; two columns of one name are ambiguous)."""
import os
import subprocess

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from conftest import LOAM, loam as run
from test_arrow_types import expected

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "arrow-integration")
FILES = sorted(os.path.relpath(os.path.join(d, f), GOLDEN) for d, _, names in os.walk(GOLDEN) for f in names
               if f.endswith((".arrow_file", ".stream")))
REFUSED = {"generated_union": "union", "generated_duplicate_fieldnames": "both named"}


def read(path):
    with open(path, "rb") as f:
        if f.read(6) == b"ARROW1":
            return ipc.open_file(path).read_all()
    return ipc.open_stream(path).read_all()


def same(got, want):
    """Loam's column equals pyarrow's reading, converted (None: pyarrow cannot show the type in Python)."""
    if pa.types.is_timestamp(want.type) or pa.types.is_date64(want.type):  # beyond Python's datetime range
        return got.cast(pa.int64()).to_pylist() == want.cast(pa.int64()).to_pylist()
    if pa.types.is_map(want.type):  # pyarrow renames a map's entries key/value on read; Loam keeps the file's names
        return [None if v is None else [tuple(e.values()) for e in v] for v in got.to_pylist()] == \
            [None if v is None else [tuple(e) for e in v] for v in want.to_pylist()]
    try:
        reference = expected(want)
    except (KeyError, NotImplementedError, pa.ArrowNotImplementedError):
        return None  # interval[day_time]: pyarrow cannot build it in Python
    return got.to_pylist() == reference


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("golden") / "repo"
    run("init", str(path))
    return path


def test_all_182_golden_files_are_here():
    assert len(FILES) == 182


@pytest.mark.parametrize("name", FILES)
def test_golden_file_imports_equal_to_pyarrow(repo, name, tmp_path):
    path = os.path.join(GOLDEN, name)
    dataset = "g_" + name.replace("/", "_").replace(".", "_").replace("-", "_")
    done = subprocess.run([LOAM, "import", path, "-d", dataset, "--format", "arrow", "--repo", str(repo)], capture_output=True, text=True)
    refused = next((why for stem, why in REFUSED.items() if stem in name), None)
    if refused:
        assert done.returncode != 0 and refused in done.stderr and "'" in done.stderr, done.stderr
        return
    assert done.returncode == 0, done.stderr
    out = str(tmp_path / "out.arrow")
    run("export", dataset, "--format", "arrow", "-o", out, repo=repo)
    got, want = ipc.open_file(out).read_all(), read(path)
    assert got.schema.names == want.schema.names and got.num_rows == want.num_rows
    verdicts = {f.name: same(got.column(f.name), want.column(f.name)) for f in want.schema}
    assert not [n for n, ok in verdicts.items() if ok is False], verdicts
