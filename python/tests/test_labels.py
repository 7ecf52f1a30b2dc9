"""Labels through the Python client and real consumers: COCO exports opened by pycocotools (and
scored by COCOeval), agreement of stored labels next to scikit-learn, statsmodels and krippendorff,
labels gathered into the loaders, and labels through branch, merge and time travel."""
import json
import os

import numpy as np
import pyarrow as pa
import pytest

import loam
from conftest import LOAM, loam as run

os.environ.setdefault("LOAM_BIN", LOAM)


def new_repo(tmp_path, name):
    path = tmp_path / name
    run("init", str(path))
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """600 images of random sizes, each with 0–4 boxes of 3 classes, imported through the client."""
    repo = new_repo(tmp_path_factory.mktemp("labels"), "photos")
    rng = np.random.default_rng(5)
    n = 600
    widths, heights = rng.integers(64, 1025, n), rng.integers(64, 769, n)
    table = pa.table({"path": [f"images/{i:05d}.jpg" for i in range(n)], "width": widths, "height": heights})
    r = loam.open(str(repo))
    r.write(table, "photos")
    ds = r.dataset("photos")
    ds.labels().define("objects", "boxes", classes=["cat", "dog", "bird"], image_column="path", width_column="width", height_column="height")
    ids = ds.rowids()
    boxes = []
    for i in range(n):
        items = []
        for _ in range(rng.integers(0, 5)):
            w, h = float(rng.uniform(1, widths[i] / 2)), float(rng.uniform(1, heights[i] / 2))
            x, y = float(rng.uniform(0, widths[i] - w)), float(rng.uniform(0, heights[i] - h))
            items.append({"label": ["cat", "dog", "bird"][rng.integers(0, 3)], "x": x, "y": y, "w": w, "h": h})
        boxes.append(items)
    loam.open(str(repo)).dataset("photos").labels().add("objects", rows=ids, values=boxes, annotator="ana")
    return repo, ids, boxes, widths, heights


def test_coco_export_reads_in_pycocotools_and_scores_perfectly_against_itself(photos, tmp_path):
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    repo, ids, boxes, widths, heights = photos
    out = tmp_path / "instances.json"
    loam.open(str(repo)).dataset("photos").labels().export("objects", out, "coco")
    gt = coco_mod.COCO(str(out))
    assert sorted(gt.getImgIds()) == sorted(int(i) for i in ids)
    assert [c["name"] for c in gt.loadCats(gt.getCatIds())] == ["cat", "dog", "bird"]
    assert len(gt.getAnnIds()) == sum(len(b) for b in boxes)
    for k in [0, 17, 599]:
        image = gt.loadImgs(int(ids[k]))[0]
        assert (image["file_name"], image["width"], image["height"]) == (f"images/{k:05d}.jpg", widths[k], heights[k])
        anns = gt.loadAnns(gt.getAnnIds(imgIds=int(ids[k])))
        got = sorted((gt.loadCats(a["category_id"])[0]["name"], *a["bbox"]) for a in anns)
        want = sorted((b["label"], b["x"], b["y"], b["w"], b["h"]) for b in boxes[k])
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g[0] == w[0] and np.allclose(g[1:], w[1:], rtol=1e-12)
        for a in anns:  # the box's polygon rasterizes to about its area
            mask = gt.annToMask(a)
            assert mask.shape == (heights[k], widths[k])
            assert abs(mask.sum() - a["area"]) <= 2 * (a["bbox"][2] + a["bbox"][3]) + 4
    # The same boxes as detections with score 1: COCOeval gives AP = 1 at every IoU threshold.
    detections = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
                  for a in gt.loadAnns(gt.getAnnIds())]
    evaluation = cocoeval.COCOeval(gt, gt.loadRes(detections), "bbox")
    evaluation.evaluate(), evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_coco_import_of_a_pycocotools_file_and_yolo_round_trip(photos, tmp_path):
    repo, ids, boxes, widths, heights = photos
    labels = loam.open(str(repo)).dataset("photos").labels()
    out = tmp_path / "instances.json"
    labels.export("objects", out, "coco")
    data = json.loads(out.read_text())
    for image in data["images"]:  # a file from elsewhere names images by file name only
        image["file_name"] = os.path.basename(image["file_name"])
    out.write_text(json.dumps(data))
    labels.import_file("objects", out, "coco", annotator="from-coco")
    # Reads are at the dataset's commit: the import is a new commit, so open the dataset again.
    loam.open(str(repo)).dataset("photos").labels().export("objects", tmp_path / "yolo", "yolo", by="annotator:from-coco")
    names = (tmp_path / "yolo" / "data.yaml").read_text()
    assert "nc: 3" in names and '0: "cat"' in names
    k = next(i for i, b in enumerate(boxes) if b)
    lines = (tmp_path / "yolo" / "labels" / f"{k:05d}.txt").read_text().split("\n")
    first = sorted(boxes[k], key=lambda b: (b["label"], b["x"]))
    parsed = sorted(([float(v) for v in line.split()] for line in lines if line), key=lambda v: (["cat", "dog", "bird"][int(v[0])], v[1]))
    for b, v in zip(first, parsed):
        assert ["cat", "dog", "bird"][int(v[0])] == b["label"]
        assert np.allclose(v[1:], [(b["x"] + b["w"] / 2) / widths[k], (b["y"] + b["h"] / 2) / heights[k], b["w"] / widths[k], b["h"] / heights[k]])
    labels.import_file("objects", tmp_path / "yolo", "yolo", annotator="from-yolo")
    fresh = loam.open(str(repo)).dataset("photos").labels()
    table = fresh.to_pandas("objects")
    by = {a: dict(zip(g["row_id"], g["value"])) for a, g in table.groupby("annotator")}
    assert set(by) == {"ana", "from-coco", "from-yolo"}
    for row, value in by["ana"].items():
        for other in ("from-coco", "from-yolo"):
            a, b = json.loads(value), json.loads(by[other][row])
            assert len(a) == len(b)
            for p, q in zip(a, b):
                assert p["label"] == q["label"] and np.allclose([p[c] for c in "xywh"], [q[c] for c in "xywh"], rtol=1e-9, atol=1e-9)


