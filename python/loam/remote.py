"""The same API over a Loam server (`loam serve`): `loam.connect(url, token=…)`."""
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from .dataset import DatasetBase, numpy_columns
from .errors import LoamError, ServerError
from .frames import ArrowFile
from .labels import LabelTask, RemoteLabels, RemoteTasks
from .loader import encode_classes, resolve_classes
from . import splits
from .tracking import Run, note_read


class RemoteRepository:
    def __init__(self, url, token=None, timeout=300, cafile=None):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        # https: the system's trusted certificates, or `cafile` (a server's own or its CA's certificate, PEM).
        self.ssl = ssl.create_default_context(cafile=cafile) if cafile else None

    def __repr__(self):
        return f"loam.connect({self.url!r})"

    def request(self, method, path, query=None, body=None, content_type="application/json"):
        """(status, content type, bytes) of one call; a JSON error becomes a ServerError."""
        url = self.url + path + ("?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None}) if query else "")
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        req = urllib.request.Request(url, data=data, method=method)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.ssl) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                answer = json.loads(payload)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and isinstance(answer.get("error"), dict):  # Loam's routes
                raise ServerError(e.code, answer["error"].get("code", "http"), answer["error"].get("message", "")) from None
            if isinstance(answer, dict) and "error_code" in answer:  # the MLflow routes
                raise ServerError(e.code, answer["error_code"], answer.get("message", "")) from None
            raise ServerError(e.code, "http", payload.decode(errors="replace")[:200]) from None

    def get_json(self, path, **query):
        return json.loads(self.request("GET", path, query)[2])

    def arrow(self, method, path, query=None, body=None):
        return ipc.open_stream(self.request(method, path, query, body)[2]).read_all()

    def info(self):
        return self.get_json("/api/v1/repository")

    def branches(self):
        return {r["name"]: r["commit"] for r in self.get_json("/api/v1/refs")["branches"]}

    def tags(self):
        return {r["name"]: r["commit"] for r in self.get_json("/api/v1/refs")["tags"]}

    def resolve(self, ref="HEAD"):
        return self.get_json(f"/api/v1/commits/{urllib.parse.quote(ref, safe='')}")["id"]

    def commit(self, commit_id):
        return self.get_json(f"/api/v1/commits/{commit_id}")

    def log(self, ref="HEAD", limit=None):
        return [(c["id"], c) for c in self.get_json("/api/v1/log", ref=ref, limit=limit)]

    def datasets(self, ref="HEAD"):
        return [d["name"] for d in self.get_json("/api/v1/datasets", ref=ref)]

    def dataset(self, name, ref="HEAD"):
        meta = self.get_json(f"/api/v1/datasets/{urllib.parse.quote(name)}", ref=ref)
        schema = self.arrow("GET", f"/api/v1/datasets/{urllib.parse.quote(name)}/rows", {"ref": meta["commit"], "limit": 0}).schema
        return RemoteDataset(self, name, meta["commit"], schema, meta["rows"])

    def query(self, sql, ref="HEAD"):
        """A SELECT's rows as a pyarrow Table; a write's {verb, affected, commit}."""
        status, kind, payload = self.request("POST", "/api/v1/query", body={"sql": sql, "ref": ref})
        return json.loads(payload) if kind.startswith("application/json") else ipc.open_stream(payload).read_all()

    def create_label_task(self, dataset, schema, query, annotators=1, overlap=1.0, seed=0):
        """A labelling task over the rows `query` returns (its _rowid column); the token's user becomes its manager."""
        body = {"dataset": dataset, "schema": schema, "query": query, "annotators": annotators, "overlap": overlap, "seed": seed}
        task = json.loads(self.request("POST", "/api/v1/label-tasks", body=body)[2])
        return LabelTask(RemoteTasks(self), task["id"])

    def label_task(self, task_id):
        return LabelTask(RemoteTasks(self), task_id)

    def label_tasks(self, dataset=None):
        return self.get_json("/api/v1/label-tasks", dataset=dataset)

    def start_run(self, experiment, params=None, run_name=None, tags=None, flush_seconds=0.5):
        """An MLflow-compatible run on this server, batched in the background; use it in a `with` block."""
        return Run(self, experiment, run_name=run_name, params=params, tags=tags, flush_seconds=flush_seconds)

    def import_file(self, dataset, path, format=None, message=None, schema=None):
        """Uploads a CSV, JSONL or Arrow file as one commit; returns {commit, dataset, rows, created}."""
        format = format or path.rsplit(".", 1)[-1]
        with open(path, "rb") as f:
            body = f.read()
        _, _, payload = self.request("POST", f"/api/v1/datasets/{urllib.parse.quote(dataset)}/import",
                                     {"format": format, "message": message, "schema": schema}, body, "application/octet-stream")
        return json.loads(payload)


    def write(self, data, dataset, message=None):
        """Appends a pyarrow Table or RecordBatch, or a pandas or polars DataFrame, to `dataset` on the server
        (created if new) as one commit. Returns {commit, dataset, rows, created}."""
        with ArrowFile(data) as path:
            return self.import_file(dataset, path, format="arrow", message=message)


