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
