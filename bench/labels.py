"""Labels at scale, one run, release build. Every row says what each system did.

- write: 1M model pre-labels (class, model name, score) imported from JSONL as one commit — each validated
  against its schema and row. Loam alone: no peer here writes validated, versioned labels.
- agreement: 200k items × 5 annotators = 1M annotations. Loam reads them from the repository and computes percent
  agreement, Cohen's kappa for the 10 pairs, Fleiss' kappa and Krippendorff's alpha (nominal) in one call; the peers
  compute Fleiss' kappa (statsmodels, from its aggregate_raters table) and alpha (krippendorff, from a 5 × 200k
  matrix) on the same ratings already in memory as NumPy arrays — their load time is not counted.
- coco: a COCO file of 100k boxes on 25k images, written by `loam label export` (reading the labels and the images'
  sizes from the repository) and, as a floor, by Python's json.dump of the same structure already in memory.
- next item: a task over 1M rows queued by pre-label uncertainty; an annotator asks for the next item and submits it,
  over HTTP to `loam serve`; the time of each `next` call as the client sees it (loopback; the server's share is less).

    bash bench/labels.sh [--items 1000000]     # writes bench/results/<time>-labels.json and labels-latest.md
"""
import argparse
import datetime
import json
import os
import subprocess
import tempfile
import time
import urllib.request

import numpy as np


