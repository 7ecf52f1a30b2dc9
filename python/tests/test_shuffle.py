"""The epoch order: exactly once, deterministic, elastic, resumable (loam/shuffle.py)."""
import json
import os

import numpy as np
import pytest

import loam
from loam.shuffle import ShufflePlan, mix, shard_batches


def ids_of(batches):
    return [int(i) for b in batches for i in b["id"]]


@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_every_row_at_least_once_and_every_rank_the_same_batches(history, world):
    ds = loam.open(history).dataset("t")
    seen, shapes = [], []
    for rank in range(world):
        batches = list(ds.to_numpy(["id"], batch_size=37, seed=5, epoch=1, rank=rank, world_size=world, block_rows=64, window_blocks=4))
        seen += ids_of(batches)
        shapes.append([len(b["id"]) for b in batches])
    everything = sorted(ds.to_arrow(["id"]).column("id").to_pylist())
    # Equal batch counts and sizes on every rank (a DDP job cannot hang on a rank that ran out) ...
    assert all(s == shapes[0] for s in shapes), shapes
    # ... every row read, and only the padding of the last batch (fewer than one row per rank) read twice.
    assert sorted(set(seen)) == everything and len(seen) - len(everything) < world
    if world == 1:
        assert sorted(seen) == everything


@pytest.mark.parametrize("n", [1, 5, 37, 100, 101])
@pytest.mark.parametrize("world", [2, 3, 7])
def test_equal_batches_per_rank_for_any_size(n, world):
    for drop_last in (False, True):
        shards = [shard_batches(n, 4, r, world, drop_last) for r in range(world)]
        assert len({len(s) for s in shards}) == 1
        assert len({tuple(c - a for _, a, c in s) for s in shards}) == 1
        places = [p for s in shards for _, a, c in s for p in range(a, c)]
        plan = ShufflePlan(n, seed=1, block_rows=4, window_blocks=2)
        rows = [int(r) for _, a, c in (b for s in shards for b in s) for r in plan.positions(a, c)]
        if drop_last:
            assert len(places) == len(set(places)) == (n // (4 * world)) * 4 * world
        else:
            assert set(rows) == set(range(n)) and len(rows) - n < world


def test_same_seed_same_order_and_other_epochs_or_seeds_differ(history):
    ds = loam.open(history).dataset("t")
    order = lambda seed, epoch: ids_of(ds.to_numpy(["id"], batch_size=100, seed=seed, epoch=epoch))
    first = order(7, 0)
    assert first == order(7, 0)
    assert first != order(7, 1) and sorted(first) == sorted(order(7, 1))
    assert first != order(8, 0)
    assert first != sorted(first), "a shuffled epoch came out in dataset order"
    plain = ids_of(ds.to_numpy(["id"], batch_size=100, shuffle=False))
    assert plain == ds.to_arrow(["id"]).column("id").to_pylist()


def test_global_batches_do_not_depend_on_the_number_of_ranks(history):
    ds = loam.open(history).dataset("t")
    global_batch = 96

    def global_batches(world):
        per_rank = [list(ds.to_numpy(["id"], batch_size=global_batch // world, seed=3, rank=r, world_size=world, drop_last=True))
                    for r in range(world)]
        return [sorted(int(i) for r in range(world) for i in per_rank[r][k]["id"]) for k in range(len(per_rank[0]))]

    one = global_batches(1)
    assert one == global_batches(2) == global_batches(4) == global_batches(8)
    assert len(one) == len(ds) // global_batch  # drop_last: the partial global batch is gone


def test_workers_split_a_ranks_batches_round_robin(history):
    ds = loam.open(history).dataset("t")
    loader = loam.loader.Loader(ds, ["id"], batch_size=50, seed=2)
    whole = list(loader.schedule(epoch=0, rank=1, world_size=2))
    for workers in (2, 3):
        parts = [list(loader.schedule(epoch=0, rank=1, world_size=2, worker=w, workers=workers)) for w in range(workers)]
        merged = sorted((k, tuple(p)) for part in parts for k, p in part)
        assert merged == [(k, tuple(p)) for k, p in whole]


def test_resuming_mid_epoch_repeats_and_skips_nothing(history):
    ds = loam.open(history).dataset("t")
    full = list(ds.to_numpy(["id"], batch_size=64, seed=11, epoch=2))
    for cut in (0, 1, 17, len(full) - 1, len(full)):
        resumed = list(ds.to_numpy(["id"], batch_size=64, seed=11, epoch=2, start_batch=cut))
        assert ids_of(full[:cut]) + ids_of(resumed) == ids_of(full)


def test_plan_is_a_permutation_with_bounded_windows():
    for n in (0, 1, 1023, 1024, 1025, 100_000):
        plan = ShufflePlan(n, seed=9, epoch=4, block_rows=128, window_blocks=8)
        order = plan.positions(0, n)
        assert sorted(order.tolist()) == list(range(n))
        # A window holds at most window_blocks × block_rows rows.
        assert all(len(plan.window(w)) <= 8 * 128 for w in range(len(plan._window_starts) - 1))
        if n > 2:
            assert plan[n // 2] == order[n // 2]
    # The keys are SplitMix64, fixed: the same on every machine and numpy version.
    assert int(mix(0, 0, 0, 0)) == int(mix(0, 0, 0, np.array([0]))[0])
    assert [int(k) % 1000 for k in mix(1, 2, 3, np.arange(3))] == [int(mix(1, 2, 3, i)) % 1000 for i in range(3)]


def test_shards_split_the_final_partial_batch_evenly():
    n, b, world = 10, 3, 2
    slices = [shard_batches(n, b, r, world) for r in range(world)]
    covered = sorted(p for s in slices for _, a, c in s for p in range(a, c))
    assert covered == list(range(n))
    assert [s[-1][2] - s[-1][1] for s in slices] == [2, 2]
    assert [len(s) for s in (shard_batches(n, b, r, world, drop_last=True) for r in range(world))] == [1, 1]
    with pytest.raises(ValueError):
        shard_batches(10, 3, rank=2, world_size=2)


def test_known_answers_of_the_specification():
    """docs/SHUFFLE.md's known answers; the Swift tests check the same file."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "shuffle-vectors.json")
    with open(path) as f:
        vectors = json.load(f)
    for v in vectors["mix"]:
        assert int(mix(v["seed"], v["epoch"], v["level"], v["index"])) == int(v["key"]), v
    for v in vectors["orders"]:
        plan = ShufflePlan(v["rows"], seed=v["seed"], epoch=v["epoch"], shuffle=v["shuffle"], block_rows=v["block_rows"], window_blocks=v["window_blocks"])
        assert [int(r) for r in plan.positions(0, v["rows"])] == v["order"], v
    for v in vectors["shards"]:
        got = shard_batches(v["rows"], v["batch_size"], v["rank"], v["world_size"], v["drop_last"])
        assert [list(b) for b in got] == v["batches"], v
