"""Loam datasets in the distributed engines people already run: Spark 4 (a Python data source), Ray Data
(a datasource), Dask (`from_map`) and DuckDB (an Arrow scan).

The driver plans — it resolves the ref to a commit once, reads that commit's manifest, drops the fragments
whose zone maps (min/max per column) prove no row can pass the filters — and every task reads one fragment
at that pinned commit: its file (local or `s3://…`), its deletion vector, the columns asked for by column id
(so renamed columns come back under their current names, and columns added later as nulls), then the filters
row by row. A task needs no catalog: only the objects, which never change.

    plan = loam.engines.plan("node1", "reviews", ref="v1", columns=["id", "text"], filters=[("score", ">", 0.5)])
    ddf = loam.engines.to_dask(plan)                       # one partition per fragment
    ds = ray.data.read_datasource(loam.engines.RayDatasource(plan))
    spark.dataSource.register(loam.engines.SparkDataSource)
    df = spark.read.format("loam").option("ref", "v1").load("s3://training/pets/reviews")
"""
import operator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from . import crypto
from .errors import LoamError
from .local import LocalRepository, arrow_field

_OPS = {"==": operator.eq, "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class ScanPlan:
    """What every task of a scan reads: the pinned commit, the output schema, one task per fragment kept."""

    def __init__(self, dataset, commit, schema, tasks, pruned, total_rows):
        self.dataset, self.commit, self.schema, self.tasks = dataset, commit, schema, tasks
        self.pruned = pruned          # fragments the zone maps ruled out
        self.total_rows = total_rows  # live rows in the fragments kept (before the filters)

    def __repr__(self):
        return f"ScanPlan({self.dataset}@{self.commit[:12]}: {len(self.tasks)} fragments, {self.pruned} pruned)"

    def read(self):
        """Every task, in order, as one table (what `loam export` would give, filtered)."""
        return pa.concat_tables([read_task(t) for t in self.tasks]) if self.tasks else self.schema.empty_table()


def plan(repository, dataset, ref="HEAD", columns=None, filters=None):
    """Plans a scan of `dataset` at `ref` in `repository` (a path or `loam.open(...)`). `columns`: names to read
    (default all); `filters`: (column, op, value) tuples, all of which a row must pass, op one of
    == != < <= > >= (NULL never passes)."""
    repo = repository if isinstance(repository, LocalRepository) else LocalRepository(repository)
    commit, manifest = repo.dataset_manifest(dataset, ref)
    all_columns = manifest["schema"]["columns"]
    by_name = {c["name"]: c for c in all_columns}
    wanted = list(columns) if columns is not None else [c["name"] for c in all_columns]
    filters = [tuple(f) for f in (filters or [])]
    for name in wanted + [f[0] for f in filters]:
        if name not in by_name:
            raise LoamError(f"no column '{name}' in {dataset} at {ref} (columns: {', '.join(by_name)})")
    for f in filters:
        if len(f) != 3 or f[1] not in _OPS:
            raise LoamError(f"filter {f!r} is not (column, op, value) with op one of {' '.join(_OPS)}")
    schema = pa.schema([arrow_field(by_name[n]) for n in wanted])
    # The filter columns are read too (then dropped), so a filter on a column not returned still applies.
    read_columns = wanted + [f[0] for f in filters if f[0] not in wanted]
    tasks, pruned, total = [], 0, 0
    for entry in manifest["fragments"]:
        if not _may_match(entry, filters, by_name):
            pruned += 1
            continue
        live = entry["rows"] - entry.get("deletedRows", 0)
        if live == 0:
            continue
        total += live
        tasks.append({
            "path": repo.object_path(entry["object"]),
            "rows": entry["rows"],
            "deletions": repo.object_path(entry["deletions"]) if entry.get("deletions") else None,
            "fields": [arrow_field(by_name[n]) for n in read_columns],
            "positions": [entry["columnIDs"].index(by_name[n]["id"]) + 1 if by_name[n]["id"] in entry["columnIDs"] else None
                          for n in read_columns],
            "keep": len(wanted),
            "filters": filters,
        })
    return ScanPlan(dataset, commit, schema, tasks, pruned, total)


def _may_match(entry, filters, by_name):
    """False only when a fragment's statistics prove that no row passes some filter."""
    stats = entry.get("statistics") or {}
    for column, op, value in filters:
        s = stats.get(str(by_name[column]["id"]))
        if value is None or s is None or "min" not in s or "max" not in s:
            continue
        lo, hi = s["min"], s["max"]
        try:
            if op in ("==", "=") and (value < lo or value > hi):
                return False
            if (op == "<" and lo >= value) or (op == "<=" and lo > value) or (op == ">" and hi <= value) or (op == ">=" and hi < value):
                return False
        except TypeError:
            continue  # a value of another type than the column's: no pruning, the row filter decides
    return True


def read_task(task):
    """One task: the fragment's live rows, the planned columns (cast to their schema types), the filters applied."""
    reader = ipc.open_file(crypto.arrow_source(task["path"]))
    batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
    table = pa.Table.from_batches(batches) if batches else None
    arrays = []
    for field, position in zip(task["fields"], task["positions"]):
        if position is None or table is None:
            arrays.append(pa.nulls(task["rows"], type=field.type))
        else:
            column = table.column(position).combine_chunks()
            arrays.append(column if column.type == field.type else column.cast(field.type))
    out = pa.Table.from_arrays(arrays, schema=pa.schema(task["fields"]))
    if task["deletions"]:
        deletions = ipc.open_file(crypto.arrow_source(task["deletions"])).get_batch(0).column(0).to_numpy()
        keep = np.ones(task["rows"], dtype=bool)
        keep[deletions.astype(np.int64)] = False
        out = out.filter(pa.array(keep))
    for column, op, value in task["filters"]:
        if value is None:
            return out.slice(0, 0).select(range(task["keep"]))
        mask = _OPS[op](pc.field(column), pc.scalar(value))
        out = out.filter(mask)
    return out.select(range(task["keep"]))


# --- DuckDB ---------------------------------------------------------------------------------------------

def to_duckdb(plan, conn=None, name=None):
    """An Arrow scan in DuckDB: the plan's fragments read one at a time as DuckDB pulls batches, registered
    as the view `name` (default: the dataset's name). Returns the relation."""
    import duckdb
    conn = conn if conn is not None else duckdb.connect()

    def batches():
        for task in plan.tasks:
            yield from read_task(task).to_batches()

    reader = pa.RecordBatchReader.from_batches(plan.schema, batches())
    conn.register(name or plan.dataset, reader)
    return conn.table(name or plan.dataset)


# --- Dask -----------------------------------------------------------------------------------------------

def _pandas_task(task):
    return read_task(task).to_pandas()


def to_dask(plan):
    """A Dask DataFrame with one partition per fragment (dask.dataframe.from_map)."""
    import dask.dataframe as dd
    meta = plan.schema.empty_table().to_pandas()
    if not plan.tasks:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(_pandas_task, plan.tasks, meta=meta, enforce_metadata=False)


def _stage_partition(frame, root, dataset):
    import pandas as pd
    if len(frame) == 0:
        return pd.DataFrame({"staged": pd.Series([], dtype=object)})
    staged = LocalRepository(root).write(pa.Table.from_pandas(frame, preserve_index=False), dataset, stage=True)["staged"]
    return pd.DataFrame({"staged": [staged]})


def write_dask(frame, repository, dataset, message=None):
    """A distributed write from Dask: every partition's worker writes its fragments (staged, uncommitted), then
    one compare-and-swap commits them all. Returns {commit, dataset, rows, fragments, created}."""
    import pandas as pd
    root = repository.root if isinstance(repository, LocalRepository) else str(repository)
    staged = frame.map_partitions(_stage_partition, root, dataset, meta=pd.DataFrame({"staged": pd.Series([], dtype=object)})).compute()
    return LocalRepository(root).commit_staged(dataset, staged["staged"].tolist(), message=message)


# --- Ray Data -------------------------------------------------------------------------------------------

def RayDatasource(plan):  # noqa: N802 (a class, made when Ray is imported)
    """A Ray Data datasource: one read task per fragment. `ray.data.read_datasource(RayDatasource(plan))`."""
    from ray.data import Datasource, ReadTask
    from ray.data.block import BlockMetadata

    class _LoamDatasource(Datasource):
        def estimate_inmemory_data_size(self):
            return None

        def get_read_tasks(self, parallelism, **kwargs):
            out = []
            for task in plan.tasks:
                metadata = BlockMetadata(num_rows=task["rows"], size_bytes=None, input_files=[str(task["path"])], exec_stats=None)
                out.append(ReadTask(lambda t=task: [read_task(t)], metadata))
            return out

    return _LoamDatasource()


# --- Spark 4 ----------------------------------------------------------------------------------------------

def _spark_classes():
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

    class LoamPartition(InputPartition):
        def __init__(self, task):
            super().__init__(task)
            self.task = task

    class LoamReader(DataSourceReader):
        def __init__(self, plan, schema):
            from pyspark.sql.pandas.types import to_arrow_schema
            self.plan = plan
            # Spark's own Arrow shapes: a fixed-size list comes back as a list, for one.
            self.arrow_schema = to_arrow_schema(schema)

        def partitions(self):
            return [LoamPartition(t) for t in self.plan.tasks] or [LoamPartition(None)]

        def read(self, partition):
            if partition.task is None:
                return
            yield from read_task(partition.task).cast(self.arrow_schema).to_batches()

    class LoamSparkDataSource(DataSource):
        """`spark.read.format("loam")[.option("ref", REF)][.option("columns", "a,b")].load("s3://bucket/prefix/DATASET")`,
        or `.option("dataset", NAME).load(REPO)` with REPO a repository folder (its .loam/backends.json may point at
        PostgreSQL and S3) or the repository's S3 location."""

        @classmethod
        def name(cls):
            return "loam"

        def _plan(self):
            options = self.options
            path, dataset = options.get("path"), options.get("dataset")
            if path and not dataset:  # load("s3://bucket/prefix/reviews") or load("node1/reviews")
                path, dataset = path.rstrip("/").rsplit("/", 1) if "/" in path.rstrip("/") else (None, None)
            if not path or not dataset:
                raise LoamError('spark.read.format("loam") needs .load("s3://bucket/prefix/DATASET") (or a repository folder '
                                'and DATASET), or .option("dataset", NAME).load(REPOSITORY)')
            columns = options.get("columns")
            return plan(path, dataset, ref=options.get("ref", "HEAD"),
                        columns=[c.strip() for c in columns.split(",")] if columns else None)

        def schema(self):
            from pyspark.sql.pandas.types import from_arrow_schema
            return from_arrow_schema(self._plan().schema)

        def reader(self, schema):
            return LoamReader(self._plan(), schema)

    return LoamSparkDataSource


def __getattr__(name):
    if name == "SparkDataSource":
        return _spark_classes()
    raise AttributeError(name)
