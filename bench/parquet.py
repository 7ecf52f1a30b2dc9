"""Parquet import and export, Loam beside pyarrow, DuckDB and polars (one run of each job,
best of --runs). Every system does the whole job:

  import  the file → every column decoded and persisted on disk as the system's own table:
          Loam: `loam import` into a repository (Arrow fragments, committed);
          DuckDB: CREATE TABLE … AS SELECT * FROM read_parquet(…) in a database file;
          pyarrow: pq.read_table, then the table written as an Arrow IPC file;
          polars: pl.read_parquet, then DataFrame.write_ipc.
  export  that persisted table → a snappy Parquet file on disk (Loam: `loam export --format parquet`;
          DuckDB: COPY t TO; pyarrow: the IPC file memory-mapped, pq.write_table;
          polars: pl.read_ipc, DataFrame.write_parquet).
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROWS, best, generate  # noqa: E402

import duckdb  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    loam = os.path.join(args.bin, "loam")
    work = tempfile.mkdtemp(prefix="loam-parquet-bench-")
    results = {}
    try:
        table, _ = generate(work, args.rows)
        for codec in ("snappy", "zstd"):
            path = f"{work}/bench-{codec}.parquet"
            pq.write_table(table, path, compression=codec)
            size = os.path.getsize(path) / 1e6

            def loam_import():
                repo = f"{work}/loam-{codec}"
                shutil.rmtree(repo, ignore_errors=True)
                subprocess.run([loam, "init", repo], check=True, stdout=subprocess.DEVNULL)
                subprocess.run([loam, "import", "--repo", repo, path, "-d", "t", "-q"], check=True, stdout=subprocess.DEVNULL)

            def duckdb_import():
                db = f"{work}/duck-{codec}.db"
                if os.path.exists(db):
                    os.remove(db)
                con = duckdb.connect(db)
                con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{path}')")
                con.close()

            def pyarrow_import():
                table = pq.read_table(path)
                with pa.ipc.new_file(f"{work}/pyarrow-{codec}.arrow", table.schema) as w:
                    w.write_table(table)

            def polars_import():
                pl.read_parquet(path).write_ipc(f"{work}/polars-{codec}.arrow")

            results[f"import-{codec}"] = {
                "label": f"import {args.rows:,} rows × 6 columns, {codec} ({size:.0f} MB)",
                "Loam": best(loam_import, args.runs), "DuckDB": best(duckdb_import, args.runs),
                "pyarrow": best(pyarrow_import, args.runs), "polars": best(polars_import, args.runs),
            }
            print(results[f"import-{codec}"], flush=True)

        repo = f"{work}/loam-snappy"
        check = subprocess.run([loam, "count", "t", "--repo", repo], check=True, capture_output=True, text=True).stdout
        assert str(args.rows) in check.replace(",", ""), check
        con = duckdb.connect(f"{work}/duck-snappy.db")
        out = f"{work}/out.parquet"

        def loam_export():
            subprocess.run([loam, "export", "t", "--repo", repo, "--format", "parquet", "-o", out], check=True, stdout=subprocess.DEVNULL)

        def duckdb_export():
            con.execute(f"COPY t TO '{out}' (FORMAT parquet, COMPRESSION snappy)")

        def pyarrow_export():
            table = pa.ipc.open_file(pa.memory_map(f"{work}/pyarrow-snappy.arrow")).read_all()
            pq.write_table(table, out, compression="snappy")

        def polars_export():
            pl.read_ipc(f"{work}/polars-snappy.arrow").write_parquet(out, compression="snappy")

        results["export"] = {"label": f"export {args.rows:,} rows × 6 columns to snappy Parquet",
                             "Loam": best(loam_export, args.runs), "DuckDB": best(duckdb_export, args.runs),
                             "pyarrow": best(pyarrow_export, args.runs), "polars": best(polars_export, args.runs)}
        print(results["export"], flush=True)
        loam_export()
        back = pq.read_table(out)
        assert back.num_rows == args.rows and back.column("id").to_pylist()[:3] == [0, 1, 2]
        con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    stamp = datetime.datetime.now(datetime.timezone.utc)
    os.makedirs("bench/results", exist_ok=True)
    with open(f"bench/results/{stamp:%Y%m%d-%H%M%S}-parquet.json", "w") as f:
        json.dump(results, f, indent=1)
    peers = ["DuckDB", "pyarrow", "polars"]
    lines = [f"# Parquet import and export — {stamp:%Y-%m-%d %H:%M} UTC", "",
             f"{os.cpu_count()} cores; best of {args.runs}. pyarrow {pa.__version__}, DuckDB {duckdb.__version__}, polars {pl.__version__}.",
             "Ratio = peer time / Loam time: above 1 means Loam is faster. Import: every system decodes every column and",
             "persists its own table on disk (Loam: a commit of Arrow fragments; DuckDB: a database file; pyarrow and polars:",
             "an Arrow IPC file). Export: each reads its persisted table and writes one snappy Parquet file.", "",
             "| job | Loam | " + " | ".join(peers) + " |", "|---|---|" + "---|" * len(peers)]
    for job in results.values():
        cells = [f"{job[p]:.3f} s ({job[p] / job['Loam']:.2f}×)" for p in peers]
        lines.append(f"| {job['label']} | {job['Loam']:.3f} s | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    with open("bench/results/parquet-latest.md", "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