def run(binary, *args, env=None):
    start = time.perf_counter()
    done = subprocess.run([os.path.join(binary, "loam"), *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"loam {' '.join(args[:3])}: {done.stderr}")
    return time.perf_counter() - start, done.stdout


def first_rowid(binary, repo, dataset):
    """The dataset's first _rowid (row ids are allocated repository-wide, labels included)."""
    _, out = run(binary, "query", f"SELECT min(_rowid) AS m FROM {dataset}", "--json", "--repo", repo)
    return int(json.loads(out.splitlines()[0])["m"])  # one JSON object per row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--next-calls", type=int, default=300)
    args = parser.parse_args()
    n = args.items
    work = tempfile.mkdtemp(prefix="loam-labels-bench-")
    repo = os.path.join(work, "repo")
    rng = np.random.default_rng(11)
    results = {"items": n}
    run(args.bin, "init", repo)

    # --- 1M pre-labels ------------------------------------------------------------------------
    with open(os.path.join(work, "docs.csv"), "w") as f:
        f.write("n,text\n")
        for i in range(n):
            f.write(f"{i},document {i}\n")
    run(args.bin, "import", os.path.join(work, "docs.csv"), "-d", "docs", "-q", "--repo", repo)
    run(args.bin, "label", "schema", "add", "topic", "-d", "docs", "--kind", "class", "--classes", "a,b,c,d", "--repo", repo)
    ids = first_rowid(args.bin, repo, "docs") + np.arange(n)  # one import: consecutive row ids
    scores = rng.uniform(0.25, 1.0, n)
    classes = np.array(["a", "b", "c", "d"])[rng.integers(0, 4, n)]
    with open(os.path.join(work, "prelabels.jsonl"), "w") as f:
        for i in range(n):
            f.write(f'{{"row_id":{ids[i]},"annotator":"bert","value":"{classes[i]}","source":"model","model":"bert","score":{scores[i]:.6f}}}\n')
    seconds, _ = run(args.bin, "label", "import", "-d", "docs", "--schema", "topic", "--format", "jsonl", os.path.join(work, "prelabels.jsonl"), "--repo", repo)
    results["write_prelabels"] = {"annotations": n, "seconds": seconds, "per_second": n / seconds}

    # --- agreement over 1M annotations ---------------------------------------------------------
    items, raters = n // 5, 5
    truth = rng.integers(0, 3, items)
    skill = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    right = rng.random((raters, items)) < skill[:, None]
    ratings = np.where(right, truth[None, :], rng.integers(0, 3, (raters, items)))
    with open(os.path.join(work, "votes.csv"), "w") as f:
        f.write("i\n")
        for i in range(items):
            f.write(f"{i}\n")
    run(args.bin, "import", os.path.join(work, "votes.csv"), "-d", "votes", "-q", "--repo", repo)
    run(args.bin, "label", "schema", "add", "grade", "-d", "votes", "--kind", "class", "--classes", "0,1,2", "--repo", repo)
    first = first_rowid(args.bin, repo, "votes")
    with open(os.path.join(work, "votes.jsonl"), "w") as f:
        for a in range(raters):
            for i in range(items):
                f.write(f'{{"row_id":{first + i},"annotator":"r{a}","value":"{ratings[a, i]}"}}\n')
    run(args.bin, "label", "import", "-d", "votes", "--schema", "grade", "--format", "jsonl", os.path.join(work, "votes.jsonl"), "--repo", repo)
    seconds, out = run(args.bin, "label", "agreement", "-d", "votes", "--schema", "grade", "--json", "--repo", repo)
    loam_report = json.loads(out)["ratings"]
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
    import krippendorff
    start = time.perf_counter()
    table, _ = aggregate_raters(ratings.T)
    fleiss = fleiss_kappa(table)
    statsmodels_seconds = time.perf_counter() - start
    start = time.perf_counter()
    alpha = krippendorff.alpha(reliability_data=ratings.astype(float), level_of_measurement="nominal")
    krippendorff_seconds = time.perf_counter() - start
    results["agreement"] = {
        "annotations": items * raters,
        "loam_seconds_all_measures_from_storage": seconds,
        "statsmodels_fleiss_seconds_in_memory": statsmodels_seconds, "krippendorff_alpha_seconds_in_memory": krippendorff_seconds,
        "fleiss": {"loam": loam_report["fleiss_kappa"], "statsmodels": fleiss},
        "alpha": {"loam": loam_report["krippendorff_alpha"]["nominal"], "krippendorff": alpha},
    }

    # --- COCO export of 100k boxes -------------------------------------------------------------
    images = 25_000
    with open(os.path.join(work, "images.csv"), "w") as f:
        f.write("path,width,height\n")
        for i in range(images):
            f.write(f"images/{i:06d}.jpg,640,480\n")
    run(args.bin, "import", os.path.join(work, "images.csv"), "-d", "images", "-q", "--repo", repo)
    run(args.bin, "label", "schema", "add", "objects", "-d", "images", "--kind", "boxes", "--classes", "cat,dog,car,person",
        "--image-column", "path", "--width-column", "width", "--height-column", "height", "--repo", repo)
    base = first_rowid(args.bin, repo, "images")
    structure = {"images": [], "categories": [{"id": k + 1, "name": c} for k, c in enumerate(["cat", "dog", "car", "person"])], "annotations": []}
    with open(os.path.join(work, "boxes.jsonl"), "w") as f:
        for i in range(images):
            boxes = []
            for _ in range(4):
                w, h = float(rng.uniform(10, 200)), float(rng.uniform(10, 200))
                x, y = float(rng.uniform(0, 640 - w)), float(rng.uniform(0, 480 - h))
                label = ["cat", "dog", "car", "person"][rng.integers(0, 4)]
                boxes.append({"label": label, "x": x, "y": y, "w": w, "h": h})
                structure["annotations"].append({"id": len(structure["annotations"]) + 1, "image_id": base + i, "category_id": 1,
                                                 "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0, "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
            structure["images"].append({"id": base + i, "file_name": f"images/{i:06d}.jpg", "width": 640, "height": 480})
            f.write(json.dumps({"row_id": base + i, "annotator": "ana", "value": boxes}) + "\n")
    run(args.bin, "label", "import", "-d", "images", "--schema", "objects", "--format", "jsonl", os.path.join(work, "boxes.jsonl"), "--repo", repo)
    seconds, _ = run(args.bin, "label", "export", "-d", "images", "--schema", "objects", "--format", "coco", "-o", os.path.join(work, "coco.json"), "--repo", repo)
    start = time.perf_counter()
    with open(os.path.join(work, "coco-python.json"), "w") as f:
        json.dump(structure, f)
    python_seconds = time.perf_counter() - start
    results["coco_export"] = {"boxes": images * 4, "images": images, "loam_seconds_from_storage": seconds,
                              "python_json_dump_seconds_in_memory": python_seconds, "bytes": os.path.getsize(os.path.join(work, "coco.json"))}

    # --- next item on a 1M-item task ---------------------------------------------------------------
    env = dict(os.environ, LOAM_AUTHOR="mia")
    seconds, out = run(args.bin, "label", "task", "create", "-d", "docs", "--schema", "topic", "--query", "SELECT _rowid FROM docs",
                       "--json", "--repo", repo, env=env)
    task = json.loads(out)["id"]
    results["task_create"] = {"items": n, "seconds": seconds, "active_learning": json.loads(out)["active_learning"]}
    run(args.bin, "label", "task", "member", task, "ana", "annotator", "--repo", repo, env=env)
    run(args.bin, "user", "add", "ana", "--repo", repo)
    _, token = run(args.bin, "token", "create", "--user", "ana", "--role", "reader", "--repo", repo)
    server = subprocess.Popen([os.path.join(args.bin, "loam"), "serve", "--repo", repo, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = "http://" + server.stdout.readline().split()[1]

    def call(method, path, body=None):
        req = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(), method=method)
        req.add_header("Authorization", "Bearer " + token.strip())
        if body is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req) as response:
            return json.loads(response.read())

    latencies, submits = [], []
    try:
        for k in range(args.next_calls):
            start = time.perf_counter()
            view = call("GET", f"/api/v1/label-tasks/{task}/next")
            latencies.append(time.perf_counter() - start)
            start = time.perf_counter()
            call("POST", f"/api/v1/label-tasks/{task}/items/{view['item']['row_id']}/submit", {"value": "a"})
            submits.append(time.perf_counter() - start)
    finally:
        server.kill()
    ms = np.array(latencies[1:]) * 1000  # the first call opens the catalog and maps the fragments
    results["next_item"] = {"task_items": n, "calls": len(ms), "p50_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
                            "max_ms": float(ms.max()), "first_ms": latencies[0] * 1000, "submit_p50_ms": float(np.median(submits) * 1000)}

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs("bench/results", exist_ok=True)
    with open(f"bench/results/{stamp}-labels.json", "w") as f:
        json.dump(results, f, indent=2)
    a, c, w, t = results["agreement"], results["coco_export"], results["write_prelabels"], results["next_item"]
    lines = [
        f"# Labels at scale ({stamp}, one run, release build, 2 cores)", "",
        "| what | Loam | peer | note |", "|---|---|---|---|",
        f"| write {w['annotations']:,} model pre-labels (JSONL → validated, one commit) | {w['seconds']:.1f} s ({w['per_second']:,.0f}/s) | — | no peer here writes validated, versioned labels |",
        f"| agreement over {a['annotations']:,} annotations | {a['loam_seconds_all_measures_from_storage']:.2f} s: read from storage, percent, 10 Cohen pairs, Fleiss, alpha | statsmodels Fleiss {a['statsmodels_fleiss_seconds_in_memory']:.2f} s; krippendorff alpha {a['krippendorff_alpha_seconds_in_memory']:.2f} s (in memory, load not counted) | Fleiss {a['fleiss']['loam']:.6f} vs {a['fleiss']['statsmodels']:.6f}; alpha {a['alpha']['loam']:.6f} vs {a['alpha']['krippendorff']:.6f} |",
        f"| COCO export, {c['boxes']:,} boxes on {c['images']:,} images | {c['loam_seconds_from_storage']:.2f} s (from storage) | Python json.dump of the same structure in memory: {c['python_json_dump_seconds_in_memory']:.2f} s | {c['bytes'] / 1e6:.1f} MB |",
        f"| create a task over {results['task_create']['items']:,} rows (queued by pre-label uncertainty) | {results['task_create']['seconds']:.1f} s | — | |",
        f"| next item on a {t['task_items']:,}-item task, over HTTP | p50 {t['p50_ms']:.1f} ms, p95 {t['p95_ms']:.1f} ms, max {t['max_ms']:.1f} ms ({t['calls']} calls; first {t['first_ms']:.0f} ms) | — | target: under 50 ms on the server; submit p50 {t['submit_p50_ms']:.1f} ms |",
    ]
    with open("bench/results/labels-latest.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
