"""Issue 18's first rows: profiling and checking expectations on a 10M-row dataset, and what the gate adds to a
1,000-row append (the target: proportional to the append, under 50 ms). Loam only so far; the peers (Great
Expectations, pandera, Soda) are still to come. Run through bench/quality.sh."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

EXPECTATIONS = """
[[expect]]
kind = "not_null"
column = "id"
gate = true
[[expect]]
kind = "range"
column = "score"
min = 0
max = 1
gate = true
[[expect]]
kind = "in"
column = "label"
values = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
gate = true
[[expect]]
kind = "regex"
column = "text"
pattern = '^review [0-9]+$'
gate = true
[[expect]]
kind = "mean"
column = "score"
min = 0.45
max = 0.55
gate = true
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    loam = f"{args.bin}/loam"
    work = tempfile.mkdtemp(prefix="loam-quality-")
    results = {"rows": args.rows}

    def run(*argv, check=True):
        start = time.perf_counter()
        done = subprocess.run([loam, *argv], capture_output=True, text=True, cwd=f"{work}/repo")
        if check:
            assert done.returncode == 0, done.stderr
        return time.perf_counter() - start, done

    def table(start, n, rng):
        return pa.table({"id": pa.array(np.arange(start, start + n)), "label": pa.array(rng.integers(0, 10, n), pa.int32()),
                         "score": pa.array(rng.random(n)), "text": pa.array([f"review {i}" for i in range(start, start + n)])})
    try:
        rng = np.random.default_rng(18)
        with ipc.new_file(f"{work}/data.arrow", table(0, 1, rng).schema) as w:
            for chunk in range(0, args.rows, 1_000_000):
                w.write_table(table(chunk, min(1_000_000, args.rows - chunk), rng))
        appends = []
        for k in range(6):
            with ipc.new_file(f"{work}/append{k}.arrow", table(0, 1, rng).schema) as w:
                w.write_table(table(args.rows + k * 1000, 1000, rng))
            appends.append(f"{work}/append{k}.arrow")
        subprocess.run([loam, "init", f"{work}/repo"], check=True, capture_output=True)
        results["import"] = run("import", f"{work}/data.arrow", "-d", "t", "-q")[0]
        results["profile, cold (every fragment sketched)"] = run("profile", "t", "--json")[0]
        results["profile, warm (sketches kept)"] = run("profile", "t", "--json")[0]
        with open(f"{work}/t.toml", "w") as f:
            f.write(EXPECTATIONS)
        results["set 5 gated expectations (checks the whole dataset once)"] = run("expect", "t", "--file", f"{work}/t.toml")[0]
        seconds, done = run("check", "t", "--json")
        assert json.loads(done.stdout)["passed"], done.stdout
        results["check 5 expectations (whole dataset)"] = seconds
        # Appends of 1,000 rows: with the gates, then (after removing them) without; the difference is the gate.
        gated = [run("import", appends[k], "-d", "t", "-q")[0] for k in range(3)]
        run("expect", "t", "--clear")
        plain = [run("import", appends[k], "-d", "t", "-q")[0] for k in range(3, 6)]
        results["append 1,000 rows with 5 gates (median of 3, process included)"] = statistics.median(gated)
        results["append 1,000 rows without gates (median of 3, process included)"] = statistics.median(plain)
        results["what the gates add to the append"] = statistics.median(gated) - statistics.median(plain)
        for key, value in results.items():
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
