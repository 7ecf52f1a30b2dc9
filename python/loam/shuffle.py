"""The global order of an epoch: exact, deterministic, bounded in memory, elastic.

Algorithm (two levels, in the spirit of MosaicML Streaming):

1. Cut the dataset's N rows (in dataset order) into blocks of B consecutive
   rows; the last block may be shorter.
2. Permute the blocks: block i gets the key mix(seed, epoch, 0, i); blocks
   are sorted by key.
3. Take the permuted blocks W at a time ("windows"). Within window w, the rows
   of its blocks get the keys mix(seed, epoch, w + 1, j) for their place j in
   the window and are sorted by key.
4. The epoch's order is window 0's rows, then window 1's, and so on.

Every row appears exactly once (a permutation of blocks, then of rows inside
each window). The order depends only on (N, seed, epoch, B, W): not on the
number of ranks or workers. `mix` is SplitMix64 over the four numbers, written
out below, so the order is the same on every machine and numpy version, and can
be reproduced in any language.

Sharding: with R ranks and batch size b, the global batch k is positions
[k·R·b, (k+1)·R·b) of the order; rank r takes its slice [r·b, (r+1)·b) of it.
So for a fixed global batch size R·b, every global batch holds the same rows
whatever R is (elastic). DataLoader workers split a rank's batches round-robin
(batch k to worker k mod workers), which the DataLoader hands back in order.
With drop_last, the final partial global batch is dropped; without it, its rows
are split evenly: every rank takes ceil(rest / R) places, and places past the
end wrap around to the start of the order (as PyTorch's DistributedSampler pads
by repeating), so every rank gets the same number of batches — a DDP job never
waits on a rank that ran out.

Memory: the block keys (N / B integers) and one window's row keys (W · B) at a
time; a batch reads only its own rows (a gather from memory-mapped fragments).
"""
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix(z):
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def mix(seed, epoch, level, index):
    """SplitMix64(SplitMix64(SplitMix64(seed) ^ epoch) ^ level) ^ index, finalised once more: the sort key."""
    with np.errstate(over="ignore"):
        stream = _splitmix(_splitmix(_splitmix(np.uint64(seed & 0xFFFFFFFFFFFFFFFF)) ^ np.uint64(epoch)) ^ np.uint64(level))
        return _splitmix(stream ^ np.asarray(index, dtype=np.uint64))


class ShufflePlan:
    """The order of one epoch over `n` rows. `plan[i]` is the row at place i; `positions(a, b)` a range of places."""

    def __init__(self, n, seed=0, epoch=0, shuffle=True, block_rows=1024, window_blocks=64):
        if block_rows <= 0 or window_blocks <= 0:
            raise ValueError("block_rows and window_blocks must be positive")
        self.n, self.seed, self.epoch, self.shuffle = n, seed, epoch, shuffle
        self.block_rows, self.window_blocks = block_rows, window_blocks
        blocks = (n + block_rows - 1) // block_rows
        self._blocks = np.argsort(mix(seed, epoch, 0, np.arange(blocks)), kind="stable") if shuffle else np.arange(blocks)
        sizes = np.minimum(block_rows, n - self._blocks * block_rows)
        ends = np.cumsum(sizes)
        # Where each window's places start.
        self._window_starts = np.concatenate([[0], ends[window_blocks - 1::window_blocks]])
        if self._window_starts[-1] != n:
            self._window_starts = np.append(self._window_starts, n)
        self._window = (None, None)

    def window(self, w):
        """The rows of window w in their shuffled order."""
        if self._window[0] == w:
            return self._window[1]
        blocks = self._blocks[w * self.window_blocks:(w + 1) * self.window_blocks]
        rows = np.concatenate([np.arange(b * self.block_rows, min((b + 1) * self.block_rows, self.n)) for b in blocks]) \
            if len(blocks) else np.empty(0, dtype=np.int64)
        if self.shuffle:
            rows = rows[np.argsort(mix(self.seed, self.epoch, w + 1, np.arange(len(rows))), kind="stable")]
        self._window = (w, rows)
        return rows

    def positions(self, start, stop):
        """The rows at places [start, stop) of the order; places from n on wrap to the start (the last batch's padding)."""
        start = max(0, start)
        if stop > self.n and self.n > 0:
            wrapped = [self.positions(p % self.n, p % self.n + 1) for p in range(max(start, self.n), stop)]
            return np.concatenate([self.positions(start, self.n)] + wrapped)
        stop = min(self.n, stop)
        if start >= stop:
            return np.empty(0, dtype=np.int64)
        pieces = []
        w = int(np.searchsorted(self._window_starts, start, side="right") - 1)
        while start < stop:
            lo, hi = int(self._window_starts[w]), int(self._window_starts[w + 1])
            take = min(stop, hi)
            pieces.append(self.window(w)[start - lo:take - lo])
            start, w = take, w + 1
        return np.concatenate(pieces)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return int(self.positions(i, i + 1)[0])


def shard_batches(n, batch_size, rank=0, world_size=1, drop_last=False):
    """This rank's batches as (global batch index, start place, stop place) in the epoch's order."""
    if batch_size <= 0 or world_size <= 0 or not 0 <= rank < world_size:
        raise ValueError(f"need batch_size > 0 and 0 <= rank < world_size (got {batch_size}, {rank}, {world_size})")
    step = batch_size * world_size
    full, rest = divmod(n, step)
    out = [(k, k * step + rank * batch_size, k * step + (rank + 1) * batch_size) for k in range(full)]
    if rest and not drop_last:
        share = -(-rest // world_size)  # every rank the same count; places past n wrap to the start
        out.append((full, full * step + rank * share, full * step + (rank + 1) * share))
    return out
