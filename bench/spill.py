"""Queries over a dataset five times larger than the memory budget, beside DuckDB with the
same memory_limit (both spill to disk), and the cost of checksum verification on a scan.

Both systems read the same rows, run the same SQL and write every result row to a CSV file
(a sort or a 10M-group GROUP BY has to produce its rows, not count them). Times are the best
of --runs, wall clock; the ratio is DuckDB's time over Loam's (above 1: Loam is faster). A DuckDB
"out of memory" is DuckDB stopping at that memory_limit (it could not spill that plan).

    bash bench/spill.sh [--rows 10000000] [--runs 1]
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import time

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv


def timed(fn, runs):
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    loam = f"{args.bin}/loam"
    work = tempfile.mkdtemp(prefix="loam-spill-bench-", dir=os.environ.get("LOAM_BENCH_DIR"))
    try:
        rng = np.random.default_rng(7)
        n = args.rows
        # g: n distinct group keys in random order; id: a permutation, the self-join's key; s: short text.
        table = pa.table({
            "id": rng.permutation(n).astype(np.int64),
            "g": rng.permutation(n).astype(np.int64),
            "v": rng.random(n),
            "s": pa.array([f"k{x:07d}" for x in rng.integers(0, 10_000_000, n)]),
        })
        data_bytes = table.nbytes
        budget = data_bytes // 5
        budget_text = f"{budget // 1_000_000}MB"
        csv = f"{work}/t.csv"
        pacsv.write_csv(table, csv)
        repo = f"{work}/repo"
        subprocess.run([loam, "init", repo], check=True, capture_output=True)
        subprocess.run([loam, "import", csv, "--dataset", "t", "--repo", repo, "--quiet",
                        "--schema", "id:int64,g:int64,v:float64,s:utf8"], check=True)
        db = duckdb.connect(f"{work}/t.duckdb")
        db.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}', columns={{'id': 'BIGINT', 'g': 'BIGINT', 'v': 'DOUBLE', 's': 'VARCHAR'}}, header=true)")
        db.execute(f"SET memory_limit = '{budget_text}'")
        db.execute("SET threads = 2")
        db.execute(f"SET temp_directory = '{work}/duckdb-tmp'")
        db.execute("SET preserve_insertion_order = false")
        print(f"{n:,} rows, {data_bytes / 1e6:.0f} MB in Arrow; memory_limit {budget_text} for both", flush=True)

        queries = {
            "ORDER BY (all rows, by a float)": "SELECT id, v, s FROM t ORDER BY v",
            f"GROUP BY {n // 1_000_000}M groups": "SELECT g, count(*) AS n, sum(v) AS total FROM t GROUP BY g",
            "self-join on a unique key": "SELECT count(*) AS n, sum(a.v * b.v) AS dot FROM t AS a JOIN t AS b ON a.id = b.g",
        }
        rows = []
        for name, sql in queries.items():
            out = f"{work}/out.csv"

            def loam_run():
                subprocess.run([loam, "query", sql, "--repo", repo, "--memory-limit", budget_text, "--format", "csv", "-o", out],
                               check=True, capture_output=True, env={**os.environ, "LOAM_SPILL_DIR": f"{work}/loam-tmp"})

            def duck_run():
                db.execute(f"COPY ({sql}) TO '{out}' (HEADER)")

            lt = timed(loam_run, args.runs)
            loam_lines = sum(1 for _ in open(out))
            print(f"{name}: Loam {lt:.2f} s, {loam_lines - 1:,} rows out", flush=True)
            try:
                dt = timed(duck_run, args.runs)
                duck_lines = sum(1 for _ in open(out))
                assert loam_lines == duck_lines, (name, loam_lines, duck_lines)
                print(f"{name}: DuckDB {dt:.2f} s ({dt / lt:.2f}×)", flush=True)
            except duckdb.OutOfMemoryException as error:
                dt = None
                print(f"{name}: DuckDB stopped: {str(error).splitlines()[0]}", flush=True)
            rows.append({"query": name, "loam_s": lt, "duckdb_s": dt, "rows_out": loam_lines - 1})

        # Checksums: cold, one-shot full scans (a process each) with verification (the default) and without (LOAM_VERIFY=0).
        scans = {"three numeric columns": "SELECT sum(id), sum(g), sum(v) FROM t",
                 "all four columns": "SELECT sum(id), sum(g), sum(v), count(s) FROM t"}
        verify = {}
        for scan_name, scan in scans.items():
            for label, env in (("verified", {}), ("unverified", {"LOAM_VERIFY": "0"})):
                verify[f"{scan_name}, {label}"] = timed(lambda: subprocess.run([loam, "query", scan, "--repo", repo], check=True, capture_output=True,
                                                                                env={**os.environ, **env}), max(args.runs, 5))
            overhead = verify[f"{scan_name}, verified"] / verify[f"{scan_name}, unverified"] - 1
            print(f"checksum verification, {scan_name}: {verify[f'{scan_name}, verified']:.3f} s vs {verify[f'{scan_name}, unverified']:.3f} s ({overhead:+.1%})")

        lines = [f"## Beyond the memory budget ({n:,} rows, {data_bytes / 1e6:.0f} MB; memory_limit {budget_text} for both)", "",
                 "| query | Loam | DuckDB | DuckDB / Loam |", "|---|---|---|---|"]
        lines += [f"| {r['query']} | {r['loam_s']:.2f} s | " + (f"{r['duckdb_s']:.2f} s | {r['duckdb_s'] / r['loam_s']:.2f}× |" if r["duckdb_s"] else "out of memory | — |")
                  for r in rows]
        lines += ["", f"Checksum verification on a cold full scan (one process per run, best of {max(args.runs, 5)}; LOAM_VERIFY=0 turns it off):", "",
                  "| scan | verified | unverified | overhead |", "|---|---|---|---|"]
        for scan_name in scans:
            on, off = verify[f"{scan_name}, verified"], verify[f"{scan_name}, unverified"]
            lines.append(f"| {scan_name} | {on:.3f} s | {off:.3f} s | {on / off - 1:+.1%} |")
        report = "\n".join(lines) + "\n"
        print()
        print(report)
        out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
        stamp = f"{datetime.datetime.now(datetime.timezone.utc):%Y%m%d-%H%M%S}"
        with open(f"{out_dir}/spill-latest.md", "w") as f:
            f.write(report)
        with open(f"{out_dir}/{stamp}-spill.json", "w") as f:
            json.dump({"rows": n, "data_bytes": data_bytes, "memory_limit": budget_text, "queries": rows, "checksums": verify,
                       "versions": {"DuckDB": duckdb.__version__}}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
