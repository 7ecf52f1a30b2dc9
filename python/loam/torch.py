"""PyTorch: an IterableDataset of batches that shards across DataLoader workers and
distributed ranks, and a DataLoader that saves and resumes its place mid-epoch.

    ds = repo.dataset("train").to_torch(["label", "embedding"], batch_size=256, seed=1)
    loader = loam.torch.DataLoader(ds, num_workers=2)
    for epoch in range(3):
        ds.set_epoch(epoch)
        for batch in loader: ...                 # dicts of tensors
        state = loader.state_dict()              # {"seed", "epoch", "batch"}: resume with load_state_dict

`sample_transform` runs on each row (a dict of its values: NumPy scalars and rows, bytes, str) in the
worker, and its results are collated as torch's default_collate does (tensors stacked); `transform`
then runs on the whole batch. Decoding and augmenting images is a sample transform (see README).
"""
import torch
import torch.utils.data

from .loader import Loader
from .tracking import note_read


def _tensor(values):
    if values.dtype == object:
        return list(values)  # text and nested values stay Python objects
    return torch.from_numpy(values if values.flags.writeable else values.copy())


class LoamIterableDataset(torch.utils.data.IterableDataset):
    """Batches (dicts of tensors) in the seeded global order (see loam.shuffle), this rank's
    share only: `rank`/`world_size` when given, else torch.distributed's, else the whole epoch.
    Each DataLoader worker reads its own batches; fork and spawn both work."""

    def __init__(self, dataset, columns, batch_size, shuffle, seed, drop_last, transform, rank, world_size, plan,
                 sample_transform=None):
        super().__init__()
        self.loader = Loader(dataset, columns, batch_size, shuffle, seed, drop_last, **plan)
        self.transform, self.sample_transform, self.rank, self.world_size = transform, sample_transform, rank, world_size
        self.epoch, self.start, self.taken = 0, 0, 0

    def placement(self):
        if self.rank is not None and self.world_size is not None:
            return self.rank, self.world_size
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def set_epoch(self, epoch):
        """The next iteration walks epoch `epoch` from its start (a different order per epoch)."""
        self.epoch, self.start, self.taken = epoch, 0, 0

    def __len__(self):
        """This rank's batches left in the epoch (all workers together)."""
        rank, world = self.placement()
        return self.loader.batch_count(rank, world, self.start)

    def __iter__(self):
        rank, world = self.placement()
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for k, arrays in self.loader.numbered(self.epoch, rank, world, self.start, worker, workers):
            if self.sample_transform is None:
                batch = {name: _tensor(values) for name, values in arrays.items()}
            else:
                rows = len(next(iter(arrays.values()))) if arrays else 0
                batch = torch.utils.data.default_collate(
                    [self.sample_transform({name: values[i] for name, values in arrays.items()}) for i in range(rows)])
            if self.transform is not None:
                batch = self.transform(batch)
            if info is None:
                self.taken = k + 1
            yield batch

    def state_dict(self):
        """Where the training loop is: resume with load_state_dict and no row is seen twice or skipped."""
        return {"seed": self.loader.seed, "epoch": self.epoch, "batch": self.taken}

    def load_state_dict(self, state):
        if state["seed"] != self.loader.seed:
            raise ValueError(f"this state is for seed {state['seed']}, the dataset shuffles with seed {self.loader.seed}")
        self.epoch, self.start, self.taken = state["epoch"], state["batch"], state["batch"]


class DataLoader(torch.utils.data.DataLoader):
    """A DataLoader over a LoamIterableDataset (batch_size=None: the dataset batches) that counts the
    batches the loop has taken, so `state_dict()` is exact with any number of workers."""

    def __init__(self, dataset, **kwargs):
        if not isinstance(dataset, LoamIterableDataset):
            raise TypeError("loam.torch.DataLoader takes the dataset from Dataset.to_torch()")
        kwargs.setdefault("batch_size", None)
        super().__init__(dataset, **kwargs)

    def __iter__(self):
        ds = self.dataset
        rank, world = ds.placement()
        note_read(ds.loader.dataset, **ds.loader.describe(ds.epoch, rank, world, ds.start))
        for batch in super().__iter__():
            if self.num_workers > 0:  # batches arrive in order: start, start + 1, … (without workers the dataset counts)
                ds.taken += 1
            yield batch

    def state_dict(self):
        return self.dataset.state_dict()

    def load_state_dict(self, state):
        self.dataset.load_state_dict(state)
