"""Folder imports as ImageFolder users expect them: choosing files by extension or media type,
and labels turned into class indices (sorted names, as torchvision orders them) in the loaders."""
import subprocess

import numpy as np
import pytest

import loam
from conftest import LOAM, exported, loam as run


def test_folder_import_filters_by_extension_and_media_type(tmp_path):
    root = tmp_path / "pets"
    for label, names in {"cat": ["a.jpg", "b.PNG", "notes.txt"], "dog": ["c.jpeg", "d.wav", "README"]}.items():
        (root / label).mkdir(parents=True)
        for name in names:
            (root / label / name).write_bytes(name.encode() * 3)
    run("init", str(tmp_path / "repo"))
    repo = tmp_path / "repo"
    run("import", str(root), "-d", "images", "--media-types", "image/*", repo=repo)
    got = exported(repo, "images", "HEAD")
    assert sorted(got.column("path").to_pylist()) == ["cat/a.jpg", "cat/b.PNG", "dog/c.jpeg"]
    assert set(got.column("media_type").to_pylist()) == {"image/jpeg", "image/png"}
    run("import", str(root), "-d", "text", "--extensions", "txt,wav", repo=repo)
    assert sorted(exported(repo, "text", "HEAD").column("path").to_pylist()) == ["cat/notes.txt", "dog/d.wav"]
    done = subprocess.run([LOAM, "import", str(root), "-d", "none", "--extensions", "tiff", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode == 1 and "no file matches" in done.stderr and ".jpg × 1" in done.stderr, done.stderr
    done = subprocess.run([LOAM, "import", str(root / "cat" / "a.jpg"), "-d", "x", "--extensions", "jpg", "--repo", str(repo)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "not a folder" in done.stderr, done.stderr


def test_folder_labels_become_class_indices_in_loaders(tmp_path):
    root = tmp_path / "pets"
    counts = {"dog": 3, "cat": 5, "bird": 2}
    for label, n in counts.items():
        (root / label).mkdir(parents=True)
        for i in range(n):
            (root / label / f"{i}.png").write_bytes(bytes([i]) * 10)
    (root / "loose.png").write_bytes(b"x")  # at the top: no label
    run("init", str(tmp_path / "repo"))
    run("import", str(root), "-d", "pets", repo=tmp_path / "repo")
    ds = loam.open(str(tmp_path / "repo")).dataset("pets")
    assert ds.classes() == ["bird", "cat", "dog"] and ds.class_to_idx() == {"bird": 0, "cat": 1, "dog": 2}
    batches = list(ds.to_numpy(["path", "label"], batch_size=4, seed=3, classes="label"))
    labels = np.concatenate([b["label"] for b in batches])
    paths = [p for b in batches for p in b["path"]]
    assert labels.dtype == np.int64
    for path, label in zip(paths, labels):
        want = -1 if "/" not in path else ds.class_to_idx()[path.split("/")[0]]
        assert label == want, (path, label)
    # Names given explicitly: a label outside them is an error naming it.
    with pytest.raises(loam.LoamError, match="'dog'"):
        list(ds.to_numpy(["label"], batch_size=4, classes={"label": ["bird", "cat"]}))
