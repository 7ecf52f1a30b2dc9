"""Tables from the Python data stack as Loam imports them: pyarrow Tables and RecordBatches,
pandas and polars DataFrames, written to an Arrow IPC file for `loam import` (or the server's import)."""
import os
import tempfile

import pyarrow as pa
import pyarrow.ipc as ipc

from .errors import LoamError


def as_arrow(data):
    """`data` as a pyarrow Table whose types Loam stores (large and view strings become strings, dictionaries their values)."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif not isinstance(data, pa.Table):
        module = type(data).__module__
        if module.startswith("polars"):
            data = data.to_arrow()
        elif module.startswith("pandas"):
            data = pa.Table.from_pandas(data, preserve_index=False)
        else:
            raise LoamError(f"write() takes a pyarrow Table or RecordBatch, or a pandas or polars DataFrame, not {type(data).__name__}")
    fields = []
    for field in data.schema:
        fields.append(field.with_type(_plain(field.type)))
    schema = pa.schema(fields, metadata=data.schema.metadata)
    return data if schema == data.schema else data.cast(schema)


def _plain(t):
    # Text and bytes as Loam's datasets hold them (polars hands over large or view strings).
    if t in (pa.string_view(), pa.large_string()):
        return pa.string()
    if t in (pa.binary_view(), pa.large_binary()):
        return pa.binary()
    if pa.types.is_dictionary(t):
        return _plain(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.list_(t.value_field.with_type(_plain(t.value_type)))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(_plain(t.value_type)), t.list_size)
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_plain(f.type)) for f in t])
    return t


class ArrowFile:
    """A temporary Arrow IPC file holding `data`; removed on exit."""

    def __init__(self, data):
        self.table = as_arrow(data)

    def __enter__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="loam-write-")
        self.path = os.path.join(self._dir.name, "table.arrow")
        with ipc.new_file(self.path, self.table.schema) as w:
            w.write_table(self.table)
        return self.path

    def __exit__(self, *exc):
        self._dir.cleanup()
