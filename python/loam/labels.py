"""Labels of a local dataset: its label schemas, its annotations (the dataset `<name>__labels`, read at
the dataset's commit), one label per row for training, agreement, and writes and files through the
`loam` binary (PATH or LOAM_BIN), so every rule is the engine's.

    ds = loam.open("repo").dataset("reviews")
    labels = ds.labels()
    labels.define("sentiment", "class", classes=["neg", "pos"])
    labels.add("sentiment", rows=[0, 1], values=["pos", "neg"], annotator="ana")
    labels.agreement("sentiment")["fleiss_kappa"]
    loader = ds.to_torch(["text"], labels="sentiment", label_by="majority")   # batch["sentiment"]: class indices, -1 = none
"""
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pyarrow as pa

from .errors import LoamError

SUFFIX = "__labels"
SCHEMA_PREFIX = "loam.label_schema."


def _binary():
    binary = os.environ.get("LOAM_BIN") or shutil.which("loam")
    if not binary:
        raise LoamError("labels run the `loam` binary for writes and agreement: put it on PATH or set LOAM_BIN")
    return binary


class Labels:
    """The labels of one dataset at its commit (reads), written on the repository's current branch (writes)."""

    def __init__(self, dataset):
        if not hasattr(dataset, "_source"):
            raise LoamError("labels are read from a local repository (loam.open); a server's labels come with their REST routes")
        self.dataset = dataset
        self.source = dataset._source
        self.name = dataset.name

    def _run(self, *args):
        done = subprocess.run([_binary(), "label", *args, "--repo", self.source.root], capture_output=True, text=True)
        if done.returncode != 0:
            raise LoamError(done.stderr.strip().removeprefix("loam: error: ") or f"loam label {args[0]} failed ({done.returncode})")
        return done.stdout

    def _labels_dataset(self):
        tree = self.source.commit(self.dataset.commit)["tree"]
        return self.source.dataset(self.name + SUFFIX, ref=self.dataset.commit) if self.name + SUFFIX in tree else None

    # --- reads, at the dataset's commit ---

    def schemas(self):
        """{name: schema dict (kind, classes, …)} as of the dataset's commit."""
        labels = self._labels_dataset()
        if labels is None:
            return {}
        metadata = {k.decode(): v.decode() for k, v in (labels.schema.metadata or {}).items()}
        return {k[len(SCHEMA_PREFIX):]: json.loads(v) for k, v in sorted(metadata.items()) if k.startswith(SCHEMA_PREFIX)}

    def to_arrow(self, schema=None):
        """Every annotation (row_id, schema, annotator, value, source, model, score, status, created_at, task) as a pyarrow Table."""
        labels = self._labels_dataset()
        if labels is None:
            return pa.table({"row_id": pa.array([], pa.uint64())})
        table = labels.to_arrow()
        if schema is not None:
            import pyarrow.compute as pc
            table = table.filter(pc.equal(table["schema"], schema))
        return table

    def to_pandas(self, schema=None):
        return self.to_arrow(schema).to_pandas()

    def gather(self, schema, by="majority"):
        """{_rowid: stored value or None}: one label per labelled row — by "majority", "adjudicated" or "annotator:NAME"."""
        out = json.loads(self._run("list", "-d", self.name, "--schema", schema, "--by", by, "--ref", self.dataset.commit, "--json"))
        return {int(r["row_id"]): r["value"] for r in out}

    def agreement(self, schema, weights="none"):
        """The engine's agreement report for one schema (kappas and alpha for classes and ratings, IoU agreement for shapes)."""
        return json.loads(self._run("agreement", "-d", self.name, "--schema", schema, "--ref", self.dataset.commit, "--weights", weights, "--json"))

    # --- writes, on the current branch ---

    def define(self, name, kind, classes=None, **options):
        """Adds or changes a label schema: kind is class, multilabel, rating, text, boxes, polygons, spans or relations;
        options: min, max, image_column, width_column, height_column, text_column, allow_overlap."""
        args = ["schema", "add", name, "-d", self.name, "--kind", kind]
        if classes is not None:
            args += ["--classes", ",".join(classes)]
        for key, value in options.items():
            if key == "allow_overlap":
                if value:
                    args.append("--allow-overlap")
                continue
            args += ["--" + key.replace("_", "-"), str(value)]
        self._run(*args)

    def add(self, schema, rows, values, annotator, source="human", model=None, scores=None, status=None, task=None):
        """Writes one label per row (values: class names, numbers, texts, or lists/dicts for shapes) as one commit;
        an annotator labelling a row again replaces their label. Nothing is written if any label is wrong."""
        rows = [int(r) for r in rows]
        if len(values) != len(rows) or (scores is not None and len(scores) != len(rows)):
            raise LoamError(f"give one value (and score) per row: {len(rows)} rows, {len(values)} values")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "labels.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for i, (row, value) in enumerate(zip(rows, values)):
                    record = {"row_id": row, "annotator": annotator, "value": value, "source": source, "model": model,
                              "score": None if scores is None else float(scores[i]), "status": status, "task": task}
                    f.write(json.dumps(record) + "\n")
            return self.import_file(schema, path, "jsonl")

    def import_file(self, schema, path, format, annotator="import"):
        """Imports labels from a jsonl, csv or coco file, or a yolo folder, as one commit."""
        return self._run("import", "-d", self.name, "--schema", schema, "--format", format, "--annotator", annotator, str(path)).strip()

    def export(self, schema, path, format, by="majority"):
        """Writes the labels of `schema` at the dataset's commit: jsonl/csv (every annotation) or coco/yolo (one label per image)."""
        return self._run("export", "-d", self.name, "--schema", schema, "--format", format, "--by", by, "--ref", self.dataset.commit,
                         "-o", str(path)).strip()


