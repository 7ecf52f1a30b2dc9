"""Loam from Python.

    import loam
    repo = loam.open("path/to/repo")            # local: reads the folder directly, zero copies
    repo = loam.connect("http://host:8080", token="loam_…")   # the same API over `loam serve`
    ds = repo.dataset("reviews", ref="v1")
    len(ds), ds[0], ds[10:20], ds.take([5, 1, 9]), ds.to_arrow()
    for batch in ds.to_numpy(["label", "embedding"], batch_size=256, seed=1, epoch=0): ...
    torch_ds = ds.to_torch(["label", "embedding"], batch_size=256, seed=1)
"""
from .errors import LoamError, ServerError
from .local import LocalRepository
from .remote import RemoteRepository
from . import loader
from .shuffle import ShufflePlan, shard_batches

__all__ = ["open", "connect", "LoamError", "ServerError", "LocalRepository", "RemoteRepository", "ShufflePlan", "shard_batches"]
__version__ = "0.1.0"


def open(path="."):  # noqa: A001 (the package's entry point, like io.open)
    """A local repository: `path` or the nearest parent folder holding `.loam/`."""
    return LocalRepository(path)


def connect(url, token=None, timeout=300, cafile=None):
    """A repository served by `loam serve` at `url`, with a bearer token from `loam token create`. Over https the
    server's certificate is checked against the system's trusted ones, or `cafile` (PEM) when given."""
    return RemoteRepository(url, token=token, timeout=timeout, cafile=cafile)
