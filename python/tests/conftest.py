"""Repositories built by the real `loam` binary (LOAM_BIN, else .build/debug/loam)."""
import contextlib
import os
import shutil
import subprocess
import uuid
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOAM = os.environ.get("LOAM_BIN") or os.path.join(ROOT, ".build", "debug", "loam")


def loam(*args, repo=None):
    argv = [LOAM, *args] + (["--repo", str(repo)] if repo is not None else [])
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
    return done.stdout


# The servers of scripts/test-servers.sh (scripts/test.sh starts them and sets LOAM_TEST_*); with
# LOAM_REQUIRE_SERVERS=1 their absence fails the tests that need them instead of skipping them.
SERVERS = bool(os.environ.get("LOAM_TEST_POSTGRES")) or os.environ.get("LOAM_REQUIRE_SERVERS") == "1"
NO_SERVERS = "needs the test servers: eval \"$(bash scripts/test-servers.sh start)\""


def server_env():
    """This process's environment and the AWS_* variables that reach the test S3 server."""
    env = os.environ
    return dict(env, AWS_ENDPOINT_URL=env["LOAM_TEST_S3_ENDPOINT"], AWS_ACCESS_KEY_ID=env["LOAM_TEST_S3_KEY"],
                AWS_SECRET_ACCESS_KEY=env["LOAM_TEST_S3_SECRET"], AWS_REGION="us-east-1")


def fresh_backends():
    """A fresh database on the test PostgreSQL server and a fresh prefix in the test bucket."""
    admin = urlparse(os.environ["LOAM_TEST_POSTGRES"])
    name = "py_" + uuid.uuid4().hex[:12]
    pgbin = os.environ.get("LOAM_PGBIN", "/usr/lib/postgresql/15/bin")
    subprocess.run([f"{pgbin}/createdb", "-h", admin.hostname, "-p", str(admin.port), "-U", admin.username, name], check=True)
    catalog = f"postgres://{admin.username}@{admin.hostname}:{admin.port}/{name}"
    objects = f"s3://{os.environ['LOAM_TEST_S3_BUCKET']}/py-{uuid.uuid4().hex[:8]}/"
    return catalog, objects


# The two backend pairs a served-repository fixture runs on: its params.
BACKENDS = ["embedded", pytest.param("servers", marks=pytest.mark.skipif(not SERVERS, reason=NO_SERVERS))]


@contextlib.contextmanager
def on_backend(kind, path, source=None):
    """A repository at `path` on `kind`: new (or a copy of the local repository `source`) on the embedded
    default, or new (or `source` cloned) on a fresh PostgreSQL database + S3 prefix, with this process's
    environment reaching the S3 server until the block ends."""
    saved = dict(os.environ)
    try:
        if kind == "servers":
            os.environ.update(server_env())
            catalog, objects = fresh_backends()
            if source is None:
                loam("init", str(path), "--catalog", catalog, "--objects", objects)
            else:
                loam("clone", str(source), str(path), "--catalog", catalog, "--objects", objects)
        elif source is None:
            loam("init", str(path))
        else:
            shutil.copytree(source, path)
        yield path
    finally:
        os.environ.clear()
        os.environ.update(saved)


def exported(repo, dataset, ref):
    """The reference: what `loam export --format arrow` writes for the dataset at ref."""
    out = os.path.join(str(repo), f"export-{dataset}-{ref.replace('~', '_')}.arrow")
    loam("export", dataset, "--ref", ref, "--format", "arrow", "-o", out, repo=repo)
    return ipc.open_file(out).read_all()


@pytest.fixture(scope="session")
def history(tmp_path_factory):
    """A dataset through every kind of change: several fragments, deletions, added and renamed
    columns, appended rows, a fixed-size-list column, tags at each step."""
    repo = tmp_path_factory.mktemp("loam-py")
    loam("init", str(repo))
    rng = np.random.default_rng(3)
    n = 2500
    table = pa.table({
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "label": pa.array(rng.integers(0, 5, n, dtype=np.int32)),
        "score": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.random(n))).cast(pa.float64()),
        "text": pa.array([None if i % 13 == 0 else f"row {i}" for i in range(n)]),
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * 8).astype(np.float32)), 8),
    })
    path = os.path.join(str(repo), "t.arrow")
    with ipc.new_file(path, table.schema) as w:
        w.write_table(table, max_chunksize=700)
    loam("import", path, "-d", "t", "--fragment-rows", "600", "-q", repo=repo)
    loam("tag", "v1", repo=repo)
    loam("delete", "t", "--where", "label = 2", repo=repo)
    loam("alter", "t", "add-column", "note", "string", repo=repo)
    loam("alter", "t", "rename-column", "text", "body", repo=repo)
    loam("tag", "v2", repo=repo)
    more = pa.table({"id": pa.array(np.arange(n, n + 300, dtype=np.int64)), "label": pa.array(np.full(300, 9, dtype=np.int32)),
                     "score": pa.array(np.linspace(0, 1, 300)), "body": pa.array([f"new {i}" for i in range(300)]),
                     "emb": pa.FixedSizeListArray.from_arrays(pa.array(np.ones(300 * 8, dtype=np.float32)), 8),
                     "note": pa.array(["fresh"] * 300)})
    path = os.path.join(str(repo), "more.arrow")
    with ipc.new_file(path, more.schema) as w:
        w.write_table(more)
    loam("import", path, "-d", "t", "-q", repo=repo)
    loam("update", "t", "--set", "note=edited", "--where", "id < 40", repo=repo)
    return repo
