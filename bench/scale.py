"""Issue 17's rows: Loam through S3 (SeaweedFS on loopback, signatures checked) beside Lance on the same
S3 server — import, epoch scan, one column's scan and take 10,000 rows — and commit latency with the catalog on PostgreSQL
vs SQLite. Every system does the same work: the scan sums `label` and every float of `emb` (each byte
touched); the take materializes all columns of the rows. Run through bench/scale.sh."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from bench import best  # bench/bench.py: the best of several runs

DIM = 32


def batch_sum(batch):
    label = batch.column("label").to_numpy()
    emb = batch.column("emb").values.to_numpy()
    return float(label.sum()) + float(emb.sum(dtype=np.float64))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    env = os.environ
    loam, loam_bench = f"{args.bin}/loam", f"{args.bin}/loam-bench"
    aws = {"AWS_ENDPOINT_URL": env["LOAM_TEST_S3_ENDPOINT"], "AWS_ACCESS_KEY_ID": env["LOAM_TEST_S3_KEY"],
           "AWS_SECRET_ACCESS_KEY": env["LOAM_TEST_S3_SECRET"], "AWS_REGION": "us-east-1"}
    os.environ.update(aws)
    admin = urlparse(env["LOAM_TEST_POSTGRES"])
    bucket = env["LOAM_TEST_S3_BUCKET"]

    def database():
        name = "bench_" + uuid.uuid4().hex[:10]
        subprocess.run(["/usr/lib/postgresql/15/bin/createdb", "-h", admin.hostname, "-p", str(admin.port), "-U", admin.username, name], check=True)
        return f"postgres://{admin.username}@{admin.hostname}:{admin.port}/{name}"

    def run(*argv, cwd=None):
        return subprocess.run(argv, check=True, capture_output=True, text=True, cwd=cwd).stdout

    def loam_run(*argv):
        return json.loads(run(loam_bench, *argv))

    work = tempfile.mkdtemp(prefix="loam-scale-")
    results = {"rows": args.rows, "dim": DIM}
    try:
        rng = np.random.default_rng(42)
        n = args.rows
        table = pa.table({
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "label": pa.array(rng.integers(0, 10, n, dtype=np.int32)),
            "text": pa.array([f"review number {i} of the benchmark" for i in range(n)]),
            "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * DIM).astype(np.float32)), DIM),
        })
        data = f"{work}/data.arrow"
        with ipc.new_file(data, table.schema) as w:
            w.write_table(table, max_chunksize=65_536)
        size = os.path.getsize(data)
        results["bytes"] = size
        expected = sum(batch_sum(b) for b in table.to_batches())

        import lance
        storage = {"aws_endpoint": aws["AWS_ENDPOINT_URL"], "aws_access_key_id": aws["AWS_ACCESS_KEY_ID"],
                   "aws_secret_access_key": aws["AWS_SECRET_ACCESS_KEY"], "aws_region": "us-east-1", "allow_http": "true"}

        # --- import through S3 --------------------------------------------------------------------
        loam_import, lance_import = [], []
        for k in range(args.runs):
            node = f"{work}/node{k}"
            run(loam, "init", node, "--catalog", database(), "--objects", f"s3://{bucket}/scale-{uuid.uuid4().hex[:8]}/")
            start = time.perf_counter()
            run(loam, "import", data, "-d", "t", "-q", cwd=node)
            loam_import.append(time.perf_counter() - start)
            uri = f"s3://{bucket}/lance-{uuid.uuid4().hex[:8]}/t.lance"
            start = time.perf_counter()
            lance.write_dataset(ipc.open_file(pa.memory_map(data)).read_all(), uri, storage_options=storage, max_rows_per_group=65_536)
            lance_import.append(time.perf_counter() - start)
        results["import"] = {"Loam": min(loam_import), "Lance": min(lance_import)}
        print("import", results["import"], flush=True)
        node = f"{work}/node0"
        lance_ds = lance.dataset(uri, storage_options=storage)

        # --- epoch scan (label + every float of emb) --------------------------------------------
        scans = [loam_run("scan", node, "t", "label", "emb") for _ in range(args.runs)]
        assert all(r["rows"] == n for r in scans), scans
        assert abs(scans[0]["checksum"] - expected) <= 1e-3 * abs(expected), (scans[0], expected)

        def lance_scan():
            return sum(batch_sum(b) for b in lance_ds.to_batches(columns=["label", "emb"], batch_size=65_536))
        assert abs(lance_scan() - expected) <= 1e-3 * abs(expected)

        import loam as client
        def python_scan():
            ds = client.open(node).dataset("t")
            return sum(batch_sum(b) for b in ds.to_arrow(columns=["label", "emb"]).to_batches())
        assert abs(python_scan() - expected) <= 1e-3 * abs(expected)
        results["epoch scan"] = {"Loam": min(r["seconds"] for r in scans), "Loam (Python client)": best(python_scan, args.runs),
                                 "Lance": best(lance_scan, args.runs)}
        print("epoch scan", results["epoch scan"], flush=True)

        # --- one column of four: `label` summed (Loam fetches it by ranged GETs, as Lance does) ---------
        label_scans = [loam_run("scan", node, "t", "label") for _ in range(args.runs)]
        label_total = float(np.asarray(table.column("label")).sum())
        assert all(r["rows"] == n and r["checksum"] == label_total for r in label_scans), (label_scans[0], label_total)

        def lance_label(ds=None):
            ds = ds or lance_ds
            return sum(float(b.column("label").to_numpy().sum()) for b in ds.to_batches(columns=["label"], batch_size=65_536))
        assert lance_label() == label_total
        # Lance keeps file metadata cached in its dataset object; a fresh one per call reads it again (Loam's fresh
        # process per run has no cache either, but opens its dataset before the clock).
        results["scan one column"] = {"Loam": min(r["seconds"] for r in label_scans), "Lance": best(lance_label, args.runs),
                                      "Lance (fresh dataset object)": best(lambda: lance_label(lance.dataset(uri, storage_options=storage)), args.runs)}
        print("scan one column", results["scan one column"], flush=True)

        # --- take 10,000 random rows, every column ------------------------------------------------
        positions = np.sort(rng.choice(n, 10_000, replace=False))
        with open(f"{work}/positions.txt", "w") as f:
            f.write("\n".join(map(str, positions.tolist())))
        takes = [loam_run("take", node, "t", f"{work}/positions.txt") for _ in range(args.runs)]
        want = float(np.asarray(table.column("label").take(pa.array(positions))).sum())
        assert takes[0]["rows"] == 10_000 and takes[0]["checksum"] == want, (takes[0], want)
        assert lance_ds.take(positions.tolist()).column("id").to_pylist() == positions.tolist()
        results["take 10,000"] = {"Loam": min(r["seconds"] for r in takes), "Lance": best(lambda: lance_ds.take(positions.tolist()), args.runs)}
        print("take", results["take 10,000"], flush=True)

        # --- commit latency: one 1-row append, catalog on SQLite vs PostgreSQL ----------------------
        row = f"{work}/one.csv"
        with open(row, "w") as f:
            f.write("id,n\n1,1\n")
        latency = {}
        for label, flags in [("SQLite catalog, local objects", []), ("PostgreSQL catalog, local objects", ["--catalog", database()]),
                             ("PostgreSQL catalog, S3 objects", ["--catalog", database(), "--objects", f"s3://{bucket}/commit-{uuid.uuid4().hex[:8]}/"])]:
            repo = f"{work}/commit-{len(latency)}"
            run(loam, "init", repo, *flags)
            run(loam, "import", row, "-d", "c", "-q", cwd=repo)
            times = [loam_run("append", repo, "c", row)["seconds"] for _ in range(15)]
            latency[label] = statistics.median(times)
        results["commit latency (median of 15, one-row append)"] = latency
        print("commit", latency, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
