class LoamError(Exception):
    """A Loam repository, ref, dataset or request that cannot be used as asked; the message says why and what to do."""
