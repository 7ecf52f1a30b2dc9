"""Data quality (issue 18), one run, release build, beside Great Expectations, pandera, Soda (with DuckDB) and datasketch.

- data: N rows (`id` int64, `label` int32 0–9, `score` float64 in [0, 1), `text` "review <id>", `key` int64 unique
  in no order), one Arrow IPC file that
  `loam import` reads and the same table as one Parquet file that the peers read. Every expectation holds on every row,
  so no system can stop early.
- check: five expectations (id not null; score in [0, 1]; label in 0–9; text matches ^review [0-9]+$; mean(score) in
  [0.45, 0.55]) over the whole dataset. Loam: `loam check` (a process, reading its repository). Great Expectations and
  pandera: the Parquet file read into pandas, then validated (both times shown; the sum is the row's figure). Soda:
  a scan of SodaCL checks on DuckDB over the Parquet file (DuckDB reads as it checks). Not quite the same work:
  Loam's four row-by-row expectations read every value of their columns, but its `mean` comes from the kept
  per-fragment sketches (made in the cold-profile row before it), where the peers compute the mean from the values.
- append: a 1,000-row `loam import` with the five expectations as commit gates, against the same append without
  them (the median of 5 each; the difference is the gates' share). The gates read the new rows for the four row-by-row
  kinds, and for the mean merge the parent's kept sketches with the new rows' sketch of `score`. The peers know
  nothing of what changed: their only way to check the appended table is the whole check again.
- unique(key), keys in no order: Loam's answer by SQL over every row (what its check did before the key index), then
  `loam expect` setting it as a gate (checks it, building the key index), `loam check` with the index kept, and a
  1,000-row append with that gate (less the append without gates). Peers: DuckDB's GROUP BY over the Parquet file, and
  pandas `duplicated` (the column read included); they have no index, so after an append they check again.
- profile: `loam profile` (per column count, nulls, distinct, min/max, mean, std, quantiles, histogram, top values,
  string lengths), cold (every fragment sketched) and warm (the kept sketches). Peers: DuckDB's SUMMARIZE (count,
  nulls, approximate distinct, min/max, mean, std, quartiles; Soda's engine, as Soda's own profiling needs Soda Cloud),
  pandas computing what `loam profile` computes (read included), and pandera's infer_schema (read included). Great
  Expectations 1.x has no profiler (1.0 removed them), so its cell says so.
- near-dedup: M short texts with planted near-copies (one character changed), MinHash with 128 permutations and LSH at
  Jaccard 0.8 over lowercased character 5-grams. Loam: `loam dedupe --near text --threshold 0.8 --json` (reads the
  repository, clusters). datasketch: MinHash.bulk over the texts in memory, MinHashLSH insert and a query per text,
  clusters by union-find (its candidates are not verified, which is less work than Loam's). Recall: the share of planted
  pairs put together; precision: the share of the pairs put together whose exact Jaccard is at least 0.7.

    bash bench/quality.sh [--sizes 1000000,10000000] [--dedupe-rows 1000000]
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

REGEX = "^review [0-9]+$"
EXPECTATIONS = f"""
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
pattern = '{REGEX}'
gate = true
[[expect]]
kind = "mean"
column = "score"
min = 0.45
max = 0.55
gate = true
"""


def table(start, n, rng):
    # `key`: unique but in no order (row i's is i times an odd constant, mod 2^64), for the unique gate.
    key = (np.arange(start, start + n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)).view(np.int64)
    return pa.table({"id": pa.array(np.arange(start, start + n)), "label": pa.array(rng.integers(0, 10, n), pa.int32()),
                     "score": pa.array(rng.random(n)), "text": pa.array([f"review {i}" for i in range(start, start + n)]),
                     "key": pa.array(key)})


# Appends timed per kind (the median is the figure): a process's own noise is some 10-20 ms.
REPEATS = 5

UNIQUE = """
[[expect]]
kind = "unique"
column = "key"
gate = true
"""


def timed(f):
    start = time.perf_counter()
    value = f()
    return time.perf_counter() - start, value


# The peers, each run in its own process (`--peer NAME`) so that one's memory and imports do not weigh on another.

def peer_great_expectations(parquet):
    import great_expectations as gx
    read, df = timed(lambda: pq.read_table(parquet).to_pandas())
    context = gx.get_context(mode="ephemeral")
    batch_definition = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
    suite = context.suites.add(gx.ExpectationSuite(name="five"))
    for e in [gx.expectations.ExpectColumnValuesToNotBeNull(column="id"),
              gx.expectations.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
              gx.expectations.ExpectColumnValuesToBeInSet(column="label", value_set=list(range(10))),
              gx.expectations.ExpectColumnValuesToMatchRegex(column="text", regex=REGEX),
              gx.expectations.ExpectColumnMeanToBeBetween(column="score", min_value=0.45, max_value=0.55)]:
        suite.add_expectation(e)
    check, result = timed(lambda: batch_definition.get_batch(batch_parameters={"dataframe": df}).validate(suite))
    return {"read": read, "check": check, "passed": bool(result.success), "expectations": len(result.results)}


def peer_pandera(parquet):
    import pandera.pandas as pandera
    read, df = timed(lambda: pq.read_table(parquet).to_pandas())
    schema = pandera.DataFrameSchema({
        "id": pandera.Column(nullable=False),
        "score": pandera.Column(checks=[pandera.Check.in_range(0, 1), pandera.Check(lambda s: 0.45 <= s.mean() <= 0.55)]),
        "label": pandera.Column(checks=pandera.Check.isin(list(range(10)))),
        "text": pandera.Column(checks=pandera.Check.str_matches(REGEX)),
    })
    check, _ = timed(lambda: schema.validate(df, lazy=True))  # raises SchemaErrors when any check fails
    return {"read": read, "check": check, "passed": True, "expectations": 5}


def peer_soda(parquet):
    import duckdb
    from soda.scan import Scan
    connection = duckdb.connect()
    connection.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{parquet}')")
    scan = Scan()
    scan.set_data_source_name("d")
    scan.add_duckdb_connection(duckdb_connection=connection, data_source_name="d")
    scan.add_sodacl_yaml_str(f"""
