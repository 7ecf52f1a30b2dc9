"""A real image pipeline: PNG and JPEG files imported from class folders, decoded with Pillow and
resized in a per-sample transform inside two DataLoader worker processes, normalized in a per-batch
transform. Each tensor is checked against the same file decoded independently (skipped without torch)."""
import io

import numpy as np
import pytest

import loam
from conftest import loam as run

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")
import loam.torch  # noqa: E402  (needs torch)

SIDE = 12
MEAN, STD = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1), torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)


def decode(data):
    """bytes of a PNG or JPEG → float32 tensor (3, SIDE, SIDE) in [0, 1]."""
    image = Image.open(io.BytesIO(data)).convert("RGB").resize((SIDE, SIDE), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255


def sample(row):
    return {"image": decode(row["bytes"]), "label": int(row["label"]), "path": row["path"]}


def normalize(batch):
    batch["image"] = (batch["image"] - MEAN) / STD
    return batch


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(5)
    files = {}
    for label, count in {"cat": 9, "dog": 7, "eel": 4}.items():
        (root / "images" / label).mkdir(parents=True)
        for i in range(count):
            h, w = rng.integers(8, 40, size=2)
            pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            kind = "PNG" if i % 2 else "JPEG"
            name = f"{label}/{i}.{'png' if kind == 'PNG' else 'jpg'}"
            out = io.BytesIO()
            Image.fromarray(pixels).save(out, kind)
            (root / "images" / name).write_bytes(out.getvalue())
            files[name] = out.getvalue()
    (root / "images" / "cat" / "notes.txt").write_text("not an image")
    run("init", str(root / "repo"))
    run("import", str(root / "images"), "-d", "pets", "--media-types", "image/*", repo=root / "repo")
    return loam.open(str(root / "repo")).dataset("pets"), files


def test_two_workers_decode_augment_and_collate_every_image_once(pictures):
    ds, files = pictures
    data = ds.to_torch(["path", "bytes", "label"], batch_size=6, seed=2, classes="label",
                       sample_transform=sample, transform=normalize)
    loader = loam.torch.DataLoader(data, num_workers=2)
    seen = {}
    for batch in loader:
        assert batch["image"].shape[1:] == (3, SIDE, SIDE) and batch["image"].dtype == torch.float32
        assert batch["label"].dtype == torch.int64 and len(batch["path"]) == batch["image"].shape[0]
        for path, image, label in zip(batch["path"], batch["image"], batch["label"]):
            assert path not in seen
            seen[path] = (image, int(label))
    assert sorted(seen) == sorted(files)  # every image once, and the text file was not imported
    for path, (image, label) in seen.items():
        want = (decode(files[path]).unsqueeze(0) - MEAN) / STD
        assert torch.allclose(image, want[0]), path
        assert label == ds.class_to_idx()[path.split("/")[0]]
    # The order is the seeded one: the same as the rows' order in to_numpy.
    order = [p for b in ds.to_numpy(["path"], batch_size=6, seed=2) for p in b["path"]]
    assert list(seen) == order


def test_sample_transform_errors_surface_from_the_worker(pictures):
    ds, _ = pictures

    def broken(row):
        raise ValueError(f"cannot use {row['path']}")

    loader = loam.torch.DataLoader(ds.to_torch(["path"], batch_size=4, sample_transform=broken), num_workers=2)
    with pytest.raises(ValueError, match="cannot use"):
        next(iter(loader))
