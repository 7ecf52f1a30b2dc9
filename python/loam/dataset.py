"""One dataset at one commit: its live rows, read from memory-mapped Arrow
fragments. Reads are zero-copy wherever a fragment has no deleted rows."""
import json
import os
import shutil
import subprocess
import tempfile
from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from . import splits
from . import crypto
from .errors import LoamError
from .labels import Labels, encode as encode_labels
from .loader import Loader
from .tracking import note_read


class Fragment:
    """A fragment file, its physical row count, the physical offsets of its live rows
    (None when none is deleted), and the file column of each schema column (None when
    the fragment predates the column)."""

    def __init__(self, path, rows, live, positions):
        self.path, self.rows, self.live, self.positions = path, rows, live, positions

    @property
    def live_rows(self):
        return self.rows if self.live is None else len(self.live)


class DatasetBase:
    """What local and remote datasets share: `len(ds)`, `ds[i]` (a dict), `ds[i:j]` and
    `ds.take([...])` (pyarrow Tables), `to_arrow()`, `to_pandas()`, `iter_batches()`, and the
    training loaders `to_numpy()`, `to_torch()` and `to_tf()`. Subclasses read: `take`, `slice`."""

    def __repr__(self):
        return f"<loam.{type(self).__name__} {self.name!r} @ {self.commit[:12]}: {len(self):,} rows, {len(self.schema)} columns>"

    @property
    def columns(self):
        return self.schema.names

    def _indices(self, columns):
        if columns is None:
            return list(range(len(self.schema)))
        if isinstance(columns, str):
            columns = [columns]
        out = []
        for name in columns:
            if name not in self.schema.names:
                raise LoamError(f"no column '{name}' in dataset '{self.name}' (columns: {', '.join(self.schema.names)})")
            out.append(self.schema.get_field_index(name))
        return out

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                return self.slice(start, stop - start)
            return self.take(np.arange(start, stop, step))
        if isinstance(key, (int, np.integer)):
            return {k: v[0] for k, v in self.take([int(key)]).to_pydict().items()}
        return self.take(key)

    def to_pandas(self, columns=None):
        return self.to_arrow(columns).to_pandas()

    def numpy_rows(self, start, stop, columns=None):
        """Rows [start, stop) as a dict of NumPy arrays."""
        return numpy_columns(self.slice(start, stop - start, columns))

    def numpy_take(self, positions, columns=None):
        """The rows at `positions`, in that order, as a dict of NumPy arrays."""
        return numpy_columns(self.take(positions, columns))

    def rowids(self):
        """Every row's `_rowid`, in dataset order (uint64)."""
        table = self.query(f'SELECT _rowid FROM "{self.name}"')
        return table.column(0).to_numpy().astype(np.uint64)

    def split(self, name, seed=0, fractions=(0.8, 0.1, 0.1)):
        """The rows of one split (docs/SPLITS.md): those whose `split_bucket(_rowid, seed, *fractions)` is
        `name`, in dataset order. A row keeps its split when rows are appended or deleted."""
        if isinstance(self, SplitView):
            raise LoamError("this is already a split; take splits of the whole dataset")
        return SplitView(self, name, seed, tuple(fractions))

    def _split_source(self, split, split_seed, split_fractions, labels=None, label_by="majority"):
        source = self
        if labels is not None:
            source = LabeledDataset(self, labels, label_by)
        return source.split(split, split_seed, split_fractions) if split is not None else source

    def labels(self):
        """The dataset's labels at this commit: schemas, annotations, gathered labels, agreement (see loam.labels)."""
        return Labels(self)

    def to_numpy(self, columns=None, batch_size=256, shuffle=True, seed=0, epoch=0, drop_last=False,
                 rank=0, world_size=1, start_batch=0, split=None, split_seed=0, split_fractions=(0.8, 0.1, 0.1),
                 labels=None, label_by="majority", **plan):
        """Batches as dicts of NumPy arrays (fixed-size lists become 2-D arrays), for JAX or anything else.
        See loam.shuffle for the order; `rank`/`world_size` pick this process's share; `split` one split's rows.
        `labels="sentiment"` adds that label schema's labels as a column, gathered `label_by` "majority",
        "adjudicated" or "annotator:NAME" (see loam.labels.encode for the arrays)."""
        loader = Loader(self._split_source(split, split_seed, split_fractions, labels, label_by), columns, batch_size, shuffle, seed, drop_last, **plan)
        note_read(self, **loader.describe(epoch, rank, world_size, start_batch))
        return loader.batches(epoch=epoch, rank=rank, world_size=world_size, start=start_batch)

    def to_torch(self, columns=None, batch_size=256, shuffle=True, seed=0, drop_last=False, transform=None,
                 rank=None, world_size=None, split=None, split_seed=0, split_fractions=(0.8, 0.1, 0.1), sample_transform=None,
                 labels=None, label_by="majority", **plan):
        """A torch IterableDataset of batches; use it with `loam.torch.DataLoader` to save and resume mid-epoch.
        `sample_transform(row) -> dict` runs per row (then the rows are collated), `transform(batch) -> batch` per batch.
        `split="train"` (with `split_seed`, `split_fractions`) reads one split's rows; `labels`/`label_by` as in to_numpy."""
        from .torch import LoamIterableDataset
        return LoamIterableDataset(self._split_source(split, split_seed, split_fractions, labels, label_by), columns, batch_size, shuffle, seed, drop_last,
                                   transform, rank, world_size, plan, sample_transform)

    def to_tf(self, columns=None, batch_size=256, shuffle=True, seed=0, epoch=0, drop_last=False, rank=0, world_size=1,
              split=None, split_seed=0, split_fractions=(0.8, 0.1, 0.1), labels=None, label_by="majority", **plan):
        """A tf.data.Dataset of batches (dicts of tensors); `labels`/`label_by` as in to_numpy."""
        from .tensorflow import to_tf
        return to_tf(self._split_source(split, split_seed, split_fractions, labels, label_by), columns, batch_size, shuffle, seed, epoch, drop_last, rank,
                     world_size, plan)


    def classes(self, column="label"):
        """The column's distinct non-null values, sorted: class index i is the i-th (torchvision's ImageFolder order).
        Loaders turn the column into these indices with `classes="label"` (or `classes={"label": [names…]}`)."""
        import pyarrow.compute as pc
        return sorted(v for v in pc.unique(self.to_arrow([column]).column(column)).to_pylist() if v is not None)

    def class_to_idx(self, column="label"):
        return {name: i for i, name in enumerate(self.classes(column))}

    # --- the Python data stack: every reader sees the live rows of this commit, with current column names ---

    def to_polars(self, columns=None):
        """The rows as a polars DataFrame."""
        import polars
        return polars.from_arrow(self.to_arrow(columns))

    def to_pyarrow_dataset(self, columns=None):
        """A pyarrow Dataset over the rows (Loam's fragments, memory-mapped locally); its scanner projects and filters,
        and DuckDB and polars scan it directly."""
        import pyarrow.dataset as pads
        return pads.dataset(self.to_arrow(columns))

    def to_batch_reader(self, columns=None, filter=None, batch_size=65_536):
        """A pyarrow RecordBatchReader of the chosen columns; `filter` is a pyarrow.compute Expression
        (e.g. `pc.field("label") == 3`), evaluated batch by batch as the reader is consumed."""
        return self.to_pyarrow_dataset(columns).scanner(filter=filter, batch_size=batch_size).to_reader()

    def to_hf(self, columns=None):
        """A Hugging Face `datasets.Dataset` of the rows; columns imported from a Hugging Face dataset get their
        features back (field metadata `hf.feature`: Image, Audio, ClassLabel, …; `hf.class_names` for ClassLabels).
        A column changed since, so that its feature no longer fits, gets the feature its Arrow type implies."""
        import datasets
        table = self.to_arrow(columns).replace_schema_metadata(None)
        inferred = datasets.Features.from_arrow_schema(table.schema.remove_metadata())
        features = datasets.Features(inferred)
        for field in table.schema:
            metadata = field.metadata or {}
            if b"hf.feature" in metadata:
                features[field.name] = datasets.Features.from_dict({field.name: json.loads(metadata[b"hf.feature"])})[field.name]
            elif b"hf.class_names" in metadata:
                features[field.name] = datasets.ClassLabel(names=json.loads(metadata[b"hf.class_names"]))
        try:
            return datasets.Dataset(table, info=datasets.DatasetInfo(features=features))
        except (ValueError, TypeError):
            return datasets.Dataset(table, info=datasets.DatasetInfo(features=inferred))

    def to_duckdb(self, conn=None, name=None, columns=None):
        """A DuckDB relation over the rows, registered as a view `name` (default: the dataset's name) on `conn`
        (default: a new in-memory connection), so `conn.sql("SELECT … FROM name")` works too."""
        import duckdb
        conn = conn if conn is not None else duckdb.connect()
        conn.register(name or self.name, self.to_arrow(columns))
        return conn.table(name or self.name)

