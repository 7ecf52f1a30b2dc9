"""Loam beside pyarrow, Lance and Hugging Face datasets, on the same data in the same run.

Jobs (1,000,000 rows, fixed seed):
  import  CSV of id, text (5-30 words), label, score into each system's dataset
  scan    every row of label, features float32[16], embedding float32[128], as contiguous batches, summed
  take    10,000 random rows by position, all columns
  queries filter + count, group-by, join with a 10-row table + group-by, vector top-10 (cosine): Loam's SQL beside
          DuckDB, polars, sqlite3, Lance and numpy
Each time is the best of several runs on a warm page cache; ratio = peer time / Loam time (higher is better for Loam).
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc

ROWS = 1_000_000
os.environ.setdefault("LANCE_LOG", "error")  # Lance's deprecation notices would interleave with the report
BATCH = 65_536


def best(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def generate(directory, rows):
    rng = np.random.default_rng(42)
    vocab = np.array(["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), rng.integers(2, 10))) for _ in range(5000)])
    lengths = rng.integers(5, 31, rows)
    words = vocab[rng.integers(0, len(vocab), lengths.sum())]
    ends = np.cumsum(lengths)
    text = [" ".join(words[e - n:e]) for e, n in zip(ends, lengths)]
    table = pa.table({
        "id": pa.array(np.arange(rows, dtype=np.int64)),
        "text": pa.array(text, pa.string()),
        "label": pa.array(rng.integers(0, 10, rows, dtype=np.int32)),
        "score": pa.array(rng.random(rows)),
        "features": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(rows * 16, dtype=np.float32)), 16),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(rows * 128, dtype=np.float32)), 128),
    })
    with ipc.new_file(f"{directory}/full.arrow", table.schema) as w:
        w.write_table(table, max_chunksize=BATCH)
    pacsv.write_csv(table.select(["id", "text", "label", "score"]), f"{directory}/scalars.csv")
    positions = rng.integers(0, rows, 10_000)
    with open(f"{directory}/positions.txt", "w") as f:
        f.write("\n".join(map(str, positions)))
    return table, positions


def sum_batch(label, features, embedding):
    return float(label.sum()) + float(features.sum()) + float(embedding.sum())


def arrow_batch_sum(batch):
    label = batch.column("label").to_numpy()
    features = batch.column("features").values.to_numpy().reshape(-1, 16)
    embedding = batch.column("embedding").values.to_numpy().reshape(-1, 128)
    return sum_batch(label, features, embedding)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-tracking", action="store_true", help="leave out the experiment-tracking jobs (they start mlflow server)")
    parser.add_argument("--versioning-rows", type=int, nargs="*", default=[1_000_000, 10_000_000],
                        help="dataset sizes for the version-control jobs (empty to skip them)")
    parser.add_argument("--only-tracking", action="store_true", help="run only the experiment-tracking jobs")
    args = parser.parse_args()
    if args.only_tracking:
        tracking = tracking_jobs(args, f"{args.bin}/loam", f"{args.bin}/loam-bench")
        print("\n".join(tracking_lines(tracking)))
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
        with open(f"{out}/{datetime.datetime.now(datetime.timezone.utc):%Y%m%d-%H%M%S}-tracking.json", "w") as f:
            json.dump({"tracking": tracking, "versions": {"MLflow": __import__("mlflow").__version__}}, f, indent=1)
        return
    import datasets
    import lance

    datasets.disable_progress_bars()
    loam = f"{args.bin}/loam"
    loam_bench = f"{args.bin}/loam-bench"
    work = tempfile.mkdtemp(prefix="loam-bench-", dir=os.environ.get("LOAM_BENCH_DIR"))
    results = {}
    try:
        print(f"generating {args.rows:,} rows in {work} …", flush=True)
        table, positions = generate(work, args.rows)
        csv_path = f"{work}/scalars.csv"
        csv_mb = os.path.getsize(csv_path) / 1e6

        # --- import: CSV → a versioned / queryable dataset ---------------------------------
        def loam_import():
            repo = f"{work}/loam-import"
            shutil.rmtree(repo, ignore_errors=True)
            subprocess.run([loam, "init", repo], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([loam, "import", "--repo", repo, csv_path, "-d", "reviews", "-q"], check=True, stdout=subprocess.DEVNULL)

        def pyarrow_import():
            t = pacsv.read_csv(csv_path)
            with ipc.new_file(f"{work}/pyarrow-import.arrow", t.schema) as w:
                w.write_table(t)

        def lance_import():
            shutil.rmtree(f"{work}/lance-import", ignore_errors=True)
            lance.write_dataset(pacsv.read_csv(csv_path), f"{work}/lance-import")

        def hf_import():
            cache = f"{work}/hf-cache"
            shutil.rmtree(cache, ignore_errors=True)
            datasets.load_dataset("csv", data_files=csv_path, cache_dir=cache, split="train")

        results["import"] = {
            "Loam": best(loam_import, 2), "pyarrow": best(pyarrow_import, 2),
            "Lance": best(lance_import, 2), "HF datasets": best(hf_import, 2),
        }
        print("import", results["import"], flush=True)

        # --- datasets for reading -------------------------------------------------------------
        repo = f"{work}/loam-read"
        subprocess.run([loam, "init", repo], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([loam, "import", "--repo", repo, f"{work}/full.arrow", "-d", "bench", "-q"], check=True, stdout=subprocess.DEVNULL)
        lance.write_dataset(table, f"{work}/lance-read", max_rows_per_group=BATCH)
        datasets.Dataset(table).save_to_disk(f"{work}/hf-read")
        del table
        lance_ds = lance.dataset(f"{work}/lance-read")
        hf_ds = datasets.load_from_disk(f"{work}/hf-read")
        columns = ["label", "features", "embedding"]

        def loam_run(*argv):
            out = subprocess.run([loam_bench, *argv], check=True, capture_output=True, text=True).stdout
            return json.loads(out)

        # --- scan ---------------------------------------------------------------------------------
        loam_scan = [loam_run("scan", repo, "bench", *columns) for _ in range(args.runs)]
        assert all(r["rows"] == args.rows for r in loam_scan), loam_scan

        def pyarrow_scan():
            reader = ipc.open_file(pa.memory_map(f"{work}/full.arrow"))
            total = 0.0
            for i in range(reader.num_record_batches):
                total += arrow_batch_sum(reader.get_batch(i))
            return total

        def lance_scan():
            total = 0.0
            for batch in lance_ds.to_batches(columns=columns, batch_size=BATCH):
                total += arrow_batch_sum(batch)
            return total

        def hf_scan():
            total = 0.0
            for batch in hf_ds.with_format("numpy", columns=columns).iter(batch_size=BATCH):
                total += sum_batch(batch["label"], batch["features"], batch["embedding"])
            return total

        checks = {"pyarrow": pyarrow_scan(), "Lance": lance_scan(), "HF datasets": hf_scan()}
        for name, value in checks.items():
            assert abs(value - loam_scan[0]["checksum"]) <= 1e-3 * max(1.0, abs(value)), (name, value, loam_scan[0]["checksum"])
        results["scan"] = {
            "Loam": min(r["seconds"] for r in loam_scan), "pyarrow": best(pyarrow_scan, args.runs),
            "Lance": best(lance_scan, args.runs), "HF datasets": best(hf_scan, args.runs),
        }
        print("scan", results["scan"], flush=True)

        # --- take ---------------------------------------------------------------------------------
        idx = positions.tolist()
        loam_take = [loam_run("take", repo, "bench", f"{work}/positions.txt") for _ in range(args.runs)]
        mapped = ipc.open_file(pa.memory_map(f"{work}/full.arrow")).read_all()
        expected = float(np.asarray(mapped.column("label").take(pa.array(idx))).sum())
        assert loam_take[0]["rows"] == len(idx) and loam_take[0]["checksum"] == expected, (loam_take[0], expected)
        hf_numpy = hf_ds.with_format("numpy")
        results["take"] = {
            "Loam": min(r["seconds"] for r in loam_take),
            "pyarrow": best(lambda: mapped.take(pa.array(idx)), args.runs),
            "Lance": best(lambda: lance_ds.take(idx), args.runs),
            "HF datasets": best(lambda: hf_numpy[idx], args.runs),
        }
        print("take", results["take"], flush=True)

        # --- training reads through the Python client, locally and from `loam serve` ---------------
        import loam as loam_client
        server = subprocess.Popen([loam, "serve", "--repo", repo, "--port", "0", "--anonymous"], stdout=subprocess.PIPE, text=True)
        try:
            url = "http://" + server.stdout.readline().split()[1]
            local_ds = loam_client.open(repo).dataset("bench")
            remote_ds = loam_client.connect(url).dataset("bench")
            train_columns = ["label", "features", "embedding"]

            def epoch(batches):
                rows = 0
                for batch in batches:
                    rows += len(batch["label"])
                assert rows == args.rows, rows

            def arrow_epoch(batches):
                epoch({"label": b.column(0).to_numpy(), "features": b.column(1).flatten().to_numpy().reshape(-1, 16),
                       "embedding": b.column(2).flatten().to_numpy().reshape(-1, 128)} for b in batches)

            train_table = mapped.select(train_columns)
            results["epoch"] = {
                "Loam": best(lambda: epoch(local_ds.to_numpy(train_columns, batch_size=256, shuffle=False)), args.runs),
                "Loam server": best(lambda: epoch(remote_ds.to_numpy(train_columns, batch_size=256, shuffle=False)), args.runs),
                "Lance": best(lambda: arrow_epoch(lance_ds.to_batches(batch_size=256, columns=train_columns)), args.runs),
                "HF datasets": best(lambda: epoch(hf_ds.with_format("numpy").iter(batch_size=256)), 1),
                "pyarrow": best(lambda: arrow_epoch(train_table.to_batches(max_chunksize=256)), args.runs),
            }
            print("epoch", results["epoch"], flush=True)
            results["shuffled epoch"] = {
                "Loam": best(lambda: epoch(local_ds.to_numpy(train_columns, batch_size=256, seed=1)), args.runs),
                "Loam server": best(lambda: epoch(remote_ds.to_numpy(train_columns, batch_size=256, seed=1)), args.runs),
            }
            print("shuffled epoch", results["shuffled epoch"], flush=True)
            rows_wanted = np.random.default_rng(9).integers(0, args.rows, 10_000)
            results["python take"] = {
                "Loam": best(lambda: local_ds.take(rows_wanted), args.runs),
                "Loam server": best(lambda: remote_ds.take(rows_wanted), args.runs),
                "Lance": best(lambda: lance_ds.take(rows_wanted), args.runs),
                "HF datasets": best(lambda: hf_numpy[rows_wanted], args.runs),
                "pyarrow": best(lambda: mapped.take(pa.array(rows_wanted)), args.runs),
            }
            assert local_ds.take(rows_wanted).column("id").to_pylist() == remote_ds.take(rows_wanted).column("id").to_pylist()
            print("python take", results["python take"], flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)

        # --- queries: the same SQL over the same rows, each peer at its own best ---------------------
        import duckdb
        import polars as pl
        import pyarrow.compute as pc
        import sqlite3
        names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        labels = pa.table({"label": pa.array(range(10), pa.int32()), "name": names})
        with open(f"{work}/labels.csv", "w") as f:
            f.write("label,name\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names)))
        subprocess.run([loam, "import", "--repo", repo, f"{work}/labels.csv", "-d", "labels", "--schema", "label:int32", "-q"],
                       check=True, stdout=subprocess.DEVNULL)
        scalars = mapped.select(["id", "label", "score"])
        con = duckdb.connect()
        con.register("bench", mapped.select(["id", "label", "score", "embedding"]))
        con.register("labels", labels)
        lite = sqlite3.connect(":memory:")
        lite.execute("CREATE TABLE bench (id INTEGER, label INTEGER, score REAL)")
        lite.executemany("INSERT INTO bench VALUES (?, ?, ?)", zip(*[scalars.column(c).to_pylist() for c in ["id", "label", "score"]]))
        lite.execute("CREATE TABLE labels (label INTEGER PRIMARY KEY, name TEXT)")
        lite.executemany("INSERT INTO labels VALUES (?, ?)", enumerate(names))
        frame = pl.from_arrow(scalars)
        label_frame = pl.from_arrow(labels)
        embedding = mapped.column("embedding").combine_chunks().values.to_numpy().reshape(-1, 128)
        ids = mapped.column("id").to_numpy()
        q = np.random.default_rng(7).standard_normal(128).astype(np.float32)
        q_sql = "[" + ", ".join(f"{x:.6f}" for x in q) + "]"
        q = np.array([float(f"{x:.6f}") for x in q], dtype=np.float32)  # exactly the constants the SQL carries

        def numpy_top10():
            d = 1 - (embedding @ q) / (np.linalg.norm(embedding, axis=1) * np.linalg.norm(q))
            best = np.argpartition(d, 10)[:10]
            return ids[best[np.argsort(d[best])]]

        join_sql = ("SELECT l.name, count(*), avg(b.score) FROM bench b JOIN labels l ON b.label = l.label "
                    "WHERE b.score > 0.5 GROUP BY l.name ORDER BY l.name")
        queries = {
            "filter + count": "SELECT count(*) FROM bench WHERE label = 3 AND score > 0.5",
            "group-by aggregate": "SELECT label, count(*), avg(score) FROM bench GROUP BY label ORDER BY label",
            "join with a 10-row table + group-by": join_sql,
            "vector top-10 (cosine, 128-d)": f"SELECT id FROM bench ORDER BY cosine_distance(embedding, {q_sql}) LIMIT 10",
            # The everyday deduplication: the best row per key (100,000 keys), by a window function.
            "window: best row per key (100,000 keys)": "SELECT count(*), sum(id) FROM (SELECT id, row_number() OVER "
                                                       "(PARTITION BY id % 100000 ORDER BY score DESC) AS rn FROM bench) AS t WHERE rn = 1",
        }
        duck_sql = dict(queries)
        duck_sql["vector top-10 (cosine, 128-d)"] = (
            f"SELECT id FROM bench ORDER BY array_cosine_distance(embedding::FLOAT[128], {q_sql}::FLOAT[128]) LIMIT 10")
        polars_runs = {
            "filter + count": lambda: frame.filter((pl.col("label") == 3) & (pl.col("score") > 0.5)).height,
            "group-by aggregate": lambda: frame.group_by("label").agg(pl.len(), pl.col("score").mean()).sort("label"),
            "join with a 10-row table + group-by": lambda: frame.filter(pl.col("score") > 0.5).join(label_frame, on="label")
                .group_by("name").agg(pl.len(), pl.col("score").mean()).sort("name"),
            "vector top-10 (cosine, 128-d)": None,
            "window: best row per key (100,000 keys)": lambda: frame.select("id", "score")
                .filter(pl.col("score").rank("ordinal", descending=True).over(pl.col("id") % 100000) == 1)
                .select(pl.len(), pl.col("id").sum()),
        }
        # Lance answers filters itself; aggregates and joins go through pyarrow compute on what it scans.
        lance_runs = {
            "filter + count": lambda: lance_ds.count_rows("label = 3 AND score > 0.5"),
            "group-by aggregate": lambda: lance_ds.to_table(columns=["label", "score"])
                .group_by("label").aggregate([("score", "count"), ("score", "mean")]).sort_by("label"),
            "join with a 10-row table + group-by": lambda: lance_ds.to_table(columns=["label", "score"], filter="score > 0.5")
                .join(labels, "label").group_by("name").aggregate([("score", "count"), ("score", "mean")]).sort_by("name"),
            "vector top-10 (cosine, 128-d)": lambda: lance_ds.to_table(
                columns=["id"], nearest={"column": "embedding", "q": q, "k": 10, "metric": "cosine", "use_index": False}),
            "window: best row per key (100,000 keys)": None,  # no window functions in Lance or pyarrow compute
        }
        sqlite_runs = {job: (lambda sql=sql: lite.execute(sql).fetchall()) for job, sql in queries.items()}
        sqlite_runs["vector top-10 (cosine, 128-d)"] = None
        for job, sql in queries.items():
            loam_query = loam_run("query", repo, "bench", sql, str(args.runs))
            results[job] = {
                "Loam": loam_query["seconds"],
                "DuckDB": best(lambda: con.execute(duck_sql[job]).fetchall(), args.runs),
                "polars": best(polars_runs[job], args.runs) if polars_runs[job] else None,
                "sqlite3": best(sqlite_runs[job], args.runs) if sqlite_runs[job] else None,
                "Lance": best(lance_runs[job], args.runs) if lance_runs[job] else None,
            }
            if job.startswith("vector"):
                results[job]["numpy"] = best(numpy_top10, args.runs)
                assert loam_query["checksum"] == float(numpy_top10()[0]), (loam_query, numpy_top10())
            if job.startswith("window"):  # every engine found the same rows
                count, total = con.execute(duck_sql[job]).fetchone()
                assert loam_query["checksum"] == float(total), (loam_query, total)
                assert polars_runs[job]().row(0) == (count, total)
            print(job, results[job], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    versioning = versioning_jobs(args, loam, loam_bench, lance) if args.versioning_rows else None
    tracking = tracking_jobs(args, loam, loam_bench) if not args.skip_tracking else None
    training_jobs = {job: results.pop(job) for job in ["epoch", "shuffled epoch", "python take"] if job in results}
    query_jobs = {job: results.pop(job) for job in list(results) if job not in ("import", "scan", "take")}

    peers = ["pyarrow", "Lance", "HF datasets"]
    versions = {"pyarrow": pa.__version__, "Lance": lance.__version__, "HF datasets": datasets.__version__}
    if tracking:
        versions["MLflow"] = __import__("mlflow").__version__
    jobs = {
        "import": f"CSV import, {args.rows:,} rows × 4 columns ({csv_mb:.0f} MB)",
        "scan": f"scan label + features[16] + embedding[128], {args.rows:,} rows, summed",
        "take": "take 10,000 random rows, all 6 columns",
    }
    lines = [
        f"# Loam benchmark — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"{os.cpu_count()} cores; best of {args.runs} warm runs (import: best of 2). "
        + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "Ratio = peer time / Loam time: above 1 means Loam is faster.",
        "",
        "| job | Loam | " + " | ".join(peers) + " |",
        "|---|---|" + "---|" * len(peers),
    ]
    for job, label in jobs.items():
        r = results[job]
        cells = [f"{r[p]:.3f} s ({r[p] / r['Loam']:.2f}×)" for p in peers]
        lines.append(f"| {label} | {r['Loam']:.3f} s | " + " | ".join(cells) + " |")
    if training_jobs:
        labels = {"epoch": "epoch in NumPy batches of 256 (label, features, embedding)",
                  "shuffled epoch": "the same, globally shuffled (seed 1)", "python take": "take 10,000 random rows, all columns"}
        peers_t = ["Loam server", "Lance", "HF datasets", "pyarrow"]
        lines += ["", f"Training reads from Python over {args.rows:,} rows (Loam: `loam.open`; Loam server: `loam.connect` to `loam serve` "
                  "on loopback; pyarrow: a memory-mapped Arrow file):", "",
                  "| job | Loam | " + " | ".join(peers_t) + " |", "|---|---|" + "---|" * len(peers_t)]
        for job, r in training_jobs.items():
            cells = [f"{r[p]:.3f} s ({r[p] / r['Loam']:.2f}×)" if r.get(p) else "—" for p in peers_t]
            lines.append(f"| {labels[job]} | {r['Loam']:.3f} s | " + " | ".join(cells) + " |")
    if query_jobs:
        lines += ["", f"Queries over {args.rows:,} rows, in one process each, best of {args.runs} "
                  "(Lance: its own filter and nearest search, pyarrow compute for aggregates and joins; numpy: brute-force cosine):", "",
                  "| query | Loam | DuckDB | polars | sqlite3 | Lance | numpy |", "|---|---|---|---|---|---|---|"]
        for job, r in query_jobs.items():
            cells = [f"{r[p]:.4f} s ({r[p] / r['Loam']:.2f}×)" if r.get(p) else "—" for p in ["DuckDB", "polars", "sqlite3", "Lance", "numpy"]]
            lines.append(f"| {job} | {r['Loam']:.4f} s | " + " | ".join(cells) + " |")
    if versioning:
        lines += ["", "Version control (time should not grow with the table; the diff grows with the change):", "",
                  "| job | " + " | ".join(f"Loam {n:,} rows" for n in args.versioning_rows) + " | "
                  + " | ".join(f"Lance {n:,} rows" for n in args.versioning_rows) + " | Loam large/small |",
                  "|---|" + "---|" * (2 * len(args.versioning_rows) + 1)]
        for job, by_size in versioning.items():
            loam_cells = [f"{by_size[n]['Loam']:.4f} s" for n in args.versioning_rows]
            lance_cells = [f"{by_size[n]['Lance']:.4f} s ({by_size[n]['Lance'] / by_size[n]['Loam']:.2f}×)" if by_size[n].get("Lance") else "—"
                           for n in args.versioning_rows]
            growth = by_size[args.versioning_rows[-1]]["Loam"] / by_size[args.versioning_rows[0]]["Loam"]
            lines.append(f"| {job} | " + " | ".join(loam_cells) + " | " + " | ".join(lance_cells) + f" | {growth:.2f}× |")
    if tracking:
        lines += tracking_lines(tracking)
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    with open(f"{out}/latest.md", "w") as f:
        f.write(report)
    with open(f"{out}/{datetime.datetime.now(datetime.timezone.utc):%Y%m%d-%H%M%S}.json", "w") as f:
        json.dump({"rows": args.rows, "results": results, "training": training_jobs, "tracking": tracking, "queries": query_jobs, "versioning": versioning, "versions": versions}, f, indent=1)


WRK_METRIC = """
-- One log-metric call per request; every point is new (MLflow treats a repeated point as a conflict).
local run_id = os.getenv("RUN_ID")
local count = 0
function setup(thread) count = count + 1; thread:set("tid", count) end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local step = tid * 100000000 + n
  return wrk.format(nil, "/api/2.0/mlflow/runs/log-metric", nil,
    string.format('{"run_id": "%s", "key": "loss", "value": %.6f, "timestamp": %d, "step": %d}', run_id, 1 / step, 1700000000000 + step, step))
