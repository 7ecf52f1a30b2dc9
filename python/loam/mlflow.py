"""Loam datasets as MLflow datasets, so any MLflow run records what it read (needs `mlflow`).

    import mlflow, loam.mlflow
    with mlflow.start_run():                                    # against any tracking server
        for batch in ds.to_numpy(["x", "y"], seed=1, epoch=0):  # logged as the run's input, by itself
            ...
        mlflow.log_input(loam.mlflow.dataset(ds), context="eval")  # or by hand

The input's source is the read record of `loam.tracking` (dataset, commit, columns, seed, epoch,
batch size, shard) with source type "loam": against `loam serve`, `loam runs show` prints it and
`loam runs reproduce` gives back the same batches; any MLflow server shows it in its UI.
"""
import json

from mlflow.data.dataset import Dataset
from mlflow.data.dataset_source import DatasetSource


class LoamDatasetSource(DatasetSource):
    """Where a read came from: the dataset, its exact commit and how it was read."""

    def __init__(self, record):
        self.record = dict(record)

    @staticmethod
    def _get_source_type():
        return "loam"

    def load(self, dst_path=None):
        raise NotImplementedError("open the repository with loam.open or loam.connect and read "
                                  f"dataset {self.record['dataset']!r} at commit {self.record['commit'][:12]}")

    @staticmethod
    def _can_resolve(raw_source):
        return False

    @classmethod
    def _resolve(cls, raw_source):
        raise NotImplementedError("a Loam source is made from a dataset: loam.mlflow.dataset(ds)")

    def to_dict(self):
        return dict(self.record)

    @classmethod
    def from_dict(cls, source_dict):
        return cls(source_dict)


class LoamDataset(Dataset):
    """A Loam dataset at one commit, as MLflow logs it (digest: the commit's first 12 hex digits)."""

    def __init__(self, dataset, record):
        self._columns = list(record.get("columns") or dataset.schema.names)
        self._rows = len(dataset)
        super().__init__(LoamDatasetSource(record), name=dataset.name, digest=dataset.commit[:12])

    def _compute_digest(self):
        return self.source.record["commit"][:12]

    @property
    def schema(self):
        return {"columns": self._columns}

    @property
    def profile(self):
        return {"num_rows": self._rows}

    def to_dict(self):
        out = super().to_dict()
        out["schema"] = json.dumps(self.schema)
        out["profile"] = json.dumps(self.profile)
        return out


def dataset(ds, **read):
    """An MLflow Dataset for `ds` (a loam Dataset at its commit); `read` adds how it was read."""
    return LoamDataset(ds, {"dataset": ds.name, "commit": ds.commit, **read})


def record_read(ds, **read):
    """Logs a training read as an input of MLflow's active run, once per run and read; False when none is active."""
    import mlflow
    active = mlflow.active_run()
    if active is None:
        return False
    key = (active.info.run_id, json.dumps({"dataset": ds.name, "commit": ds.commit, **read}, sort_keys=True))
    if key not in _logged:
        _logged.add(key)
        mlflow.log_input(dataset(ds, **read), context="training", tags={"loam.read": key[1]})
    return True


_logged = set()