checks for t:
  - missing_count(id) = 0
  - invalid_count(score) = 0:
      valid min: 0
      valid max: 1
  - invalid_count(label) = 0:
      valid values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
  - invalid_count(text) = 0:
      valid regex: {REGEX}
  - avg(score) between 0.45 and 0.55
""")
    check, code = timed(scan.execute)
    checks = scan.get_scan_results()["checks"]
    return {"read": 0.0, "check": check, "passed": code == 0 and all(c["outcome"] == "pass" for c in checks), "expectations": len(checks)}


def peer_duckdb_summarize(parquet):
    import duckdb
    seconds, rows = timed(lambda: duckdb.connect().execute(f"SUMMARIZE SELECT * FROM read_parquet('{parquet}')").fetchall())
    return {"profile": seconds, "columns": len(rows)}


def peer_duckdb_unique(parquet):
    import duckdb
    seconds, repeated = timed(lambda: duckdb.sql(
        f"SELECT count(*) FROM (SELECT key FROM read_parquet('{parquet}') GROUP BY key HAVING count(*) > 1)").fetchone()[0])
    assert repeated == 0
    return {"unique": seconds}


def peer_pandas_unique(parquet):
    seconds, repeated = timed(lambda: bool(pq.read_table(parquet, columns=["key"]).to_pandas()["key"].duplicated().any()))
    assert not repeated
    return {"unique": seconds}


def peer_pandas_profile(parquet):
    import pandas as pd

    def profile():
        df = pq.read_table(parquet).to_pandas()
        out = {}
        for name in df.columns:
            column = df[name]
            stats = {"count": int(column.count()), "nulls": int(column.isna().sum()), "distinct": int(column.nunique()),
                     "top": column.value_counts().head(10).to_dict()}
            values = column.str.len() if pd.api.types.is_string_dtype(column.dtype) else column
            stats.update(min=values.min(), max=values.max(), mean=values.mean(), std=values.std(),
                         quantiles=values.quantile([0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1]).tolist(),
                         histogram=np.histogram(values.to_numpy(), bins=10)[0].tolist())
            out[name] = stats
        return out
    seconds, out = timed(profile)
    return {"profile": seconds, "columns": len(out)}


def peer_pandera_infer(parquet):
    import pandera.pandas as pandera
    seconds, schema = timed(lambda: pandera.infer_schema(pq.read_table(parquet).to_pandas()))
    return {"profile": seconds, "columns": len(schema.columns)}


def peer_datasketch(parquet, threshold):
    from datasketch import MinHash, MinHashLSH
    texts = pq.read_table(parquet).column("text").to_pylist()

    def clusters():
        shingles = [[t[i:i + 5].encode() for i in range(max(1, len(t) - 4))] for t in (s.lower() for s in texts)]
        hashes = MinHash.bulk(shingles, num_perm=128)
        lsh = MinHashLSH(threshold=threshold, num_perm=128)
        with lsh.insertion_session() as session:
            for i, h in enumerate(hashes):
                session.insert(i, h)
        parent = list(range(len(texts)))

        def root(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x
        for i, h in enumerate(hashes):
            for j in lsh.query(h):
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        groups = {}
        for i in range(len(texts)):
            groups.setdefault(root(i), []).append(i)
        return [g for g in groups.values() if len(g) > 1]
    seconds, found = timed(clusters)
    return {"dedupe": seconds, "clusters": found}


PEERS = {"duckdb_unique": peer_duckdb_unique, "pandas_unique": peer_pandas_unique, "great_expectations": peer_great_expectations, "pandera": peer_pandera, "soda": peer_soda,
         "duckdb_summarize": peer_duckdb_summarize, "pandas_profile": peer_pandas_profile, "pandera_infer": peer_pandera_infer}


def peer(name, parquet, *extra):
    done = subprocess.run([sys.executable, __file__, "--peer", name, "--parquet", parquet, *extra], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def corpus(n, rng):
    """n texts of 14–20 words; a tenth of them copies of an earlier text with one character changed (the planted pairs)."""
    vocabulary = ["".join(chr(97 + c) for c in rng.integers(0, 26, rng.integers(3, 9))) for _ in range(20_000)]
    texts, planted = [], []
    for i in range(n):
        if i > 100 and rng.random() < 0.1:
            source = int(rng.integers(0, i))
            text = texts[source]
            k = int(rng.integers(0, len(text)))
            texts.append(text[:k] + chr(97 + int(rng.integers(0, 26))) + text[k + 1:])
            planted.append((source, i))
        else:
            texts.append(" ".join(vocabulary[j] for j in rng.integers(0, len(vocabulary), rng.integers(14, 21))))
    return texts, planted


def shingles(text):
    t = text.lower()
    return {t[i:i + 5] for i in range(max(1, len(t) - 4))}


def quality_of(clusters, texts, planted):
    together = {}
    for k, members in enumerate(clusters):
        for m in members:
            together[m] = k
    recall = sum(1 for a, b in planted if a in together and together[a] == together.get(b)) / len(planted)
    pairs = [(members[0], m) for members in clusters for m in members[1:]]
    sample = pairs[:: max(1, len(pairs) // 20_000)]
    good = sum(1 for a, b in sample if len(shingles(texts[a]) & shingles(texts[b])) / len(shingles(texts[a]) | shingles(texts[b])) >= 0.7)
    return recall, good / max(1, len(sample)), len(clusters)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin")
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--dedupe-rows", type=int, default=1_000_000)
    parser.add_argument("--peer")
    parser.add_argument("--parquet")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--dedupe-from", help="with --dedupe-rows 0: show the near-dedup figures of this earlier results file")
    args = parser.parse_args()
    if args.peer == "datasketch":
        print(json.dumps(peer_datasketch(args.parquet, args.threshold)))
        return
    if args.peer:
        print(json.dumps(PEERS[args.peer](args.parquet)))
        return

    loam = os.path.join(args.bin, "loam")
    work = tempfile.mkdtemp(prefix="loam-quality-")
    results = {"date": datetime.date.today().isoformat(), "sizes": {}, "dedupe": {}}

    def run(repo, *argv):
        start = time.perf_counter()
        done = subprocess.run([loam, *argv], capture_output=True, text=True, cwd=repo)
        if done.returncode != 0:
            raise SystemExit(f"loam {' '.join(argv[:3])}: {done.stderr[-2000:]}")
        return time.perf_counter() - start, done.stdout

    try:
        for rows in [int(s) for s in args.sizes.split(",")]:
            row = {}
            rng = np.random.default_rng(18)
            arrow, parquet = f"{work}/data.arrow", f"{work}/data.parquet"
            schema = table(0, 1, rng).schema
            with ipc.new_file(arrow, schema) as w, pq.ParquetWriter(parquet, schema) as p:
                for chunk in range(0, rows, 1_000_000):
                    t = table(chunk, min(1_000_000, rows - chunk), rng)
                    w.write_table(t)
                    p.write_table(t)
            appends = []
            for k in range(3 * REPEATS):
                with ipc.new_file(f"{work}/append{k}.arrow", schema) as w:
                    w.write_table(table(rows + k * 1000, 1000, rng))
                appends.append(f"{work}/append{k}.arrow")
            repo = f"{work}/repo"
            subprocess.run([loam, "init", repo], check=True, capture_output=True)
            row["loam import"] = run(repo, "import", arrow, "-d", "t", "-q")[0]
            row["loam profile, cold"] = run(repo, "profile", "t", "--json")[0]
            row["loam profile, warm"] = run(repo, "profile", "t", "--json")[0]
            with open(f"{work}/t.toml", "w") as f:
                f.write(EXPECTATIONS)
            row["loam expect (checks once)"] = run(repo, "expect", "t", "--file", f"{work}/t.toml")[0]
            seconds, out = run(repo, "check", "t", "--json")
            assert json.loads(out)["passed"], out
            row["loam check"] = seconds
            gated = [run(repo, "import", appends[k], "-d", "t", "-q")[0] for k in range(REPEATS)]
            run(repo, "expect", "t", "--clear")
            plain = [run(repo, "import", appends[k], "-d", "t", "-q")[0] for k in range(REPEATS, 2 * REPEATS)]
            row["loam append 1,000 rows, 5 gates"] = statistics.median(gated)
            row["loam append 1,000 rows, no gates"] = statistics.median(plain)
            # unique over keys in no order: the key index (built by `expect`) against SQL over every row.
            row["loam unique by SQL over every row"] = run(repo, "query", "SELECT count(*) FROM (SELECT key FROM t GROUP BY key HAVING count(*) > 1) d")[0]
            with open(f"{work}/u.toml", "w") as f:
                f.write(UNIQUE)
            row["loam expect unique(key) (builds the key index)"] = run(repo, "expect", "t", "--file", f"{work}/u.toml")[0]
            row["loam check unique(key), key index kept"] = run(repo, "check", "t")[0]
            row["loam append 1,000 rows, unique(key) gate"] = statistics.median([run(repo, "import", appends[k], "-d", "t", "-q")[0] for k in range(2 * REPEATS, 3 * REPEATS)])
            shutil.rmtree(repo)
            for name in ["great_expectations", "pandera", "soda"]:
                answer = peer(name, parquet)
                assert answer["passed"] and answer["expectations"] == 5, (name, answer)
                row[f"{name} read"] = answer["read"]
                row[f"{name} check"] = answer["check"]
            for name in ["duckdb_summarize", "pandas_profile", "pandera_infer"]:
                row[name] = peer(name, parquet)["profile"]
            for name in ["duckdb_unique", "pandas_unique"]:
                row[name] = peer(name, parquet)["unique"]
            results["sizes"][rows] = row
            for key, value in row.items():
                print(f"{rows:,} rows, {key}: {value:.3f} s", flush=True)

        if args.dedupe_rows:
            rng = np.random.default_rng(18)
            texts, planted = corpus(args.dedupe_rows, rng)
            parquet, arrow, repo = f"{work}/docs.parquet", f"{work}/docs.arrow", f"{work}/docs-repo"
            t = pa.table({"n": np.arange(len(texts)), "text": texts})
            pq.write_table(t, parquet)
            with ipc.new_file(arrow, t.schema) as w:
                w.write_table(t)
            subprocess.run([loam, "init", repo], check=True, capture_output=True)
            run(repo, "import", arrow, "-d", "docs", "-q")
            _, out = run(repo, "query", "SELECT min(_rowid) AS lo, max(_rowid) AS hi FROM docs", "--json")
            bounds = json.loads(out.splitlines()[0])
            assert int(bounds["hi"]) - int(bounds["lo"]) + 1 == len(texts)
            seconds, out = run(repo, "dedupe", "docs", "--near", "text", "--threshold", str(args.threshold), "--json")
            loam_clusters = [[int(r) - int(bounds["lo"]) for r in c] for c in json.loads(out)["clusters"]]
            answer = peer("datasketch", parquet, "--threshold", str(args.threshold))
            d = results["dedupe"]
            d["rows"], d["planted pairs"] = len(texts), len(planted)
            d["loam seconds"], d["datasketch seconds"] = seconds, answer["dedupe"]
            d["loam recall"], d["loam precision"], d["loam clusters"] = quality_of(loam_clusters, texts, planted)
            d["datasketch recall"], d["datasketch precision"], d["datasketch clusters"] = quality_of(answer["clusters"], texts, planted)
            print(json.dumps(d, indent=1), flush=True)
        if not args.dedupe_rows and args.dedupe_from:
            with open(args.dedupe_from) as f:
                results["dedupe"] = dict(json.load(f)["dedupe"], source=os.path.basename(args.dedupe_from))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    with open(f"bench/results/{stamp}-quality.json", "w") as f:
        json.dump(results, f, indent=2)
    write_markdown(results, f"{stamp}-quality.json")


def write_markdown(results, source):
    def s(x):
        return f"{x:.3f} s" if x < 1 else f"{x:.2f} s"

    def share(x):  # a difference of two medians: below zero it is lost in the processes' noise
        return s(x) if x > 0 else "≈ 0 s (below the noise)"
    lines = ["# Data quality (issue 18): Loam beside Great Expectations, pandera, Soda and datasketch", "",
             f"One run, {results['date']}, on the 2-core development machine, nothing else running: `bench/quality.sh` (`{source}`),",
             "release build. What each system does is in `bench/quality.py`'s docstring; Loam's times include a `loam` process",
             "starting, the peers' do not include Python starting or importing them. Ratios are the peer's time over Loam's.",
             "Loam's check reads every value for not_null, range, in and regex, but takes `mean` from the kept sketches (made",
             "by the cold profile before it); the peers compute the mean from the values.", ""]
    for rows, r in results["sizes"].items():
        loam_check = r["loam check"]
        lines += [f"## {int(rows):,} rows", "", "| job | Loam | Great Expectations | pandera | Soda (DuckDB) |", "|---|---:|---:|---:|---:|"]
        ge, pe = r["great_expectations read"] + r["great_expectations check"], r["pandera read"] + r["pandera check"]
        lines.append(f"| check 5 expectations, whole dataset | {s(loam_check)} | {s(ge)} ({ge / loam_check:.1f}×) | "
                     f"{s(pe)} ({pe / loam_check:.1f}×) | {s(r['soda check'])} ({r['soda check'] / loam_check:.1f}×) |")
        lines.append(f"| of which reading Parquet into pandas | — | {s(r['great_expectations read'])} | {s(r['pandera read'])} | — |")
        gate = r["loam append 1,000 rows, 5 gates"] - r["loam append 1,000 rows, no gates"]
        lines.append(f"| check after a 1,000-row append | **{share(gate)}** (the gates' share of the append: {s(r['loam append 1,000 rows, 5 gates'])} "
                     f"with, {s(r['loam append 1,000 rows, no gates'])} without) | {s(ge)}, the whole check again | {s(pe)}, again | {s(r['soda check'])}, again |")
        unique, by_sql = r["loam check unique(key), key index kept"], r["loam unique by SQL over every row"]
        uniq_gate = r["loam append 1,000 rows, unique(key) gate"] - r["loam append 1,000 rows, no gates"]
        duck, pandas = r["duckdb_unique"], r["pandas_unique"]
        lines += ["", "| unique(key), keys in no order | Loam | DuckDB (Parquet) | pandas `duplicated` (read included) |", "|---|---:|---:|---:|",
                  f"| every key read and grouped (the same work) | {s(by_sql)} (SQL GROUP BY) | {s(duck)} ({duck / by_sql:.2f}×) | {s(pandas)} ({pandas / by_sql:.2f}×) |",
                  f"| Loam's kept key index (8-byte hashes merged; the peers have none) | {s(unique)} | — | — |",
                  f"| set as a gate (`loam expect`: checks, builds the key index) | {s(r['loam expect unique(key) (builds the key index)'])} | — | — |",
                  f"| check after a 1,000-row append | **{share(uniq_gate)}** (the append: {s(r['loam append 1,000 rows, unique(key) gate'])} with the gate) | "
                  f"{s(duck)}, every key again | {s(pandas)}, again |"]
        lines += ["", "| profile | time |", "|---|---:|",
                  f"| Loam, cold (every fragment read and sketched) | {s(r['loam profile, cold'])} |",
                  f"| Loam, warm (kept sketches merged) | {s(r['loam profile, warm'])} |",
                  f"| DuckDB SUMMARIZE over the Parquet file (Soda's engine) | {s(r['duckdb_summarize'])} |",
                  f"| pandas, the same statistics as `loam profile` (read included) | {s(r['pandas_profile'])} |",
                  f"| pandera infer_schema (read included) | {s(r['pandera_infer'])} |",
                  "| Great Expectations 1.x | no profiler |", ""]
    d = results.get("dedupe")
    if d:
        lines += [f"## Near-duplicates: {d['rows']:,} short texts, {d['planted pairs']:,} planted near-copies, Jaccard 0.8", ""]
        if d.get("source"):
            lines += [f"Not run this time: the figures of `{d['source']}` (the same near-dedup code).", ""]
        lines += [
                  "| system | time | recall | precision | clusters |", "|---|---:|---:|---:|---:|",
                  f"| Loam `dedupe --near text` | {s(d['loam seconds'])} | {d['loam recall']:.3f} | {d['loam precision']:.3f} | {d['loam clusters']:,} |",
                  f"| datasketch MinHash.bulk + MinHashLSH | {s(d['datasketch seconds'])} ({d['datasketch seconds'] / d['loam seconds']:.1f}×) | "
                  f"{d['datasketch recall']:.3f} | {d['datasketch precision']:.3f} | {d['datasketch clusters']:,} |", ""]
    with open("bench/results/quality-latest.md", "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
