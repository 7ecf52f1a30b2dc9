"""TensorFlow: a tf.data.Dataset of batches (dicts of tensors) in the seeded global order.
Tensors hold no NULLs: null text becomes b"", and a nullable number column must be filled first."""
import numpy as np
import pyarrow as pa
import tensorflow as tf

from .errors import LoamError
from .loader import Loader


def _spec(field):
    t = field.type
    if pa.types.is_fixed_size_list(t):
        return tf.TensorSpec((None, t.list_size), tf.as_dtype(t.value_type.to_pandas_dtype()))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return tf.TensorSpec((None,), tf.string)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return tf.TensorSpec((None,), tf.int64)
    return tf.TensorSpec((None,), tf.as_dtype(t.to_pandas_dtype()))


def to_tf(dataset, columns, batch_size, shuffle, seed, epoch, drop_last, rank, world_size, plan):
    loader = Loader(dataset, columns, batch_size, shuffle, seed, drop_last, **plan)
    fields = [dataset.schema.field(i) for i in dataset._indices(columns)]
    signature = {f.name: _spec(f) for f in fields}

    def convert(name, values):
        spec = signature[name]
        if spec.dtype == tf.string:  # tensors have no NULL: a null text is empty
            return np.array([b"" if v is None else (v.encode() if isinstance(v, str) else v) for v in values], dtype=object)
        if values.dtype.kind == "M":
            return values.astype("int64")
        if spec.dtype.is_integer and values.dtype.kind == "f":
            raise LoamError(f"column '{name}' has NULLs, which tensors cannot hold; fill them first (loam clean {dataset.name} fill-nulls {name} …)")
        return values

    def generate():
        for batch in loader.batches(epoch=epoch, rank=rank, world_size=world_size):
            yield {name: convert(name, values) for name, values in batch.items()}

    return tf.data.Dataset.from_generator(generate, output_signature=signature)
