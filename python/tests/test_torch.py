"""The same properties through a real torch DataLoader, with worker processes (skipped without torch)."""
import multiprocessing

import pytest

import loam

torch = pytest.importorskip("torch")
import loam.torch  # noqa: E402  (needs torch)


def ids(loader):
    return [int(i) for batch in loader for i in batch["id"]]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_two_workers_see_every_row_once_in_the_numpy_order(history, context):
    ds = loam.open(history).dataset("t")
    expected = [int(i) for b in ds.to_numpy(["id"], batch_size=64, seed=4, epoch=0) for i in b["id"]]
    data = ds.to_torch(["id", "emb"], batch_size=64, seed=4)
    loader = loam.torch.DataLoader(data, num_workers=2, multiprocessing_context=multiprocessing.get_context(context))
    got = ids(loader)
    assert got == expected
    first = next(iter(loader))
    assert isinstance(first["id"], torch.Tensor) and first["emb"].shape == (64, 8) and first["emb"].dtype == torch.float32
    assert len(data) == (len(ds) + 63) // 64


def test_ranks_split_the_epoch_and_set_epoch_reshuffles(history):
    ds = loam.open(history).dataset("t")
    seen, counts = [], []
    for rank in range(3):
        data = ds.to_torch(["id"], batch_size=32, seed=1, rank=rank, world_size=3)
        batches = [[int(i) for i in b["id"]] for b in loam.torch.DataLoader(data, num_workers=2)]
        counts.append(len(batches))
        seen += [i for b in batches for i in b]
    # Every rank takes the same number of batches (DDP would hang otherwise); the last global
    # batch is padded by wrapping to the epoch's first rows, as DistributedSampler pads.
    assert len(set(counts)) == 1
    every = ds.to_arrow(["id"]).column("id").to_pylist()
    assert set(seen) == set(every) and len(seen) - len(every) < 3
    data = ds.to_torch(["id"], batch_size=32, seed=1)
    loader = loam.torch.DataLoader(data, num_workers=0)
    first = ids(loader)
    data.set_epoch(1)
    second = ids(loader)
    assert first != second and sorted(first) == sorted(second)


@pytest.mark.parametrize("workers", [0, 2])
def test_state_dict_resumes_mid_epoch_exactly(history, workers):
    ds = loam.open(history).dataset("t")
    data = ds.to_torch(["id"], batch_size=50, seed=9)
    data.set_epoch(3)
    loader = loam.torch.DataLoader(data, num_workers=workers)
    full = ids(loader)
    data.set_epoch(3)
    taken = []
    for i, batch in enumerate(loader):
        taken += [int(x) for x in batch["id"]]
        if i == 6:
            break
    state = loader.state_dict()
    assert state == {"seed": 9, "epoch": 3, "batch": 7}
    fresh = ds.to_torch(["id"], batch_size=50, seed=9)
    again = loam.torch.DataLoader(fresh, num_workers=workers)
    again.load_state_dict(state)
    assert taken + ids(again) == full
    with pytest.raises(ValueError, match="seed"):
        again.load_state_dict({"seed": 1, "epoch": 0, "batch": 0})
