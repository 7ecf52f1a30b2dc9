import LoamFormat
import LoamStorage

/// The row offsets deleted from one fragment, sorted and unique. Stored as an
/// Arrow IPC file with a single non-null uint32 column `offset`.
public struct DeletionVector: Sendable, Equatable {
    public private(set) var offsets: [UInt32]

    public init(offsets: some Sequence<UInt32>) {
        self.offsets = Array(Set(offsets)).sorted()
    }

    static let schema = Schema(fields: [Field(name: "offset", type: .uint32, nullable: false)])

    public func encoded() throws -> [UInt8] {
        let builder = ArrayBuilder(type: .uint32)
        for offset in offsets { try builder.append(.uint(UInt64(offset))) }
        return try IPCWriter.bytes(schema: Self.schema, batches: [RecordBatch(schema: Self.schema, columns: [builder.finish()])])
    }

    public init(decoding data: ByteView) throws {
        let reader = try IPCReader(data: data)
        guard reader.schema.fields.count == 1, reader.schema.fields[0].type == .uint32 else {
            throw TableError.corrupt("a deletion vector does not hold one uint32 column")
        }
        var result: [UInt32] = []
        for i in 0..<reader.batchCount {
            let column = try reader.batch(i).columns[0]
            for row in 0..<column.length { result.append(column.buffers[1].load(row, as: UInt32.self)) }
        }
        offsets = result
    }

    public func union(_ more: some Sequence<UInt32>) -> DeletionVector {
        DeletionVector(offsets: offsets + Array(more))
    }

    /// Live row offsets of a fragment with `rows` physical rows.
    public func liveOffsets(rows: Int) -> [Int] {
        var live: [Int] = []
        live.reserveCapacity(rows - offsets.count)
        var next = 0
        for row in 0..<rows {
            if next < offsets.count && Int(offsets[next]) == row { next += 1; continue }
            live.append(row)
        }
        return live
    }
}

extension FragmentEntry {
    /// This fragment with `offsets` also deleted: a new deletion vector (merged
    /// with any existing one) is written. Nil when no row would be left, so
    /// the caller drops the fragment from the new manifest.
    public func deleting(_ offsets: [Int], objects: any ObjectStore) async throws -> FragmentEntry? {
        var vector = DeletionVector(offsets: offsets.map { UInt32($0) })
        if let previous = deletions { vector = try DeletionVector(decoding: try await objects.get(previous)).union(vector.offsets) }
        if vector.offsets.count == rows { return nil }
        var entry = self
        entry.deletions = try await objects.put(try vector.encoded())
        entry.deletedRows = vector.offsets.count
        return entry
    }
}