class SplitView(DatasetBase):
    """One split of a dataset: its rows in dataset order, read through the dataset it came from."""

    def __init__(self, dataset, name, seed, fractions):
        self.dataset, self.split_name, self.split_seed, self.split_fractions = dataset, name, seed, fractions
        self.name, self.commit, self.schema = dataset.name, dataset.commit, dataset.schema
        self._positions = splits.positions(dataset.rowids(), name, seed, fractions)

    @property
    def split_read(self):
        """What lineage records of the split (the `split` of a run input)."""
        return {"name": self.split_name, "seed": self.split_seed, "fractions": list(self.split_fractions)}

    def __len__(self):
        return len(self._positions)

    def take(self, indices, columns=None):
        positions = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        positions = np.where(positions < 0, positions + n, positions)
        if len(positions) and (positions.min() < 0 or positions.max() >= n):
            raise IndexError(f"row {positions[(positions < 0) | (positions >= n)][0]} is out of range: split '{self.split_name}' has {n} rows")
        return self.dataset.take(self._positions[positions], columns)

    def slice(self, start, length, columns=None):
        return self.take(np.arange(start, min(start + length, len(self))), columns)

    def to_arrow(self, columns=None):
        return self.slice(0, len(self), columns)

    def query(self, sql):
        return self.dataset.query(sql)


