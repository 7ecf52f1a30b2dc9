"""A Loam repository read straight from its folder, following docs/FORMAT.md:
refs from the SQLite catalog, commits and manifests as JSON objects, and
fragments as memory-mapped Arrow IPC files. No `loam` binary or server needed.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from . import backends, crypto
from .dataset import Dataset, Fragment, run_query
from .errors import LoamError
from .labels import LabelTask, LocalTasks
from .frames import ArrowFile

_REF = re.compile(r"^(?P<base>[^~^]+)(?P<moves>(?:~\d*|\^)*)$")


def arrow_type(column):
    """The pyarrow type of a manifest schema column (FORMAT.md, 'Manifest')."""
    t = column["type"]
    simple = {
        "bool": pa.bool_(), "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
        "uint8": pa.uint8(), "uint16": pa.uint16(), "uint32": pa.uint32(), "uint64": pa.uint64(),
        "float32": pa.float32(), "float64": pa.float64(), "string": pa.string(), "large_string": pa.large_string(),
        "binary": pa.binary(), "large_binary": pa.large_binary(), "date32": pa.date32(),
    }
    if t in simple:
        return simple[t]
    if t == "timestamp":
        return pa.timestamp(column.get("unit", "us"), tz=column.get("timezone"))
    children = [arrow_field(c) for c in column.get("children", [])]
    if t == "list":
        return pa.list_(children[0])
    if t == "fixed_size_list":
        return pa.list_(children[0], column["size"])
    if t == "struct":
        return pa.struct(children)
    raise LoamError(f"unknown column type '{t}' in a manifest; this client reads format 1")


def arrow_field(column):
    metadata = column.get("metadata")
    return pa.field(column["name"], arrow_type(column), nullable=column.get("nullable", True),
                    metadata={k.encode(): v.encode() for k, v in metadata.items()} if metadata else None)


class LocalRepository:
    """A repository on this machine. `loam.open(path)` finds `.loam/` in `path` or a parent."""

    def __init__(self, path="."):
        if backends.is_s3(str(path)):
            # Only the S3 location: its descriptor (written by `loam init --catalog … --objects s3://…`) names the catalog.
            self.root = str(path).rstrip("/")
            try:
                descriptor = json.loads(backends.read_s3(self.root + "/loam.json"))
            except FileNotFoundError:
                raise LoamError(f"no Loam repository at {self.root} (no loam.json there: it is written by "
                                "`loam init --catalog postgres://… --objects s3://…`)") from None
            self._objects = self.root + "/objects"
            self._catalog = backends.PostgresCatalog(descriptor["catalog"])
            self._json = {}
            self._load_replacements()
            return
        here = os.path.abspath(path)
        while not os.path.isdir(os.path.join(here, ".loam")):
            parent = os.path.dirname(here)
            if parent == here:
                raise LoamError(f"no Loam repository at {os.path.abspath(path)} or above it (create one with `loam init`)")
            here = parent
        self.root = here
        remote = backends.read(os.path.join(here, ".loam")) or {}
        # The objects: .loam/objects, or s3://bucket/prefix/objects (read through pyarrow's S3 file system).
        self._objects = remote["objects"].rstrip("/") + "/objects" if remote.get("objects") else os.path.join(here, ".loam", "objects")
        if remote.get("catalog"):
            self._catalog = backends.PostgresCatalog(remote["catalog"])
        else:
            self._catalog = sqlite3.connect(os.path.join(here, ".loam", "catalog.sqlite"), timeout=30, check_same_thread=False)
            self._catalog.execute("PRAGMA query_only = ON")
        self._json = {}
        self._load_replacements()
        crypto.register(self._objects, self._catalog, here)

    def __repr__(self):
        return f"loam.open({self.root!r})"

    def __getstate__(self):  # DataLoader workers re-open the catalog themselves
        return {"root": self.root}

    def __setstate__(self, state):
        self.__init__(state["root"])

    # --- objects -------------------------------------------------------------------------------

    def _load_replacements(self):
        """Erasure's replacement map (docs/FORMAT.md, "Erasure"): an old object id → the object rewritten in its place."""
        try:
            self._replaced = dict(self._catalog.execute("SELECT old, new FROM object_replacements"))
        except sqlite3.OperationalError:  # a catalog from before erasure existed
            self._replaced = {}

    def object_path(self, object_id):
        object_id = self._replaced.get(object_id, object_id)
        if backends.is_s3(self._objects):
            return f"{self._objects}/{object_id[:2]}/{object_id[2:]}"
        return os.path.join(self._objects, object_id[:2], object_id[2:])

    def _load(self, object_id, kind):
        cached = self._json.get(object_id)
        if cached is not None:
            return cached
        try:
            try:
                value = json.loads(crypto.read_object(self.object_path(object_id)))
            except FileNotFoundError:
                self._load_replacements()  # erased since this repository was opened?
                self._json.clear()
                value = json.loads(crypto.read_object(self.object_path(object_id)))
        except FileNotFoundError:
            raise LoamError(f"object {object_id[:12]} is missing from {self._objects} (run `loam fsck`)") from None
        if value.get("kind") != kind:
            raise LoamError(f"object {object_id[:12]} is a {value.get('kind')}, not a {kind}")
        if value.get("format") != 1:
            raise LoamError(f"{kind} {object_id[:12]} has format {value.get('format')}; this client reads format 1")
        self._json[object_id] = value
        return value

    def commit(self, commit_id):
        return self._load(commit_id, "commit")

    def manifest(self, manifest_id):
        return self._load(manifest_id, "manifest")

    # --- refs ----------------------------------------------------------------------------------

    def current_branch(self):
        row = self._catalog.execute("SELECT value FROM settings WHERE key = 'current_branch'").fetchone()
        return row[0] if row else "main"

    def branches(self):
        return dict(self._catalog.execute("SELECT name, commit_id FROM refs WHERE kind = 'branch' ORDER BY name"))

    def tags(self):
        return dict(self._catalog.execute("SELECT name, commit_id FROM refs WHERE kind = 'tag' ORDER BY name"))

    def resolve(self, ref="HEAD"):
        """The commit id a ref expression names: HEAD, a branch or tag, a hash or 4+ digit prefix, with ~N and ^."""
        match = _REF.match(ref.strip())
        if not match:
            raise LoamError(f"'{ref}' is not a ref (try HEAD, a branch, a tag, a commit hash, or HEAD~2)")
        base = match["base"]
        if base == "HEAD":
            base = self.current_branch()
        row = self._catalog.execute("SELECT commit_id FROM refs WHERE name = ?", (base,)).fetchone()
        if row:
            commit = row[0]
        elif re.fullmatch(r"[0-9a-fA-F]{4,64}", base):
            commit = self._by_prefix(base.lower())
        else:
            names = sorted(self.branches()) + sorted(self.tags())
            raise LoamError(f"unknown ref '{base}' (branches and tags: {', '.join(names) or 'none'})")
        for move in re.findall(r"~\d*|\^", match["moves"]):
            steps = 1 if move in ("^", "~") else int(move[1:])
            for _ in range(steps):
                parents = self.commit(commit)["parents"]
                if not parents:
                    raise LoamError(f"'{ref}' goes back past the first commit")
                commit = parents[0]
        return commit

    def _by_prefix(self, prefix):
        if backends.is_s3(self._objects):
            listed = backends.list_s3(f"{self._objects}/{prefix[:2]}")
        else:
            folder = os.path.join(self._objects, prefix[:2])
            listed = os.listdir(folder) if os.path.isdir(folder) else []
        names = [prefix[:2] + n for n in listed if n.startswith(prefix[2:])]
        names = sorted(set(names) | {old for old in self._replaced if old.startswith(prefix)})
        commits = []
        for name in names:
            try:
                self.commit(name)
                commits.append(name)
            except (LoamError, ValueError, UnicodeDecodeError):
                continue  # fragments and other objects share the prefix space
        if len(commits) != 1:
            raise LoamError(f"'{prefix}' matches {len(commits)} commits; give more digits" if commits else f"no commit starts with '{prefix}'")
        return commits[0]

    def log(self, ref="HEAD", limit=None):
        """(id, commit) pairs from `ref` back along first parents, newest first."""
        out, commit = [], self.resolve(ref)
        while commit and (limit is None or len(out) < limit):
            value = self.commit(commit)
            out.append((commit, value))
            commit = value["parents"][0] if value["parents"] else None
        return out

    def create_label_task(self, dataset, schema, query, annotators=1, overlap=1.0, seed=0):
        """A labelling task over the rows `query` returns (its _rowid column); you (LOAM_AUTHOR) become its manager."""
        tasks = LocalTasks(self.root)
        task = json.loads(tasks.run("create", "-d", dataset, "--schema", schema, "--query", query, "--annotators", str(annotators),
                                    "--overlap", str(overlap), "--seed", str(seed), "--json"))
        return LabelTask(tasks, task["id"])

    def label_task(self, task_id):
        return LabelTask(LocalTasks(self.root), task_id)

    def label_tasks(self, dataset=None):
        return json.loads(LocalTasks(self.root).run("list", "--json", *(["-d", dataset] if dataset else [])))

    def start_run(self, *args, **kwargs):
        raise LoamError("runs are kept by a server: `loam serve` (--anonymous for yourself), then loam.connect(url).start_run(...)")

    def query(self, sql, ref="HEAD"):
        """Runs SQL through the `loam` binary (PATH or LOAM_BIN); returns a pyarrow Table."""
        return run_query(self.root, sql, ref)

    def write(self, data, dataset, message=None, stage=False):
        """Appends a pyarrow Table or RecordBatch, or a pandas or polars DataFrame, to `dataset` (created if new)
        as one commit, through the `loam` binary (PATH or LOAM_BIN). Returns {commit, dataset, rows, created}.
        With `stage=True` it writes the fragments and commits nothing: {staged, dataset, rows}, the staged id
        for `commit_staged` (a distributed write's worker half)."""
        with ArrowFile(data) as path:
            return self._loam("import", path, "-d", dataset, "--json", "-q", *(["-m", message] if message else []),
                              *(["--stage"] if stage else []))

    def commit_staged(self, dataset, staged, message=None):
        """Attaches the fragments of staged writes (ids from `write(..., stage=True)`) to `dataset` as one commit:
        {commit, dataset, rows, fragments, created}."""
        return self._loam("commit-staged", "-d", dataset, *staged, "--json", *(["-m", message] if message else []))

    def _loam(self, *args, answers_failure=False):
        """Runs the `loam` binary on this repository and parses its JSON; `answers_failure`: exit status 1 with
        JSON on standard output is an answer (`loam check` failing), not an error."""
        binary = os.environ.get("LOAM_BIN") or shutil.which("loam")
        if not binary:
            raise LoamError("writes run the `loam` binary: put it on PATH or set LOAM_BIN")
        done = subprocess.run([binary, *args, "--repo", self.root], capture_output=True, text=True)
        if answers_failure and done.returncode == 1 and done.stdout.strip():
            return json.loads(done.stdout)
        if done.returncode != 0:
            raise LoamError(done.stderr.strip() or f"loam {args[0]} failed ({done.returncode})")
        return json.loads(done.stdout)

    # --- datasets ------------------------------------------------------------------------------

    def datasets(self, ref="HEAD"):
        return sorted(self.commit(self.resolve(ref))["tree"])

    def dataset_manifest(self, name, ref="HEAD"):
        """The commit `ref` names and the manifest of dataset `name` in it."""
        commit = self.resolve(ref)
        tree = self.commit(commit)["tree"]
        if name not in tree:
            raise LoamError(f"no dataset '{name}' at {ref} (datasets: {', '.join(sorted(tree)) or 'none'})")
        return commit, self.manifest(tree[name])

    def dataset(self, name, ref="HEAD"):
        commit, manifest = self.dataset_manifest(name, ref)
        columns = manifest["schema"]["columns"]
        schema = pa.schema([arrow_field(c) for c in columns],
                           metadata={k.encode(): v.encode() for k, v in manifest["schema"].get("metadata", {}).items()} or None)
        fragments = []
        for entry in manifest["fragments"]:
            live = None
            if entry.get("deletions"):
                deleted = _read_ipc(self.object_path(entry["deletions"])).column(0).to_numpy()
                keep = np.ones(entry["rows"], dtype=bool)
                keep[deleted.astype(np.int64)] = False
                live = np.flatnonzero(keep)
            positions = [entry["columnIDs"].index(c["id"]) + 1 if c["id"] in entry["columnIDs"] else None for c in columns]
            fragments.append(Fragment(self.object_path(entry["object"]), entry["rows"], live, positions))
        return Dataset(name, commit, schema, fragments, source=self)


def _read_ipc(path):
    """The one record batch of an Arrow IPC file, memory-mapped (zero copy)."""
    reader = ipc.open_file(crypto.arrow_source(path))
    if reader.num_record_batches == 1:
        return reader.get_batch(0)
    return pa.Table.from_batches([reader.get_batch(i) for i in range(reader.num_record_batches)]).combine_chunks().to_batches()[0]
