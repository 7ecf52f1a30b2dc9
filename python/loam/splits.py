"""Deterministic splits that survive appends: a row's split comes from its `_rowid` and a seed alone.

The same arithmetic as SQL's `split_bucket(_rowid, seed, f1, f2, …)` (docs/SPLITS.md): SplitMix64 of
`_rowid XOR SplitMix64(seed)`, its top 53 bits as a fraction u in [0, 1), and the split is the first
whose running sum of fractions exceeds u. Appending or deleting rows never moves an existing row.
"""
import numpy as np

from .errors import LoamError

_M1, _M2, _GAMMA = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(x):
    with np.errstate(over="ignore"):
        z = x + _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def unit(rowids, seed):
    """Each row's place in [0, 1), from its id and the seed."""
    ids = np.asarray(rowids, dtype=np.uint64)
    mixed = _mix(ids ^ _mix(np.asarray(seed % 2**64, dtype=np.uint64)))
    return (mixed >> np.uint64(11)).astype(np.float64) / 9007199254740992.0


def names(count):
    return ["train", "test"] if count == 2 else ["train", "val", "test"] if count == 3 else [f"split_{i + 1}" for i in range(count)]


def check(name, fractions):
    """The split's index among the fractions, or LoamError naming the choices."""
    fractions = [float(f) for f in fractions]
    if not fractions or any(f < 0 or f > 1 for f in fractions) or sum(fractions) > 1 + 1e-9:
        raise LoamError(f"split fractions must lie in 0…1 and add up to at most 1, not {fractions}")
    choices = names(len(fractions))
    if name not in choices:
        raise LoamError(f"no split '{name}' for {len(fractions)} fractions (splits: {', '.join(choices)})")
    return choices.index(name), fractions


def indices(rowids, seed, fractions):
    """Each row's split index: the first whose running sum of fractions exceeds its place (len(fractions) past the sum)."""
    return np.searchsorted(np.cumsum(np.asarray(fractions, dtype=np.float64)), unit(rowids, seed), side="right")


def bucket(rowids, seed, fractions):
    """Each row's split name (None past the fractions' sum), as SQL's split_bucket gives it."""
    choices = names(len(fractions))
    return [choices[i] if i < len(choices) else None for i in indices(rowids, seed, fractions)]


def positions(rowids, name, seed=0, fractions=(0.8, 0.1, 0.1)):
    """The positions (in dataset order) of the rows in split `name`."""
    index, fractions = check(name, fractions)
    return np.flatnonzero(indices(rowids, seed, fractions) == index)