class LabeledDataset(DatasetBase):
    """A dataset with its gathered labels as extra columns (one per schema), aligned to its rows; what the
    loaders read when given `labels=`."""

    def __init__(self, dataset, labels, label_by="majority"):
        self.base, self.label_by = dataset, label_by
        self.name, self.commit = dataset.name, dataset.commit
        names = [labels] if isinstance(labels, str) else list(labels)
        store = dataset.labels()
        schemas = store.schemas()
        self.label_columns = {}
        rowids = dataset.rowids()
        fields = list(dataset.schema)
        for name in names:
            if name not in schemas:
                raise LoamError(f"'{dataset.name}' has no label schema '{name}' at {dataset.commit[:12]} (schemas: {', '.join(schemas) or 'none'})")
            if name in dataset.schema.names:
                raise LoamError(f"'{dataset.name}' has a column named '{name}'; the label would hide it")
            chosen = store.gather(name, by=label_by)
            array = encode_labels(schemas[name], [chosen.get(int(r)) for r in rowids])
            self.label_columns[name] = array
            type_ = pa.from_numpy_dtype(array.dtype) if array.dtype != object else pa.string()
            if array.ndim == 2:
                type_ = pa.list_(pa.float32(), array.shape[1])
            fields.append(pa.field(name, type_))
        self.schema = pa.schema(fields)
        self.schemas = {name: schemas[name] for name in names}

    def __len__(self):
        return len(self.base)

    def _split(self, columns):
        wanted = self.schema.names if columns is None else ([columns] if isinstance(columns, str) else list(columns))
        base = [c for c in wanted if c not in self.label_columns]
        for name in self.label_columns:  # labels always come along
            if name not in wanted:
                wanted = list(wanted) + [name]
        return base, [c for c in wanted if c in self.label_columns]

    def _indices(self, columns):
        base, _ = self._split(columns)
        return self.base._indices(base)

    def numpy_rows(self, start, stop, columns=None):
        base, labels = self._split(columns)
        out = self.base.numpy_rows(start, stop, base) if base else {}
        for name in labels:
            out[name] = self.label_columns[name][start:stop]
        return out

    def numpy_take(self, positions, columns=None):
        base, labels = self._split(columns)
        out = self.base.numpy_take(positions, base) if base else {}
        positions = np.asarray(positions, dtype=np.int64)
        for name in labels:
            out[name] = self.label_columns[name][positions]
        return out

    def take(self, indices, columns=None):
        base, labels = self._split(columns)
        positions = np.asarray(indices, dtype=np.int64).reshape(-1)
        table = self.base.take(positions, base) if base else pa.table({})
        n = len(self)
        positions = np.where(positions < 0, positions + n, positions)
        for name in labels:
            values = self.label_columns[name][positions]
            array = (pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1]) if values.ndim == 2
                     else pa.array(list(values) if values.dtype == object else values, type=self.schema.field(name).type))
            table = table.append_column(name, array)
        return table

    def slice(self, start, length, columns=None):
        return self.take(np.arange(start, min(start + length, len(self))), columns)

    def to_arrow(self, columns=None):
        return self.slice(0, len(self), columns)

    def classes(self, column="label"):
        if column in self.schemas:
            return list(self.schemas[column].get("classes") or [])
        return self.base.classes(column)

    def rowids(self):
        return self.base.rowids()