class RemoteDataset(DatasetBase):
    """A dataset at one commit on a server; reads are Arrow IPC streams."""

    def __init__(self, repo, name, commit, schema, rows):
        self._repo, self.name, self.commit, self.schema, self._rows = repo, name, commit, schema, rows
        self._path = f"/api/v1/datasets/{urllib.parse.quote(name)}"

    def __len__(self):
        return self._rows

    def labels(self):
        """The dataset's labels on the server, at this commit (see loam.labels.RemoteLabels)."""
        return RemoteLabels(self)

    def profile(self):
        """The dataset's profile on the server, at this commit (columns masked for this token: counts only)."""
        return self._repo.get_json(self._path + "/profile", ref=self.commit)

    def check(self, samples=10):
        """The dataset's expectations checked on the server at this commit (see Dataset.check)."""
        return self._repo.get_json(self._path + "/check", ref=self.commit, samples=samples)

    def drift(self, since, columns=None, against=None):
        """See Dataset.drift."""
        query = {"from": since, "to": self.commit, **({"against": against} if against else {}), **({"columns": ",".join(columns)} if columns else {})}
        return self._repo.get_json(self._path + "/drift", **query)

    def near_duplicates(self, column, threshold=0.8, words=False, cosine=None):
        """See Dataset.near_duplicates."""
        extra = {} if cosine is None else {"cosine": cosine}
        return self._repo.get_json(self._path + "/near-duplicates", column=column, threshold=threshold, words="true" if words else "false",
                                   ref=self.commit, **extra)

    def label_issues(self, label, probabilities):
        """See Dataset.label_issues."""
        return self._repo.get_json(self._path + "/label-issues", label=label, probabilities=probabilities, ref=self.commit)

    def __getstate__(self):
        return {"repo": self._repo, "name": self.name, "commit": self.commit, "schema": self.schema, "rows": self._rows}

    def __setstate__(self, state):
        self.__init__(state["repo"], state["name"], state["commit"], state["schema"], state["rows"])

    def _columns(self, columns):
        return [self.schema.field(i).name for i in self._indices(columns)]

    def take(self, indices, columns=None):
        positions = np.asarray(indices, dtype=np.int64).reshape(-1)
        positions = np.where(positions < 0, positions + len(self), positions)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(self)):
            raise IndexError(f"row {positions[(positions < 0) | (positions >= len(self))][0]} is out of range: dataset '{self.name}' has {len(self)} rows")
        names = self._columns(columns)
        if len(positions) == 0:
            return pa.schema([self.schema.field(n) for n in names]).empty_table()
        return self._repo.arrow("POST", self._path + "/take", {"ref": self.commit},
                                {"positions": positions.tolist(), "columns": names})

    def slice(self, start, length, columns=None):
        return self._repo.arrow("GET", self._path + "/rows", {"ref": self.commit, "offset": start, "limit": max(0, length),
                                                              "columns": ",".join(self._columns(columns))})

    def to_arrow(self, columns=None):
        return self.slice(0, len(self), columns)

    def iter_batches(self, batch_size=65_536, columns=None):
        for start in range(0, len(self), batch_size):
            yield from self.slice(start, batch_size, columns).combine_chunks().to_batches()

    def query(self, sql):
        return self._repo.query(sql, ref=self.commit)

    def stream(self, columns=None, batch_size=256, shuffle=True, seed=0, epoch=0, drop_last=False, rank=0, world_size=1,
               start_batch=0, block_rows=1024, window_blocks=64, split=None, split_seed=0, split_fractions=(0.8, 0.1, 0.1)):
        """The server's training stream: this rank's batches as RecordBatches, in the order to_numpy gives locally."""
        query = {"ref": self.commit, "columns": ",".join(self._columns(columns)), "batch_size": batch_size,
                 "shuffle": str(shuffle).lower(), "seed": seed, "epoch": epoch, "drop_last": str(drop_last).lower(),
                 "rank": rank, "world_size": world_size, "start_batch": start_batch, "block_rows": block_rows, "window_blocks": window_blocks}
        if split is not None:
            splits.check(split, split_fractions)
            query.update(split=split, split_seed=split_seed, split_fractions=",".join(repr(float(f)) for f in split_fractions))
        url = self._repo.url + self._path + "/stream?" + urllib.parse.urlencode(query)
        req = urllib.request.Request(url)
        if self._repo.token:
            req.add_header("Authorization", f"Bearer {self._repo.token}")
        try:
            with urllib.request.urlopen(req, timeout=self._repo.timeout, context=self._repo.ssl) as response:
                reader = ipc.open_stream(response)
                for batch in reader:
                    yield batch
        except urllib.error.HTTPError as e:
            error = json.loads(e.read())["error"]
            raise ServerError(e.code, error["code"], error["message"]) from None

    def to_numpy(self, columns=None, batch_size=256, shuffle=True, seed=0, epoch=0, drop_last=False,
                 rank=0, world_size=1, start_batch=0, split=None, split_seed=0, split_fractions=(0.8, 0.1, 0.1), **plan):
        if plan.get("labels") is not None:  # rows gathered with their labels by take(), as a local dataset does
            return DatasetBase.to_numpy(self, columns, batch_size, shuffle, seed, epoch, drop_last, rank, world_size, start_batch,
                                        split, split_seed, split_fractions, **plan)
        plan.pop("labels", None), plan.pop("label_by", None)
        read = dict(columns=list(columns) if columns is not None else None, batch_size=batch_size, shuffle=shuffle, seed=seed,
                    epoch=epoch, drop_last=drop_last, rank=rank, world_size=world_size, start_batch=start_batch,
                    block_rows=plan.get("block_rows", 1024), window_blocks=plan.get("window_blocks", 64))
        if split is not None:
            plan.update(split=split, split_seed=split_seed, split_fractions=tuple(split_fractions))
            read["split"] = {"name": split, "seed": split_seed, "fractions": [float(f) for f in split_fractions]}
        note_read(self, **read)
        classes = resolve_classes(self, plan.pop("classes", None))
        return self._numpy_stream(columns, batch_size, shuffle, seed, epoch, drop_last, rank, world_size, start_batch, classes, **plan)

    def _numpy_stream(self, columns, batch_size, shuffle, seed, epoch, drop_last, rank, world_size, start_batch, classes, **plan):
        for batch in self.stream(columns, batch_size, shuffle, seed, epoch, drop_last, rank, world_size, start_batch, **plan):
            yield encode_classes(numpy_columns(batch), classes)