def encode(schema, values):
    """Stored label values (None where a row has none) as a training array for the schema's kind:
    class → int64 class index (-1 = none), multilabel → float32 multi-hot rows, rating → float64 (NaN = none),
    others → objects (parsed JSON for shapes, text for text)."""
    kind, classes = schema["kind"], schema.get("classes") or []
    if kind == "class":
        index = {c: i for i, c in enumerate(classes)}
        return np.fromiter((-1 if v is None else index[v] for v in values), dtype=np.int64, count=len(values))
    if kind == "multilabel":
        index = {c: i for i, c in enumerate(classes)}
        out = np.zeros((len(values), len(classes)), dtype=np.float32)
        for r, v in enumerate(values):
            for c in json.loads(v) if v is not None else []:
                out[r, index[c]] = 1
        return out
    if kind == "rating":
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v is None else (v if kind == "text" else json.loads(v)) for v in values]
    return out


class RemoteLabels:
    """The labels of a dataset on a server (loam.connect), through the label routes; the same reads and writes as Labels."""

    def __init__(self, dataset):
        self.dataset, self.repo, self.name = dataset, dataset._repo, dataset.name
        self.path = f"/api/v1/datasets/{dataset.name}/labels"

    def schemas(self):
        return {s["name"]: s for s in self.repo.get_json(self.path + "/schemas", ref=self.dataset.commit)}

    def to_arrow(self, schema=None):
        rows = self.repo.get_json(self.path, schema=schema, ref=self.dataset.commit)
        return pa.Table.from_pylist(rows) if rows else pa.table({"row_id": pa.array([], pa.uint64())})

    def to_pandas(self, schema=None):
        return self.to_arrow(schema).to_pandas()

    def gather(self, schema, by="majority"):
        return {int(r["row_id"]): r["value"] for r in self.repo.get_json(self.path, schema=schema, by=by, ref=self.dataset.commit)}

    def agreement(self, schema, weights="none"):
        return self.repo.get_json(self.path + "/agreement", schema=schema, weights=weights, ref=self.dataset.commit)

    def define(self, name, kind, classes=None, **options):
        camel = {"image_column": "imageColumn", "width_column": "widthColumn", "height_column": "heightColumn",
                 "text_column": "textColumn", "allow_overlap": "allowOverlap"}
        body = {"name": name, "kind": kind, **({"classes": list(classes)} if classes is not None else {}),
                **{camel.get(k, k): v for k, v in options.items()}}
        return json.loads(self.repo.request("POST", self.path + "/schemas", body=body)[2])

    def add(self, schema, rows, values, annotator=None, source="human", model=None, scores=None, status=None, task=None):
        """As Labels.add; a person's labels are the token user's own (`annotator` names only model and import labels)."""
        labels = []
        for i, (row, value) in enumerate(zip(rows, values)):
            label = {"row_id": int(row), "value": value, "source": source, "model": model, "status": status, "task": task}
            if annotator is not None:
                label["annotator"] = annotator
            if scores is not None:
                label["score"] = float(scores[i])
            labels.append({k: v for k, v in label.items() if v is not None or k == "value"})
        return json.loads(self.repo.request("POST", self.path, body={"schema": schema, "labels": labels})[2])

    def export(self, schema, path, format, by="majority"):
        payload = self.repo.request("GET", self.path + "/export", {"schema": schema, "format": format, "by": by, "ref": self.dataset.commit})[2]
        with open(path, "wb") as f:
            f.write(payload)


