"""Issue 17: Spark 4 and Ray read Loam datasets one fragment per task and get exactly what `loam export` gives.
Heavy (PySpark with a JVM, Ray): run with `scripts/test.sh --engines`, which installs them in .venv-engines."""
import os
import sys

import pytest

import loam.engines as engines
from conftest import exported
from test_engines import same

pyspark = pytest.importorskip("pyspark", reason="PySpark runs in scripts/test.sh --engines")
ray = pytest.importorskip("ray", reason="Ray runs in scripts/test.sh --engines")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers import loam from this environment
    session = (SparkSession.builder.master("local[2]").appName("loam-test").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.dataSource.register(engines.SparkDataSource)
    yield session
    session.stop()


@pytest.mark.parametrize("ref", ["v1", "v2", "HEAD"])
def test_spark_reads_what_loam_exports(spark, history, ref):
    frame = spark.read.format("loam").option("dataset", "t").option("ref", ref).load(str(history))
    plan = engines.plan(history, "t", ref=ref)
    assert frame.rdd.getNumPartitions() == len(plan.tasks)
    expected = exported(history, "t", ref)
    got = frame.select("id", "label").toArrow() if hasattr(frame, "toArrow") else None
    ids = [r["id"] for r in frame.select("id").collect()]
    assert ids == expected.column("id").to_pylist()
    if got is not None:
        assert got.column("label").to_pylist() == expected.column("label").to_pylist()
    # Aggregates run in Spark over the fragments.
    row = frame.groupBy().agg({"id": "sum", "*": "count"}).collect()[0]
    assert row["count(1)"] == expected.num_rows and row["sum(id)"] == sum(expected.column("id").to_pylist())


def test_spark_projects_columns(spark, history):
    frame = spark.read.format("loam").option("dataset", "t").option("columns", "id,body").load(str(history))
    assert frame.columns == ["id", "body"]
    expected = exported(history, "t", "HEAD")
    assert [r["body"] for r in frame.collect()] == expected.column("body").to_pylist()


def test_ray_reads_what_loam_exports(history):
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    try:
        plan = engines.plan(history, "t", ref="v2", columns=["id", "label", "score", "body"])
        data = ray.data.read_datasource(engines.RayDatasource(plan))
        got = data.to_arrow_refs()
        table = __import__("pyarrow").concat_tables(ray.get(got))
        same(table.sort_by("id"), exported(history, "t", "v2").select(["id", "label", "score", "body"]).sort_by("id"))
        assert data.count() == plan.total_rows
    finally:
        ray.shutdown()
