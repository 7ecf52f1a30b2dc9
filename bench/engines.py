"""Issue 17's engine rows: Spark 4 and Ray Data scanning 10M rows of a Loam dataset (one task per fragment,
through loam.engines) beside the same engines reading the same rows from Parquet (and Lance for Ray).
Every system does the same work: count and sum(score) per label over every row. Run through bench/engines.sh."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

import loam.engines as engines


def best_checked(fn, runs, check):
    """The best time of `runs` runs of `fn`, each run's answer checked."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - start)
        check(answer)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="loam-engines-")
    results = {"rows": args.rows}
    try:
        rng = np.random.default_rng(7)
        n = args.rows
        table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "label": pa.array(rng.integers(0, 10, n, dtype=np.int32)),
                          "score": pa.array(rng.random(n))})
        data = f"{work}/data.arrow"
        with ipc.new_file(data, table.schema) as w:
            w.write_table(table, max_chunksize=1 << 20)
        repo = f"{work}/repo"
        subprocess.run([f"{args.bin}/loam", "init", repo], check=True, capture_output=True)
        subprocess.run([f"{args.bin}/loam", "import", data, "-d", "t", "-q", "--fragment-rows", str(1 << 20), "--repo", repo], check=True)
        parquet = f"{work}/parquet"
        os.makedirs(parquet)
        for k, start in enumerate(range(0, n, 1 << 20)):  # one file per Loam fragment: the same number of tasks
            pq.write_table(table.slice(start, 1 << 20), f"{parquet}/part-{k:04d}.parquet")
        expected = {int(l): (int(c), float(s)) for l, c, s in
                    zip(*[np.asarray(x) for x in pa.TableGroupBy(table, "label").aggregate([("id", "count"), ("score", "sum")]).sort_by("label").columns])}
        plan = engines.plan(repo, "t", columns=["label", "score"])
        results["tasks"] = len(plan.tasks)

        def check(rows):
            got = {int(r[0]): (int(r[1]), float(r[2])) for r in rows}
            assert got.keys() == expected.keys() and all(got[k][0] == expected[k][0] and abs(got[k][1] - expected[k][1]) < 1e-6 * expected[k][1]
                                                         for k in got), (got, expected)

        # --- Spark ----------------------------------------------------------------------------
        from pyspark.sql import SparkSession
        os.environ["PYSPARK_PYTHON"] = sys.executable
        spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
                 .config("spark.driver.memory", "4g").getOrCreate())
        spark.dataSource.register(engines.SparkDataSource)

        def spark_query(frame):
            return lambda: [tuple(r) for r in frame.groupBy("label").agg({"*": "count", "score": "sum"}).select("label", "count(1)", "sum(score)").collect()]
        loam_frame = spark.read.format("loam").option("dataset", "t").option("columns", "label,score").load(repo)
        parquet_frame = spark.read.parquet(parquet).select("label", "score")
        spark_rows = {name: best_checked(spark_query(frame), args.runs, check) for name, frame in [("Loam", loam_frame), ("Parquet", parquet_frame)]}
        results["Spark: count + sum(score) by label"] = spark_rows
        print("spark", spark_rows, flush=True)
        spark.stop()

        # --- Ray ------------------------------------------------------------------------------
        import ray
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        lance_uri = f"{work}/t.lance"
        import lance
        lance.write_dataset(table, lance_uri, max_rows_per_file=1 << 20)

        def ray_query(make):
            def run():
                grouped = make().groupby("label").aggregate(ray.data.aggregate.Count(), ray.data.aggregate.Sum("score")).take_all()
                return [(g["label"], g["count()"], g["sum(score)"]) for g in grouped]
            return run
        ray_rows = {name: best_checked(ray_query(make), args.runs, check) for name, make in [("Loam", lambda: ray.data.read_datasource(engines.RayDatasource(plan))),
                           ("Parquet", lambda: ray.data.read_parquet(parquet, columns=["label", "score"])),
                           ("Lance", lambda: ray.data.read_lance(lance_uri, columns=["label", "score"]))]}
        results["Ray Data: count + sum(score) by label"] = ray_rows
        print("ray", ray_rows, flush=True)
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
