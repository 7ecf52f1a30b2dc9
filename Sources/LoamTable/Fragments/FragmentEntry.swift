import LoamStorage

/// One immutable fragment as a manifest lists it.
///
/// The fragment object is an Arrow IPC file whose column 0 is `_rowid` and
/// whose column `i + 1` holds the dataset column with id `columnIDs[i]`.
public struct FragmentEntry: Hashable, Sendable {
    public var object: ObjectID
    /// Physical rows in the file, deleted ones included.
    public var rows: Int
    public var columnIDs: [Int]
    /// A deletion vector object (Arrow IPC, one uint32 column of row offsets), if any row is deleted.
    public var deletions: ObjectID?
    public var deletedRows: Int
    public var minRowID: UInt64
    public var maxRowID: UInt64
    /// Zone maps keyed by column id (as a string, for JSON).
    public var statistics: [String: ColumnStatistics]
    public var bytes: Int
    /// XXH64 of each column chunk as the file holds it (`ArrowArray.checksum`), keyed by
    /// column id as a string and `_rowid`; checked when a process first reads the chunk.
    /// Empty for fragments written before checksums existed.
    public var checksums: [String: UInt64] = [:]
    /// Where the file's parts lie (`IPCReader.columnSpans`): the body's start — the bytes before it hold the
    /// schema and the batch's metadata —, then the end of each column's buffers, `_rowid` first. Lets a
    /// reader of object storage fetch a few columns in one round of ranged reads. Nil for fragments written
    /// before it existed.
    public var layout: [Int]? = nil

    public var liveRows: Int { rows - deletedRows }
}