class Dataset(DatasetBase):
    """A dataset in a local repository, read from its memory-mapped fragments."""

    def __init__(self, name, commit, schema, fragments, source):
        self.name, self.commit, self.schema = name, commit, schema
        self._fragments = fragments
        self._source = source
        self._starts = np.cumsum([0] + [f.live_rows for f in fragments], dtype=np.int64)
        self._cache = OrderedDict()  # (fragment, columns) → live rows as a RecordBatch; a few at a time

    def __len__(self):
        return int(self._starts[-1])

    def __getstate__(self):  # what a DataLoader worker needs to read the same version again
        return {"name": self.name, "commit": self.commit, "source": self._source}

    def profile(self):
        """The dataset's profile at this commit, as `loam profile --json` prints it: per column rows, nulls, NaNs,
        distinct values, min/max/mean/std, quantiles, a histogram, the top values, lengths, vector norms."""
        return self._source._loam("profile", self.name, "--ref", self.commit, "--json")

    def check(self, samples=10):
        """The dataset's expectations checked at this commit, as `loam check --json` prints it: {passed, results:
        [{name, kind, gate, passed, failing, observed, sampleRowIDs, line}]}."""
        return self._source._loam("check", self.name, "--ref", self.commit, "--samples", str(samples), "--json", answers_failure=True)

    def drift(self, since, columns=None, against=None):
        """How the columns moved from ref `since` to this commit (or against another dataset at this commit),
        as `loam drift --json` prints it: per column KS and PSI, χ², mean cosine shift and MMD²."""
        args = ["drift", self.name, "--from", since, "--to", self.commit, "--json"]
        args += ["--against", against] if against else []
        args += ["--columns", ",".join(columns)] if columns else []
        return self._source._loam(*args)

    def near_duplicates(self, column, threshold=0.8, words=False, cosine=None):
        """Clusters of near-duplicate rows of `column`, as `loam dedupe --json` prints them: texts by MinHash + LSH
        (Jaccard `threshold`), vectors by random hyperplanes (`cosine`, the least cosine similarity of a pair)."""
        return self._source._loam("dedupe", self.name, "--near", column, "--threshold", str(threshold), "--ref", self.commit, "--json",
                                  *(["--words"] if words else []), *(["--cosine", str(cosine)] if cosine is not None else []))

    def label_issues(self, label, probabilities):
        """Rows whose `label` is likely wrong given the `probabilities` column (confident learning), least sure first."""
        return self._source._loam("label-issues", self.name, "--label", label, "--probabilities", probabilities, "--ref", self.commit, "--json")

    def __setstate__(self, state):
        other = state["source"].dataset(state["name"], ref=state["commit"])
        self.__dict__.update(other.__dict__)

    # --- fragments -----------------------------------------------------------------------------

    def fragment_batch(self, f, columns=None):
        """The live rows of fragment `f` as a RecordBatch of the chosen columns, typed and named as the schema says."""
        indices = tuple(self._indices(columns))
        key = (f, indices)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        fragment = self._fragments[f]
        reader = ipc.open_file(crypto.arrow_source(fragment.path))
        batch = reader.get_batch(0) if reader.num_record_batches == 1 else \
            pa.Table.from_batches([reader.get_batch(i) for i in range(reader.num_record_batches)]).combine_chunks().to_batches()[0]
        arrays = []
        for i in indices:
            field, position = self.schema.field(i), fragment.positions[i]
            if position is None:
                arrays.append(pa.nulls(batch.num_rows, type=field.type))
            else:
                array = batch.column(position)
                arrays.append(array if array.type == field.type else array.cast(field.type))
        out = pa.RecordBatch.from_arrays(arrays, schema=pa.schema([self.schema.field(i) for i in indices]))
        if fragment.live is not None:
            out = out.take(pa.array(fragment.live))
        self._cache[key] = out
        if len(self._cache) > 32:
            self._cache.popitem(last=False)
        return out

    # --- reads ---------------------------------------------------------------------------------

    def to_arrow(self, columns=None):
        batches = [self.fragment_batch(f, columns) for f in range(len(self._fragments))]
        schema = pa.schema([self.schema.field(i) for i in self._indices(columns)], metadata=self.schema.metadata)
        return pa.Table.from_batches(batches, schema=schema)

    def iter_batches(self, batch_size=65_536, columns=None):
        """RecordBatches of `batch_size` rows (the last may be shorter) in dataset order."""
        if batch_size <= 0:
            raise LoamError("batch_size must be positive")
        pending, count = [], 0
        for f in range(len(self._fragments)):
            batch = self.fragment_batch(f, columns)
            offset = 0
            while offset < batch.num_rows:
                piece = batch.slice(offset, min(batch_size - count, batch.num_rows - offset))
                pending.append(piece)
                count += piece.num_rows
                offset += piece.num_rows
                if count == batch_size:
                    yield pending[0] if len(pending) == 1 else pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
                    pending, count = [], 0
        if count:
            yield pending[0] if len(pending) == 1 else pa.Table.from_batches(pending).combine_chunks().to_batches()[0]

    def take(self, indices, columns=None):
        """The rows at these positions (0-based, negative from the end), in the order given, as a pyarrow Table."""
        positions = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        positions = np.where(positions < 0, positions + n, positions)
        if len(positions) and (positions.min() < 0 or positions.max() >= n):
            bad = positions[(positions < 0) | (positions >= n)][0]
            raise IndexError(f"row {bad} is out of range: dataset '{self.name}' has {n} rows")
        schema = pa.schema([self.schema.field(i) for i in self._indices(columns)])
        if len(positions) == 0:
            return schema.empty_table()
        fragment_of = np.searchsorted(self._starts, positions, side="right") - 1
        order = np.argsort(fragment_of, kind="stable")
        pieces = []
        for f in np.unique(fragment_of):
            chosen = order[np.searchsorted(fragment_of[order], f, "left"):np.searchsorted(fragment_of[order], f, "right")]
            batch = self.fragment_batch(int(f), columns)
            pieces.append(batch.take(pa.array(positions[chosen] - self._starts[f])))
        gathered = pa.Table.from_batches(pieces, schema=schema)
        # Back to the order asked: row k of `gathered` is position order[k].
        return gathered.take(pa.array(np.argsort(order, kind="stable")))

    def slice(self, start, length, columns=None):
        """`length` rows from `start`, zero-copy slices of the fragments they lie in."""
        stop = min(start + length, len(self))
        pieces = []
        for f in range(len(self._fragments)):
            lo, hi = int(self._starts[f]), int(self._starts[f + 1])
            if hi <= start or lo >= stop:
                continue
            a, b = max(start, lo) - lo, min(stop, hi) - lo
            pieces.append(self.fragment_batch(f, columns).slice(a, b - a))
        schema = pa.schema([self.schema.field(i) for i in self._indices(columns)])
        return pa.Table.from_batches(pieces, schema=schema)

    def numpy_rows(self, start, stop, columns=None):
        """Rows [start, stop) as NumPy views of each fragment's columns (converted once per fragment, zero-copy
        for numbers and fixed-size lists); only a range that spans two fragments is copied."""
        pieces = []
        f = int(np.searchsorted(self._starts, start, side="right") - 1)
        while start < stop and f < len(self._fragments):
            lo, hi = int(self._starts[f]), int(self._starts[f + 1])
            if hi > start:
                arrays = self._numpy_fragment(f, columns)
                a, b = start - lo, min(stop, hi) - lo
                pieces.append({k: v[a:b] for k, v in arrays.items()})
                start = lo + b
            f += 1
        if len(pieces) == 1:
            return pieces[0]
        return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]} if pieces else numpy_columns(self.slice(0, 0, columns))

    def numpy_take(self, positions, columns=None):
        """The rows at `positions`, in that order: one NumPy gather per fragment from its cached views."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(positions) == 0 or positions.min() < 0 or positions.max() >= len(self):
            return numpy_columns(self.take(positions, columns))  # empty, or let take() name the bad position
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        bounds = np.searchsorted(ordered, self._starts)  # the sorted positions each fragment holds
        out = None
        for f in np.flatnonzero(bounds[1:] > bounds[:-1]):
            where = order[bounds[f]:bounds[f + 1]]
            arrays = self._numpy_fragment(int(f), columns)
            if out is None:
                out = {k: np.empty((len(positions),) + v.shape[1:], dtype=v.dtype) for k, v in arrays.items()}
            local = ordered[bounds[f]:bounds[f + 1]] - self._starts[f]
            for k, v in arrays.items():
                out[k][where] = v[local]
        return out

    def _numpy_fragment(self, f, columns):
        key = ("numpy", f, columns if isinstance(columns, str) or columns is None else tuple(columns))
        cached = self._cache.get(key)
        if cached is None:
            cached = numpy_columns(self.fragment_batch(f, columns))
            self._cache[key] = cached
            if len(self._cache) > 32:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return cached

    def rowids(self):
        """Every live row's `_rowid`, in dataset order, from column 0 of the fragment files (no copy of the data)."""
        parts = []
        for fragment in self._fragments:
            reader = ipc.open_file(crypto.arrow_source(fragment.path))
            ids = pa.chunked_array([reader.get_batch(i).column(0) for i in range(reader.num_record_batches)]).to_numpy()
            parts.append(ids if fragment.live is None else ids[fragment.live])
        return np.concatenate(parts).astype(np.uint64) if parts else np.zeros(0, dtype=np.uint64)

    def query(self, sql):
        """Runs SQL with this dataset's commit as the default ref (the `loam` binary must be on PATH or in LOAM_BIN)."""
        return self._source.query(sql, ref=self.commit)


