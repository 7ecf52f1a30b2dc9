"""TensorFlow: a tf.data.Dataset of batches (dicts of tensors) in the seeded global order."""
import pyarrow as pa
import tensorflow as tf

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

    def generate():
        for batch in loader.batches(epoch=epoch, rank=rank, world_size=world_size):
            yield {name: (values.astype("int64") if signature[name].dtype == tf.int64 and values.dtype.kind == "M" else values)
                   for name, values in batch.items()}

    return tf.data.Dataset.from_generator(generate, output_signature=signature)
