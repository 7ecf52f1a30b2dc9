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
    if os.environ.get("LOAM_TEST_POSTGRES"):  # and reach the test S3 server with these (set before the workers start)
        from conftest import server_env
        os.environ.update({k: v for k, v in server_env().items() if k.startswith("AWS_")})
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
    got = frame.select("id", "label").toArrow()
    assert got.column("id").to_pylist() == expected.column("id").to_pylist()
    assert got.column("label").to_pylist() == expected.column("label").to_pylist()
    # Aggregates run in Spark over the fragments.
    row = frame.groupBy().agg({"id": "sum", "*": "count"}).collect()[0]
    assert row["count(1)"] == expected.num_rows and row["sum(id)"] == sum(expected.column("id").to_pylist())


def test_spark_loads_a_dataset_by_its_s3_location(spark, tmp_path):
    from conftest import fresh_backends
    from test_scale_out import run
    if not os.environ.get("LOAM_TEST_POSTGRES"):
        pytest.skip("needs the test servers")
    catalog, objects = fresh_backends()
    node = tmp_path / "node"
    run("init", str(node), "--catalog", catalog, "--objects", objects)
    (tmp_path / "r.csv").write_text("id,text\n" + "".join(f"{i},row {i}\n" for i in range(50)))
    run("import", str(tmp_path / "r.csv"), "-d", "reviews", "-q", cwd=node)
    run("tag", "v1", cwd=node)
    run("delete", "reviews", "--where", "id < 10", cwd=node)
    frame = spark.read.format("loam").option("ref", "v1").load(objects.rstrip("/") + "/reviews")
    assert sorted(r["id"] for r in frame.collect()) == list(range(50))
    assert spark.read.format("loam").load(objects + "reviews").count() == 40


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
