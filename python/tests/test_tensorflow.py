"""tf.data through the same loader (skipped without tensorflow)."""
import numpy as np
import pytest

import loam

tf = pytest.importorskip("tensorflow")


def test_tf_dataset_gives_the_numpy_batches(history):
    ds = loam.open(history).dataset("t")
    data = ds.to_tf(["id", "emb", "body"], batch_size=100, seed=2, epoch=1)
    got = list(data.as_numpy_iterator())
    want = list(ds.to_numpy(["id", "emb", "body"], batch_size=100, seed=2, epoch=1))
    assert len(got) == len(want) and len(got) > 1
    for g, w in zip(got, want):
        assert np.array_equal(g["id"], w["id"]) and np.array_equal(g["emb"], w["emb"])
        assert g["emb"].dtype == np.float32 and g["emb"].shape[1] == 8
        assert [b.decode() for b in g["body"]] == ["" if v is None else v for v in w["body"]]
    assert sorted(int(i) for b in got for i in b["id"]) == sorted(ds.to_arrow(["id"]).column("id").to_pylist())