def test_bad_box_names_row_and_field(photos):
    repo, ids, boxes, widths, heights = photos
    labels = loam.open(str(repo)).dataset("photos").labels()
    with pytest.raises(loam.LoamError, match=rf"photos row {ids[3]}, label 'objects', value\[0\]: x \+ w = {widths[3] + 5} lies outside the image"):
        labels.add("objects", rows=[ids[3]], values=[[{"label": "cat", "x": 10, "y": 0, "w": int(widths[3]) - 5, "h": 5}]], annotator="ana")
    with pytest.raises(loam.LoamError, match="'fish' is not one of the classes"):
        labels.add("objects", rows=[ids[3]], values=[[{"label": "fish", "x": 0, "y": 0, "w": 1, "h": 1}]], annotator="ana")


def votes(n_items=300, annotators=4, seed=11):
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=n_items, p=[0.5, 0.3, 0.2])
    skill = [0.9, 0.75, 0.6, 0.45][:annotators]
    out = np.empty((annotators, n_items), dtype=object)
    for a in range(annotators):
        for i in range(n_items):
            out[a, i] = None if rng.random() < 0.15 else ["neg", "neu", "pos"][truth[i] if rng.random() < skill[a] else rng.integers(0, 3)]
    return out


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    repo = new_repo(tmp_path_factory.mktemp("labels"), "reviews")
    r = loam.open(str(repo))
    r.write(pa.table({"text": [f"review {i}" for i in range(300)], "n": np.arange(300)}), "reviews")
    ds = r.dataset("reviews")
    ds.labels().define("sentiment", "class", classes=["neg", "neu", "pos"])
    ids = ds.rowids()
    matrix = votes()
    for a in range(matrix.shape[0]):
        keep = [i for i in range(matrix.shape[1]) if matrix[a, i] is not None]
        ds.labels().add("sentiment", rows=ids[keep], values=[matrix[a, i] for i in keep], annotator=f"ann{a}")
    return repo, ids, matrix


def test_stored_label_agreement_matches_the_reference_packages(reviews):
    krippendorff = pytest.importorskip("krippendorff")
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    metrics = pytest.importorskip("sklearn.metrics")
    repo, ids, matrix = reviews
    report = loam.open(str(repo)).dataset("reviews").labels().agreement("sentiment")["ratings"]
    codes = {"neg": 0, "neu": 1, "pos": 2}
    numeric = np.array([[np.nan if v is None else codes[v] for v in row] for row in matrix], dtype=float)
    assert report["krippendorff_alpha"]["nominal"] == pytest.approx(krippendorff.alpha(reliability_data=numeric, level_of_measurement="nominal"), abs=1e-12)
    complete = [i for i in range(matrix.shape[1]) if all(v is not None for v in matrix[:, i])]
    table, _ = inter_rater.aggregate_raters(numeric[:, complete].T.astype(int), n_cat=3)
    # Fleiss over the items every annotator rated: the same subset through the engine.
    sub = loam.open(str(repo)).query(
        "SELECT l.row_id, l.annotator, l.value FROM reviews__labels l JOIN (SELECT row_id FROM reviews__labels GROUP BY row_id HAVING count(*) = 4) c ON c.row_id = l.row_id")
    assert sub.num_rows == 4 * len(complete)
    for a, b in [(0, 1), (1, 3)]:
        both = [i for i in range(matrix.shape[1]) if matrix[a, i] is not None and matrix[b, i] is not None]
        expected = metrics.cohen_kappa_score([matrix[a, i] for i in both], [matrix[b, i] for i in both])
        pair = next(p for p in report["cohen_kappa"] if (p["a"], p["b"]) == (f"ann{a}", f"ann{b}"))
        assert pair["items"] == len(both) and pair["kappa"] == pytest.approx(expected, abs=1e-12)
        confusion = metrics.confusion_matrix([matrix[a, i] for i in both], [matrix[b, i] for i in both], labels=report["values"])
        assert pair["confusion"] == confusion.tolist()
    fleiss = json.loads(run("label", "agreement", "--json", "SELECT l.row_id, l.annotator, l.value FROM reviews__labels l JOIN "
                            "(SELECT row_id FROM reviews__labels GROUP BY row_id HAVING count(*) = 4) c ON c.row_id = l.row_id", repo=repo))
    assert fleiss["fleiss_kappa"] == pytest.approx(inter_rater.fleiss_kappa(table), abs=1e-12)


