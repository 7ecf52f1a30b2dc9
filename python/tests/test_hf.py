"""Hugging Face datasets saved with `save_to_disk` (a Dataset, and a DatasetDict by split), imported by
`loam import` with their ClassLabel names kept, and given back by `ds.to_hf()` with the same features."""
import subprocess

import pytest

import loam
from conftest import LOAM, exported, loam as run

datasets = pytest.importorskip("datasets")


@pytest.fixture
def saved(tmp_path):
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos", "neutral"]),
                                  "tokens": datasets.Sequence(datasets.Value("int32")), "score": datasets.Value("float32")})
    n = 2500
    ds = datasets.Dataset.from_dict({"text": [None if i % 7 == 0 else f"review {i} é" for i in range(n)], "label": [i % 3 for i in range(n)],
                                     "tokens": [list(range(i % 5)) for i in range(n)], "score": [i / 8 for i in range(n)]}, features=features)
    ds.save_to_disk(str(tmp_path / "single"), max_shard_size="40KB")  # several Arrow files
    datasets.DatasetDict({"train": ds, "test": ds.select(range(100))}).save_to_disk(str(tmp_path / "dict"))
    return tmp_path, ds


def test_saved_datasets_import_with_class_names_and_come_back(tmp_path, saved):
    folder, original = saved
    assert len(list((folder / "single").glob("*.arrow"))) > 1
    run("init", str(tmp_path / "repo"))
    repo = tmp_path / "repo"
    run("import", str(folder / "single"), "-d", "reviews", repo=repo)
    got = exported(repo, "reviews", "HEAD")
    want = original.data.table
    for name in want.column_names:
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name
    assert got.schema.field("label").metadata[b"hf.class_names"] == b'["neg","pos","neutral"]'
    back = loam.open(str(repo)).dataset("reviews").to_hf()
    assert back.features["label"] == original.features["label"] and back.features["label"].int2str(2) == "neutral"
    assert back[5] == original[5] and len(back) == len(original)

    done = subprocess.run([LOAM, "import", str(folder / "dict"), "-d", "x", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode == 1 and "choose one with --split" in done.stderr and "train, test" in done.stderr, done.stderr
    run("import", str(folder / "dict"), "-d", "test", "--split", "test", repo=repo)
    assert exported(repo, "test", "HEAD").column("text").to_pylist() == want.column("text").to_pylist()[:100]
    done = subprocess.run([LOAM, "import", str(folder / "dict"), "-d", "x", "--split", "validation", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode == 1 and "no split 'validation'" in done.stderr, done.stderr


def test_a_folder_of_the_hugging_face_cache_imports_by_split(tmp_path, monkeypatch):
    """What `load_dataset` leaves in its cache: dataset_info.json beside one Arrow file (or shards) per split."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    for split, rows in [("train", range(0, 300)), ("test", range(300, 340))]:
        (tmp_path / f"{split}.csv").write_text("text,label\n" + "".join(f"row {i} ü,{['neg', 'pos'][i % 2]}\n" for i in rows))
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    loaded = datasets.load_dataset("csv", data_files={"train": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv")},
                                   features=features, cache_dir=str(tmp_path / "cache"))
    [cached] = {f["filename"].rsplit("/", 1)[0] for f in loaded["train"].cache_files}
    assert any(name.endswith("-train.arrow") for name in __import__("os").listdir(cached))
    run("init", str(tmp_path / "repo"))
    repo = tmp_path / "repo"
    done = subprocess.run([LOAM, "import", cached, "-d", "x", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode != 0 and "choose one with --split" in done.stderr and "test, train" in done.stderr, done.stderr
    for split in ["train", "test"]:
        run("import", cached, "-d", split, "--split", split, repo=repo)
        got = exported(repo, split, "HEAD")
        assert got.column("text").to_pylist() == loaded[split]["text"] and got.column("label").to_pylist() == loaded[split]["label"]
        assert got.schema.field("label").metadata[b"hf.class_names"] == b'["neg","pos"]'
    done = subprocess.run([LOAM, "import", cached, "-d", "y", "--split", "validation", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode != 0 and "no split 'validation'" in done.stderr, done.stderr


def test_image_features_import_as_bytes_and_path_and_come_back_as_images(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    import io

    import numpy as np
    pictures = [pil.fromarray(np.full((4, 6, 3), i * 40, np.uint8)) for i in range(5)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog"])})
    original = datasets.Dataset.from_dict({"image": pictures, "label": [0, 1, 1, 0, 1]}, features=features)
    original.save_to_disk(str(tmp_path / "saved"))
    run("init", str(tmp_path / "repo"))
    run("import", str(tmp_path / "saved"), "-d", "pics", repo=tmp_path / "repo")
    got = exported(tmp_path / "repo", "pics", "HEAD")
    assert str(got.schema.field("image").type) == "struct<bytes: binary, path: string>"
    first = pil.open(io.BytesIO(got.column("image")[0].as_py()["bytes"]))
    assert np.array_equal(np.asarray(first), np.asarray(pictures[0]))
    back = loam.open(str(tmp_path / "repo")).dataset("pics").to_hf()
    assert back.features == original.features
    assert np.array_equal(np.asarray(back[3]["image"]), np.asarray(pictures[3])) and back[3]["label"] == 0