end
"""

WRK_BATCH = """
-- One log-batch call of 1,000 metrics per request, under a key of its own, so every point is new.
local run_id = os.getenv("RUN_ID")
local count = 0
function setup(thread) count = count + 1; thread:set("tid", count) end
local template
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  if template == nil then
    local parts = {}
    for i = 1, 1000 do parts[i] = string.format('{"key": "@K", "value": %.4f, "timestamp": %d, "step": %d}', i / 1e4, 1700000000000 + i, i) end
    template = '{"run_id": "' .. run_id .. '", "metrics": [' .. table.concat(parts, ", ") .. ']}'
  end
  n = n + 1
  return wrk.format(nil, "/api/2.0/mlflow/runs/log-batch", nil, (template:gsub("@K", "acc_" .. tid .. "_" .. n)))
end
"""


def wrk(url, script, run_id, connections, seconds):
    """Requests per second from wrk (C, keep-alive) running `script`; every answer must be a 2xx."""
    out = subprocess.run(["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "-s", script, url],
                         env={**os.environ, "RUN_ID": run_id}, check=True, capture_output=True, text=True).stdout
    print(f"  wrk -c{connections} {os.path.basename(script)}: " + " ".join(out.split("Requests/sec:")[1].split()[:1]), flush=True)
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    return float(out.split("Requests/sec:")[1].split()[0])


MLFLOW_ONE = "MLflow, 1 worker"
MLFLOW_DEFAULT = "MLflow, default 4 workers"


def tracking_jobs(args, loam, loam_bench):
    """The issue's MlflowClient calls against `loam serve` and `mlflow server` (SQLite backend), the same calls
    against a null server (the client's own cost), and the servers alone under wrk."""
    import socket
    import urllib.request
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    work = tempfile.mkdtemp(prefix="loam-bench-tracking-", dir=os.environ.get("LOAM_BENCH_DIR"))
    scripts = {}
    for name, text in (("metric", WRK_METRIC), ("batch", WRK_BATCH)):
        scripts[name] = f"{work}/{name}.lua"
        with open(scripts[name], "w") as f:
            f.write(text)

    def start_loam():
        subprocess.run([loam, "init", f"{work}/loam"], check=True, stdout=subprocess.DEVNULL)
        server = subprocess.Popen([loam, "serve", "--repo", f"{work}/loam", "--port", "0", "--anonymous"], stdout=subprocess.PIPE, text=True)
        return server, "http://" + server.stdout.readline().split()[1]

    def start_mlflow(workers):
        port = free_port()
        mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
        server = subprocess.Popen([mlflow_bin, "server", "--backend-store-uri", f"sqlite:///{work}/mlflow-{port}.db", "--artifacts-destination",
                                   f"{work}/mlartifacts-{port}", "--host", "127.0.0.1", "--port", str(port)]
                                  + (["--workers", str(workers)] if workers else []),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        return server, url

    def start_null():
        server = subprocess.Popen([loam_bench, "null-http"], stdout=subprocess.PIPE, text=True)
        return server, "http://" + server.stdout.readline().split()[1]

    batches = [[Metric("acc", i / 1e4, 1_700_000_000_000 + i, b * 1000 + i) for i in range(1000)] for b in range(11)]
    client_jobs, server_jobs = {}, {}
    try:
        # One server at a time, so none competes with another for the two cores.
        servers = (("Loam", start_loam), (MLFLOW_ONE, lambda: start_mlflow(1)), (MLFLOW_DEFAULT, lambda: start_mlflow(None)),
                   ("client alone", start_null))
        for name, start_server in servers:
            server, url = start_server()
            try:
                client = MlflowClient(tracking_uri=url)
                null = name == "client alone"  # answers {} to everything: only the logging calls mean anything
                experiment = "0" if null else client.create_experiment("bench")
                run_id = "0" * 32 if null else client.create_run(experiment).info.run_id
                # The same warm-up on every server: MLflow answers its first calls several times slower.
                for i in range(300):
                    client.log_metric(run_id, "warm-up", float(i), step=i)
                client.log_batch(run_id, metrics=batches[10])
                timings = {}
                start = time.perf_counter()
                for i in range(1000):
                    client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
                timings["1,000 single log_metric calls"] = time.perf_counter() - start
                start = time.perf_counter()
                for b in range(10):
                    client.log_batch(run_id, metrics=batches[b])
                timings["10,000 metrics in 10 log_batch calls"] = time.perf_counter() - start
                if not null:
                    sweep = client.create_experiment("sweep")
                    start = time.perf_counter()
                    for r in range(200):
                        rid = client.create_run(sweep).info.run_id
                        client.log_batch(rid, params=[Param(f"p{j}", str(r * j)) for j in range(10)])
                    timings["200 runs created with 10 params each"] = time.perf_counter() - start
                    start = time.perf_counter()
                    found = client.search_runs([sweep], filter_string="params.p1 != '7'", max_results=1000)
                    timings["search_runs over the 200 runs"] = time.perf_counter() - start
                    assert len(found) == 199, len(found)
                    assert len(client.get_metric_history(run_id, "loss")) == 1000
                    # The servers alone: wrk sends the same JSON bodies over keep-alive connections.
                    loaded = {
                        "log-metric, one connection (calls/s)": wrk(url, scripts["metric"], run_id, 1, 5),
                        "log-metric, 16 connections (calls/s)": wrk(url, scripts["metric"], run_id, 16, 5),
                        "log-batch of 1,000 metrics, one connection (metrics/s)": 1000 * wrk(url, scripts["batch"], run_id, 1, 5),
                        "log-batch of 1,000 metrics, 8 connections (metrics/s)": 1000 * wrk(url, scripts["batch"], run_id, 8, 5),
                    }
                    for job, rate in loaded.items():
                        server_jobs.setdefault(job, {})[name] = rate
                for job, seconds in timings.items():
                    client_jobs.setdefault(job, {})[name] = seconds
                print(name, timings, flush=True)
            finally:
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
        return {"client": client_jobs, "server": server_jobs}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tracking_lines(tracking):
    mlflows = [MLFLOW_ONE, MLFLOW_DEFAULT]
    lines = ["", "Experiment tracking: the same `MlflowClient` calls against `loam serve`, `mlflow server` (SQLite backend; with one "
             "worker, its fastest setting here, and with its default four) and a null server that answers `{}` at once. The null "
             "server measures the client's own cost, so MLflow / client alone is the most any server could show through this client:", "",
             "| job | Loam | " + " | ".join(mlflows) + " | client alone | MLflow, 1 worker / client alone |", "|---|---|---|---|---|---|"]
    for job, r in tracking["client"].items():
        alone = r.get("client alone")
        cells = [f"{r[m]:.3f} s ({r[m] / r['Loam']:.1f}×)" for m in mlflows]
        lines.append(f"| {job} | {r['Loam']:.3f} s | " + " | ".join(cells) + " | "
                     + (f"{alone:.3f} s | {r[MLFLOW_ONE] / alone:.1f}× |" if alone else "— | — |"))
    lines += ["", "The servers alone: wrk (C, keep-alive) sends the same JSON bodies, every point a new one, for 5 s each "
              "(ratio = Loam / MLflow):", "", "| job | Loam | " + " | ".join(mlflows) + " |", "|---|---|---|---|"]
    for job, r in tracking["server"].items():
        lines.append(f"| {job} | {r['Loam']:,.0f} | " + " | ".join(f"{r[m]:,.0f} ({r['Loam'] / r[m]:.1f}×)" for m in mlflows) + " |")
    return lines


def versioning_jobs(args, loam, loam_bench, lance):
    """Commit a 1,000-row change, diff a 1% change, create a branch: at each size, Loam beside Lance."""
    results = {"append 1,000 rows (one commit)": {}, "delete 1,000 rows (one commit)": {},
               "diff after a 1% update": {}, "create a branch": {}}
    for n in args.versioning_rows:
        work = tempfile.mkdtemp(prefix="loam-bench-vc-", dir=os.environ.get("LOAM_BENCH_DIR"))
        try:
            print(f"versioning jobs at {n:,} rows in {work} …", flush=True)
            rng = np.random.default_rng(7)
            ids = np.arange(n, dtype=np.int64)
            table = pa.table({"id": ids, "label": rng.integers(0, 10, n, dtype=np.int32), "score": rng.random(n),
                              "text": pa.array(np.char.add("row ", ids.astype(str)))})
            with ipc.new_file(f"{work}/base.arrow", table.schema) as w:
                w.write_table(table, max_chunksize=BATCH)
            change = pa.table({"id": np.arange(n, n + 1000, dtype=np.int64), "label": np.zeros(1000, dtype=np.int32),
                               "score": np.zeros(1000), "text": pa.array(["new"] * 1000)})
            with ipc.new_file(f"{work}/change.arrow", change.schema) as w:
                w.write_table(change)
            repo = f"{work}/loam"
            subprocess.run([loam, "init", repo], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([loam, "import", "--repo", repo, f"{work}/base.arrow", "-d", "t", "-q"], check=True, stdout=subprocess.DEVNULL)
            lance_uri = f"{work}/lance"
            lance.write_dataset(table, lance_uri, max_rows_per_group=BATCH)
            del table

            def loam_run(*argv):
                return json.loads(subprocess.run([loam_bench, *argv], check=True, capture_output=True, text=True).stdout)

            timings = {}
            timings["append 1,000 rows (one commit)"] = {
                "Loam": min(loam_run("append", repo, "t", f"{work}/change.arrow")["seconds"] for _ in range(args.runs)),
                "Lance": best(lambda: lance.write_dataset(change, lance_uri, mode="append"), args.runs)}
            deletes = [f"id >= {k * 1000} AND id < {(k + 1) * 1000}" for k in range(args.runs)]
            timings["delete 1,000 rows (one commit)"] = {
                "Loam": min(loam_run("delete", repo, "t", where)["seconds"] for where in deletes),
                "Lance": min(best(lambda: lance.dataset(lance_uri).delete(f"id >= {(k + 10) * 1000} AND id < {(k + 11) * 1000}"), 1)
                             for k in range(args.runs))}
            # 1% of the rows, scattered: every 100th id.
            subprocess.run([loam, "update", "--repo", repo, "t", "--set", "score=-1", "--where", "label = 3 AND score < 0.1"],
                           check=True, stdout=subprocess.DEVNULL)
            diff = [loam_run("diff", repo, "t", "HEAD~1", "HEAD") for _ in range(args.runs)]
            timings["diff after a 1% update"] = {"Loam": min(r["seconds"] for r in diff), "rows": diff[0]["rows"]}
            timings["create a branch"] = {"Loam": min(loam_run("branch", repo, "t", f"b{k}")["seconds"] for k in range(args.runs))}
            for job, value in timings.items():
                results[job][n] = value
            print(n, timings, flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