class LabelTask:
    """A labelling task: `repo.create_label_task(...)` or `repo.label_task(id)`, on a local repository (you act as
    LOAM_AUTHOR) or a server (you act as the token's user). Every step checks your role in the task."""

    def __init__(self, backend, task_id):
        self.backend, self.id = backend, task_id

    def __repr__(self):
        return f"<loam.LabelTask {self.id}>"

    def info(self):
        return self.backend.task(self.id)

    def add_member(self, user, role="annotator"):
        return self.backend.call("POST", self.id, "members", body={"user": user, "role": role})

    def next(self):
        """Your next item: {"item": {row_id, position, needed, uncertainty, yours, suggestion}, "row": {…}}, item None when done."""
        return self.backend.call("GET", self.id, "next")

    def submit(self, row, value):
        return self.backend.call("POST", self.id, f"items/{int(row)}/submit", body={"value": value})

    def skip(self, row):
        return self.backend.call("POST", self.id, f"items/{int(row)}/skip", body={})

    def resolve(self, row, value):
        return self.backend.call("POST", self.id, f"items/{int(row)}/resolve", body={"value": value})

    def progress(self):
        return self.backend.call("GET", self.id, "progress")

    def disagreements(self, all=False):  # noqa: A002 (the route's ?all=)
        return self.backend.call("GET", self.id, "disagreements" + ("?all=true" if all else ""))

    def agreement(self):
        """The engine's agreement among this task's annotators (reviewers and managers)."""
        return self.backend.call("GET", self.id, "agreement")


class RemoteTasks:
    """Task steps as REST calls."""

    def __init__(self, repo):
        self.repo = repo

    def task(self, task_id):
        return self.repo.get_json(f"/api/v1/label-tasks/{task_id}")

    def call(self, method, task_id, step, body=None):
        path, _, query = step.partition("?")
        query = dict(q.split("=", 1) for q in query.split("&")) if query else None
        return json.loads(self.repo.request(method, f"/api/v1/label-tasks/{task_id}/{path}", query, body)[2])


class LocalTasks:
    """Task steps through the `loam` binary, as LOAM_AUTHOR (else your user name)."""

    def __init__(self, root):
        self.root = root

    def run(self, *args):
        done = subprocess.run([_binary(), "label", "task", *args, "--repo", self.root], capture_output=True, text=True)
        if done.returncode != 0:
            raise LoamError(done.stderr.strip().removeprefix("loam: error: ") or f"loam label task {args[0]} failed")
        return done.stdout

    def task(self, task_id):
        return next(t for t in json.loads(self.run("list", "--json")) if t["id"] == task_id)

    def call(self, method, task_id, step, body=None):
        path, _, query = step.partition("?")
        parts = path.split("/")
        if parts[0] == "members":
            self.run("member", task_id, body["user"], body["role"])
            return body
        if parts[0] == "items":
            row, action = parts[1], parts[2]
            if action == "skip":
                self.run("skip", task_id, row)
                return {"skipped": True}
            value = body["value"]
            self.run(action, task_id, row, value if isinstance(value, str) else json.dumps(value))
            return {"row_id": int(row)}
        if parts[0] == "disagreements":
            return json.loads(self.run("disagreements", task_id, "--json", *(["--all"] if query else [])))
        if parts[0] == "next":
            item = json.loads(self.run("next", task_id, "--json"))
            return {"item": item}
        if parts[0] == "progress":
            return json.loads(self.run("progress", task_id, "--json"))
        return json.loads(self.run("agreement", task_id))
