import LoamFormat

/// One rank's read of one training epoch: which columns, how many rows a batch,
/// and the seeded order (`ShufflePlan`, the Python client's order bit for bit).
/// The server's stream, `loam runs reproduce` and the tests all read through it.
///
/// ```swift
/// let read = EpochRead(columns: ["label", "emb"], batchSize: 64, seed: 7, epoch: 2, rank: 1, worldSize: 4)
/// try await ds.epochBatches(read) { index, batch in … }   // index: the global batch number
/// ```
public struct EpochRead: Sendable, Equatable, Codable {
    /// Nil: every column.
    public var columns: [String]?
    public var batchSize = 256
    public var shuffle = true
    public var seed: UInt64 = 0
    public var epoch: UInt64 = 0
    public var dropLast = false
    public var rank = 0
    public var worldSize = 1
    /// Batches before this global index are skipped (resuming mid-epoch).
    public var startBatch = 0
    public var blockRows = 1024
    public var windowBlocks = 64
    /// Only the rows of one split (nil: every row); batches and the shuffle run over those rows.
    public var split: SplitRead?

    /// The field names of the run-input record (`docs/FORMAT.md`, `run_inputs`).
    enum CodingKeys: String, CodingKey {
        case columns, shuffle, seed, epoch, rank
        case batchSize = "batch_size", dropLast = "drop_last", worldSize = "world_size", startBatch = "start_batch"
        case blockRows = "block_rows", windowBlocks = "window_blocks", split
    }

    public init(columns: [String]? = nil, batchSize: Int = 256, shuffle: Bool = true, seed: UInt64 = 0, epoch: UInt64 = 0, dropLast: Bool = false,
                rank: Int = 0, worldSize: Int = 1, startBatch: Int = 0, blockRows: Int = 1024, windowBlocks: Int = 64) {
        self.columns = columns
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.dropLast = dropLast
        self.rank = rank
        self.worldSize = worldSize
        self.startBatch = startBatch
        self.blockRows = blockRows
        self.windowBlocks = windowBlocks
    }

    /// Each field in its range, or an error naming the field and the range.
    public func validate() throws {
        func check(_ ok: Bool, _ name: String, _ value: Int, _ range: String) throws {
            guard ok else { throw LoamError.invalidArgument("\(name) must be \(range), not \(value)") }
        }
        try check(batchSize >= 1, "batch_size", batchSize, "at least 1")
        try check(worldSize >= 1, "world_size", worldSize, "at least 1")
        try check(rank >= 0 && rank < worldSize, "rank", rank, "0…\(worldSize - 1) for world_size \(worldSize)")
        try check(startBatch >= 0, "start_batch", startBatch, "0 or more")
        try check(blockRows >= 1, "block_rows", blockRows, "at least 1")
        try check(windowBlocks >= 1, "window_blocks", windowBlocks, "at least 1")
        // Products that would overflow a position are refused rather than trapped on.
        try check(batchSize.multipliedReportingOverflow(by: worldSize).overflow == false, "batch_size × world_size", batchSize, "below 2⁶³")
        try check(blockRows.multipliedReportingOverflow(by: windowBlocks).overflow == false, "block_rows × window_blocks", blockRows, "below 2⁶³")
    }
}

extension Dataset {
    /// The output schema of `read`: its columns in order (every column when it names none).
    public func schema(of read: EpochRead) throws -> Schema {
        Schema(fields: try projection(read.columns, includeRowID: false).fields, metadata: schema.metadata)
    }

    /// Gathers this rank's batches of the epoch in order and hands each to `body` with its
    /// global batch index. Fragments stay mapped between batches in `cache`.
    public func epochBatches(_ read: EpochRead, includeRowID: Bool = false, cache: FragmentCache = FragmentCache(),
                             _ body: (_ index: Int, _ batch: RecordBatch) async throws -> Void) async throws {
        try read.validate()
        _ = try projection(read.columns, includeRowID: includeRowID)  // unknown columns fail before any batch
        // With a split, the epoch runs over the positions of the split's rows (in dataset order).
        var members: [Int]?
        if let split = read.split { members = try await positions(in: split) }
        let rows = members?.count ?? rowCount
        let plan = ShufflePlan(rows: rows, seed: read.seed, epoch: read.epoch, shuffle: read.shuffle,
                               blockRows: read.blockRows, windowBlocks: read.windowBlocks)
        let batches = ShufflePlan.shardBatches(rows: rows, batchSize: read.batchSize, rank: read.rank, worldSize: read.worldSize,
                                               dropLast: read.dropLast)
        var window: (window: Int, rows: [Int])?
        for batch in batches where batch.index >= read.startBatch && !batch.places.isEmpty {
            var positions = plan.positions(batch.places, cache: &window)
            if let members { positions = positions.map { members[$0] } }
            try await body(batch.index, try await take(positions, columns: read.columns, includeRowID: includeRowID, cache: cache))
        }
    }

    /// The positions (0-based, in dataset order) of the rows in a split.
    public func positions(in split: SplitRead) async throws -> [Int] {
        let index = try split.index()
        var out: [Int] = []
        var position = 0
        try await scanFragments(columns: [], includeRowID: true, transform: { $0 }) { batch in
            let ids = batch.columns[0]
            for r in 0..<batch.length {
                if case .uint(let id) = ids.value(at: r), split.contains(id: id, index: index) { out.append(position + r) }  // _rowid is uint64
            }
            position += batch.length
            return true
        }
        return out
    }
}
