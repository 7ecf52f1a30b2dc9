"""The differential SQL harness (sqlfuzz.py) as a test: a fixed-seed batch of generated queries on
Loam, on Loam with every fast path off, and on DuckDB, which must all agree; plus SQLancer's ternary
logic partitioning on Loam alone. `scripts/sqlfuzz.sh SECONDS` runs the same harness with fresh seeds."""
import os

import pytest

duckdb = pytest.importorskip("duckdb")

import sqlfuzz  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("LOAM_SQLFUZZ_SEEDS", "11,12,13,14,15").split(",")]
QUERIES = int(os.environ.get("LOAM_SQLFUZZ_QUERIES", "500"))


@pytest.mark.parametrize("seed", SEEDS)
def test_loam_agrees_with_duckdb_and_with_itself(seed, tmp_path):
    report = sqlfuzz.Report()
    sqlfuzz.run_batch(seed, QUERIES, str(tmp_path), report)
    assert report.queries >= QUERIES
    # Most queries must be answered, or the batch tests nothing.
    assert report.refused_by_both < report.queries * 0.25, f"{report.refused_by_both} of {report.queries} refused by both engines"
    # The reference runs within a few KB, spilling every sort, DISTINCT, GROUP BY and join: most must still answer.
    assert report.reference_out_of_memory < report.queries * 0.25, f"{report.reference_out_of_memory} of {report.queries} past the reference's memory_limit"
    shown = "\n".join(f"[{d['kind']}] {d['sql']}\n" + "\n".join(f"  {k}: {v}" for k, v in d["answers"].items())
                      for d in report.disagreements[:10])
    assert not report.disagreements, f"{len(report.disagreements)} disagreement(s) in {report.queries} queries:\n{shown}"
