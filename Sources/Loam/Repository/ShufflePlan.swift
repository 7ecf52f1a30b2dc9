/// The global order of one training epoch, bit for bit the one the Python client
/// computes (`docs/SHUFFLE.md` specifies it, with known answers): blocks of rows are
/// permuted, then rows within windows of blocks, each by sorting SplitMix64 keys
/// of (seed, epoch, level, index). Exact, deterministic, bounded in memory.
public struct ShufflePlan: Sendable {
    public let rows: Int
    public let seed: UInt64
    public let epoch: UInt64
    public let shuffle: Bool
    public let blockRows: Int
    public let windowBlocks: Int
    private let blocks: [Int]
    /// Where each window's places start (and, last, `rows`).
    private let windowStarts: [Int]

    public init(rows: Int, seed: UInt64, epoch: UInt64, shuffle: Bool = true, blockRows: Int = 1024, windowBlocks: Int = 64) {
        precondition(blockRows > 0 && windowBlocks > 0)
        self.rows = rows
        self.seed = seed
        self.epoch = epoch
        self.shuffle = shuffle
        self.blockRows = blockRows
        self.windowBlocks = windowBlocks
        let count = (rows + blockRows - 1) / blockRows
        blocks = shuffle ? Self.sorted(count, seed: seed, epoch: epoch, level: 0) : Array(0..<count)
        var starts = [0]
        var end = 0
        for (i, block) in blocks.enumerated() {
            end += min(blockRows, rows - block * blockRows)
            if (i + 1) % windowBlocks == 0 { starts.append(end) }
        }
        if starts.last != rows { starts.append(rows) }
        windowStarts = starts
    }

    /// SplitMix64's finaliser.
    @inline(__always) static func splitmix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The sort key of `index` at `level` (0: blocks; w + 1: rows of window w).
    public static func key(seed: UInt64, epoch: UInt64, level: UInt64, index: UInt64) -> UInt64 {
        splitmix(splitmix(splitmix(splitmix(seed) ^ epoch) ^ level) ^ index)
    }

    /// 0..<count ordered by key (ties, which do not happen in practice, by index).
    private static func sorted(_ count: Int, seed: UInt64, epoch: UInt64, level: UInt64) -> [Int] {
        let keys = (0..<count).map { key(seed: seed, epoch: epoch, level: level, index: UInt64($0)) }
        return (0..<count).sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
    }

    /// The rows of window `w` in their order.
    public func window(_ w: Int) -> [Int] {
        let chosen = blocks[min(w * windowBlocks, blocks.count)..<min((w + 1) * windowBlocks, blocks.count)]
        let rowsInWindow = chosen.flatMap { b in (b * blockRows)..<min((b + 1) * blockRows, rows) }
        guard shuffle else { return rowsInWindow }
        return Self.sorted(rowsInWindow.count, seed: seed, epoch: epoch, level: UInt64(w + 1)).map { rowsInWindow[$0] }
    }

    /// The rows at places `range` of the order. `cache` keeps the last window between calls.
    public func positions(_ range: Range<Int>, cache: inout (window: Int, rows: [Int])?) -> [Int] {
        // Places from `rows` on wrap to the start of the order: the padding of the last batch.
        if range.upperBound > rows && rows > 0 {
            var out = positions(range.lowerBound..<rows, cache: &cache)
            for p in max(range.lowerBound, rows)..<range.upperBound { out += positions((p % rows)..<(p % rows + 1), cache: &cache) }
            return out
        }
        var start = max(0, range.lowerBound)
        let stop = min(rows, range.upperBound)
        var out: [Int] = []
        guard start < stop else { return out }
        var w = windowStarts.lastIndex { $0 <= start }!
        while start < stop {
            let lo = windowStarts[w], hi = windowStarts[w + 1], take = min(stop, hi)
            if cache?.window != w { cache = (w, window(w)) }
            out += cache!.rows[(start - lo)..<(take - lo)]
            start = take
            w += 1
        }
        return out
    }

    /// This rank's batches: (global batch index, places) — see the Python module for the rule.
    public static func shardBatches(rows: Int, batchSize: Int, rank: Int, worldSize: Int, dropLast: Bool) -> [(index: Int, places: Range<Int>)] {
        let step = batchSize * worldSize
        let full = rows / step, rest = rows % step
        var out = (0..<full).map { k in (index: k, places: (k * step + rank * batchSize)..<(k * step + (rank + 1) * batchSize)) }
        if rest > 0 && !dropLast {
            let share = (rest + worldSize - 1) / worldSize  // every rank the same count; places past `rows` wrap to the start
            out.append((full, (full * step + rank * share)..<(full * step + (rank + 1) * share)))
        }
        return out
    }
}
