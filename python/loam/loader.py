"""Batches for training: the epoch's order (loam.shuffle), this rank's and worker's share, read as gathers."""
import numpy as np

from .errors import LoamError
from .shuffle import ShufflePlan, shard_batches


def resolve_classes(dataset, classes):
    """{column: class names}: names given, or (None) the column's distinct values, sorted, as torchvision's ImageFolder orders them."""
    if classes is None:
        return None
    if isinstance(classes, str):
        classes = {classes: None}
    elif isinstance(classes, (list, tuple)):
        classes = {name: None for name in classes}
    return {name: list(names) if names is not None else dataset.classes(name) for name, names in classes.items()}


def encode_classes(batch, classes):
    """Each column named in `classes` as int64 class indices (-1 for null); a value outside the names is an error."""
    for name, names in (classes or {}).items():
        if name not in batch:
            continue
        index = {n: i for i, n in enumerate(names)}
        values = batch[name]
        try:
            batch[name] = np.fromiter((-1 if v is None else index[v] for v in values), dtype=np.int64, count=len(values))
        except KeyError as e:
            raise LoamError(f"column '{name}' holds {e.args[0]!r}, which is not among its {len(names)} classes") from None
    return batch


class Loader:
    def __init__(self, dataset, columns=None, batch_size=256, shuffle=True, seed=0, drop_last=False,
                 block_rows=1024, window_blocks=64, classes=None):
        self.dataset, self.columns, self.batch_size = dataset, columns, batch_size
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.block_rows, self.window_blocks = block_rows, window_blocks
        dataset._indices(columns)  # an unknown column fails here, not in a worker
        # Class names → indices: {"label": None} (the sorted distinct labels) or {"label": ["cat", "dog"]}.
        self.classes = resolve_classes(dataset, classes)

    def describe(self, epoch, rank, world_size, start):
        """What a run's lineage records about a read: enough to give back the same batches."""
        read = {"columns": list(self.columns) if self.columns is not None else None, "batch_size": self.batch_size,
                "shuffle": self.shuffle, "seed": self.seed, "epoch": epoch, "drop_last": self.drop_last, "rank": rank,
                "world_size": world_size, "start_batch": start, "block_rows": self.block_rows, "window_blocks": self.window_blocks}
        split = getattr(self.dataset, "split_read", None)
        if split is not None:
            read["split"] = split
        return read

    def plan(self, epoch):
        return ShufflePlan(len(self.dataset), self.seed, epoch, self.shuffle, self.block_rows, self.window_blocks)

    def schedule(self, epoch=0, rank=0, world_size=1, start=0, worker=0, workers=1):
        """(batch index, row positions) of this rank's batches from batch `start` on that fall to `worker`."""
        plan = self.plan(epoch)
        for k, a, b in shard_batches(len(self.dataset), self.batch_size, rank, world_size, self.drop_last):
            if k < start or (k - start) % workers != worker or a >= b:
                continue
            yield k, plan.positions(a, b)

    def batch_count(self, rank=0, world_size=1, start=0):
        """This rank's non-empty batches from batch `start` on (the same in every epoch)."""
        return sum(1 for k, a, b in shard_batches(len(self.dataset), self.batch_size, rank, world_size, self.drop_last) if k >= start and a < b)

    def numbered(self, epoch=0, rank=0, world_size=1, start=0, worker=0, workers=1):
        """(batch index, dict of NumPy arrays) for this rank's and worker's batches."""
        if not self.shuffle:  # places are rows: each batch is one run of rows, read as NumPy views
            for k, a, b in shard_batches(len(self.dataset), self.batch_size, rank, world_size, self.drop_last):
                if k >= start and (k - start) % workers == worker and a < b:
                    yield k, encode_classes(self.dataset.numpy_rows(a, b, self.columns), self.classes)
            return
        for k, positions in self.schedule(epoch, rank, world_size, start, worker, workers):
            yield k, encode_classes(self.dataset.numpy_take(positions, self.columns), self.classes)

    def batches(self, epoch=0, rank=0, world_size=1, start=0, worker=0, workers=1):
        """Dicts of NumPy arrays, one per batch."""
        for _, batch in self.numbered(epoch, rank, world_size, start, worker, workers):
            yield batch