def numpy_columns(table):
    """A Table or RecordBatch as a dict of NumPy arrays: fixed-size lists as 2-D arrays, text as object arrays."""
    out = {}
    for name, column in zip(table.schema.names, table.columns):
        chunk = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        t = chunk.type
        if pa.types.is_fixed_size_list(t) and chunk.null_count == 0:
            # The child values as one 2-D view (an unsliced array's values are exactly its items).
            items = chunk.values if chunk.offset == 0 and len(chunk.values) == len(chunk) * t.list_size else chunk.flatten()
            if items.null_count:
                out[name] = np.array(chunk.to_pylist(), dtype=object)
            else:
                out[name] = items.to_numpy(zero_copy_only=False).reshape(len(chunk), t.list_size)
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_list(t) or pa.types.is_struct(t):
            out[name] = np.array(chunk.to_pylist(), dtype=object)
        else:
            out[name] = chunk.to_numpy(zero_copy_only=False)
    return out


def run_query(root, sql, ref):
    """`loam query … --format arrow` as a pyarrow Table."""
    binary = os.environ.get("LOAM_BIN") or shutil.which("loam")
    if not binary:
        raise LoamError("query() runs the `loam` binary: put it on PATH or set LOAM_BIN")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.arrow")
        done = subprocess.run([binary, "query", "--repo", root, "--ref", ref, sql, "--format", "arrow", "-o", out],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise LoamError(done.stderr.strip() or f"loam query failed ({done.returncode})")
        return ipc.open_file(out).read_all()