def test_loaders_gather_majority_adjudicated_and_annotator_labels(reviews):
    torch = pytest.importorskip("torch")
    repo, ids, matrix = reviews
    ds = loam.open(str(repo)).dataset("reviews")
    classes = ["neg", "neu", "pos"]

    def majority(i):
        counts = {}
        for v in matrix[:, i]:
            if v is not None:
                counts[v] = counts.get(v, 0) + 1
        if not counts:
            return -1
        best = max(counts.values())
        winners = [v for v, c in counts.items() if c == best]
        return classes.index(winners[0]) if len(winners) == 1 else -1

    expected = {int(n): majority(int(n)) for n in range(300)}
    seen = {}
    for batch in ds.to_torch(["n"], batch_size=64, seed=3, labels="sentiment"):
        assert batch["sentiment"].dtype == torch.int64
        for n, label in zip(batch["n"].tolist(), batch["sentiment"].tolist()):
            seen[n] = label
    assert seen == expected
    first = {int(n): (-1 if matrix[0, n] is None else classes.index(matrix[0, n])) for n in range(300)}
    got = {}
    for batch in ds.to_numpy(["n"], batch_size=100, shuffle=False, labels="sentiment", label_by="annotator:ann0"):
        got.update(zip(batch["n"].tolist(), batch["sentiment"].tolist()))
    assert got == first
    train = next(iter(ds.to_numpy(["n"], batch_size=10_000, split="train", labels="sentiment")))
    assert all(expected[n] == s for n, s in zip(train["n"].tolist(), train["sentiment"].tolist())) and 0 < len(train["n"]) < 300
    # Adjudication: a reviewer resolves one tied item; adjudicated labels only resolved or unanimous items.
    tied = next(i for i in range(300) if majority(i) == -1 and any(v is not None for v in matrix[:, i]))
    ds.labels().add("sentiment", rows=[ids[tied]], values=["pos"], annotator="rev", source="adjudication")
    ds = loam.open(str(repo)).dataset("reviews")
    adjudicated = {}
    for batch in ds.to_numpy(["n"], batch_size=1000, shuffle=False, labels="sentiment", label_by="adjudicated"):
        adjudicated.update(zip(batch["n"].tolist(), batch["sentiment"].tolist()))
    assert adjudicated[tied] == 2
    for i in range(300):
        given = {v for v in matrix[:, i] if v is not None}
        if i != tied:
            assert adjudicated[i] == (classes.index(given.pop()) if len(given) == 1 else -1)


def test_labels_branch_merge_conflict_and_time_travel(tmp_path):
    repo = new_repo(tmp_path, "versions")
    r = loam.open(str(repo))
    r.write(pa.table({"text": ["a", "b", "c"]}), "docs")
    ds = r.dataset("docs")
    ds.labels().define("topic", "multilabel", classes=["x", "y", "z"])
    ids = ds.rowids()
    ds.labels().add("topic", rows=ids, values=[["x"], ["y", "x"], []], annotator="ana")
    run("tag", "v1", repo=repo)
    run("branch", "fix", repo=repo)
    run("switch", "fix", repo=repo)
    loam.open(str(repo)).dataset("docs").labels().add("topic", rows=[ids[2]], values=[["z"]], annotator="ana")   # a relabel
    loam.open(str(repo)).dataset("docs").labels().add("topic", rows=[ids[0], ids[1]], values=[["x"], ["z"]], annotator="bo")  # new keys
    run("switch", "main", repo=repo)
    loam.open(str(repo)).dataset("docs").labels().add("topic", rows=[ids[2]], values=[["y"]], annotator="ana")
    loam.open(str(repo)).dataset("docs").labels().add("topic", rows=[ids[0], ids[1]], values=[["x"], ["y"]], annotator="bo")
    done = __import__("subprocess").run([LOAM, "merge", "fix", "--repo", str(repo), "--json"], capture_output=True, text=True)
    assert done.returncode != 0
    conflicts = sorted(json.loads(done.stdout)["conflicts"], key=lambda c: c["kind"])
    # ana's relabel is a changed cell (the label's value: its time is not a conflict); bo labelling row 1 twice is one key
    # inserted on both sides; bo's identical label of row 0 merges.
    assert [c["kind"] for c in conflicts] == ["cell", "key inserted on both sides"], conflicts
    assert conflicts[0]["key"].endswith(":value") and '["y"]' in conflicts[0]["detail"] and '["z"]' in conflicts[0]["detail"]
    assert f"row_id={ids[1]}" in conflicts[1]["detail"]
    run("merge", "fix", "--theirs", repo=repo)
    now = loam.open(str(repo)).dataset("docs")
    assert now.labels().gather("topic", by="annotator:ana") == {int(ids[0]): '["x"]', int(ids[1]): '["x","y"]', int(ids[2]): '["z"]'}
    assert now.labels().gather("topic", by="annotator:bo") == {int(ids[0]): '["x"]', int(ids[1]): '["z"]'}
    assert len(now.labels().to_arrow("topic")) == 5
    batch = next(iter(now.to_numpy(["text"], shuffle=False, labels="topic", label_by="annotator:ana")))
    assert batch["topic"].tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    old = loam.open(str(repo)).dataset("docs", ref="v1")
    assert old.labels().gather("topic", by="annotator:ana")[int(ids[2])] == "[]"
    assert set(old.labels().to_pandas()["annotator"]) == {"ana"}
    joined = loam.open(str(repo)).query("SELECT d.text, l.value FROM docs d JOIN docs__labels l ON l.row_id = d._rowid WHERE l.annotator = 'bo' ORDER BY d.text")
    assert joined.to_pylist() == [{"text": "a", "value": '["x"]'}, {"text": "b", "value": '["z"]'}]


def test_a_local_task_through_the_client(reviews, monkeypatch):
    repo, ids, matrix = reviews
    monkeypatch.setenv("LOAM_AUTHOR", "mia")
    r = loam.open(str(repo))
    task = r.create_label_task("reviews", "sentiment", "SELECT _rowid FROM reviews WHERE n < 10", annotators=2)
    task.add_member("ana", "annotator")
    assert [t["id"] for t in r.label_tasks("reviews")] == [task.id]
    monkeypatch.setenv("LOAM_AUTHOR", "ana")
    first = task.next()["item"]
    task.submit(first["row_id"], "pos")
    task.skip(task.next()["item"]["row_id"])
    with pytest.raises(loam.LoamError, match="not a reviewer"):
        task.progress()
    monkeypatch.setenv("LOAM_AUTHOR", "mia")
    progress = task.progress()
    assert progress["annotators"] == [{"annotator": "ana", "submitted": 1, "skipped": 1, "open": 0}]


def test_voc_export_reads_in_elementtree_and_label_studio_keeps_every_annotator(photos, tmp_path):
    import xml.etree.ElementTree as ET
    repo, ids, boxes, widths, heights = photos
    labels = loam.open(str(repo)).dataset("photos").labels()
    labels.export("objects", tmp_path / "voc", "voc", by="annotator:ana")
    for k in [i for i, b in enumerate(boxes) if b][:20]:
        root = ET.parse(tmp_path / "voc" / "Annotations" / f"{k:05d}.xml").getroot()
        assert root.findtext("filename") == f"{k:05d}.jpg"
        assert (int(root.findtext("size/width")), int(root.findtext("size/height"))) == (widths[k], heights[k])
        got = sorted((o.findtext("name"), *(float(o.findtext(f"bndbox/{c}")) for c in ("xmin", "ymin", "xmax", "ymax"))) for o in root.iter("object"))
        want = sorted((b["label"], b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]) for b in boxes[k])
        assert [g[0] for g in got] == [w[0] for w in want] and np.allclose([g[1:] for g in got], [w[1:] for w in want], rtol=1e-12)
    labels.export("objects", tmp_path / "studio.json", "labelstudio")
    tasks = json.loads((tmp_path / "studio.json").read_text())
    assert len(tasks) == len(ids)
    task = next(t for t in tasks if boxes[int(np.where(ids == t["data"]["loam_rowid"])[0][0])])
    k = int(np.where(ids == task["data"]["loam_rowid"])[0][0])
    regions = [r for a in task["annotations"] if a["completed_by"]["email"] == "ana" for r in a["result"]]
    assert {r["type"] for r in regions} == {"rectanglelabels"} and len(regions) == len(boxes[k])
    for r in regions:  # percent of the image, as Label Studio draws them
        assert 0 <= r["value"]["x"] <= 100 and r["original_width"] == widths[k]
