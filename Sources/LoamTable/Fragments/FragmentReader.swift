import Foundation
import LoamFormat
import LoamStorage

/// A fragment read for a dataset's current schema: columns in the order
/// asked for (nulls for columns the fragment predates), the row ids, and
/// which physical rows are live.
public struct FragmentData: Sendable {
    public let entry: FragmentEntry
    public let rowIDs: ArrowArray
    public let columns: [ArrowArray]
    /// Physical offsets of live rows; nil when no row is deleted.
    public let live: [Int]?

    public var liveCount: Int { live?.count ?? rowIDs.length }

    /// The physical offset of the `i`th live row.
    @inline(__always) public func physical(_ i: Int) -> Int { live?[i] ?? i }

    /// The live rows only, as new arrays (copies when rows were deleted).
    public func compacted() -> (rowIDs: ArrowArray, columns: [ArrowArray]) {
        guard let live else { return (rowIDs, columns) }
        return (rowIDs.take(live), columns.map { $0.take(live) })
    }
}

/// The column chunks this process has checked against their manifest checksums, so each
/// is hashed once however often it is read (objects never change under their id).
enum ChunkChecks {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var verified = Set<ChunkKey>()

    struct ChunkKey: Hashable {
        let object: ObjectID
        let column: Int
    }

    /// `LOAM_VERIFY=0` skips the checks (to measure what they cost).
    static let enabled = ProcessInfo.processInfo.environment["LOAM_VERIFY"] != "0"

    static func verify(_ entry: FragmentEntry, positions: [Int], batch: RecordBatch, names: [String], rowIDs: Bool) throws {
        guard enabled, !entry.checksums.isEmpty else { return }
        for (index, position) in positions.enumerated() where position > 0 || rowIDs {
            let key = position == 0 ? RowID.name : String(entry.columnIDs[position - 1])
            guard let expected = entry.checksums[key] else { continue }
            let chunk = ChunkKey(object: entry.object, column: position)
            if lock.withLock({ verified.contains(chunk) }) { continue }
            let actual = batch.columns[index].checksum()
            guard actual == expected else {
                throw TableError.corrupt("fragment \(entry.object.hex), column '\(names[position])': its bytes fail their checksum "
                    + "(\(XXHash64.text(actual)), expected \(XXHash64.text(expected))) — the file changed on disk; run `loam fsck` and restore it from a copy")
            }
            lock.withLock {
                if verified.count > 1 << 20 { verified.removeAll() }
                verified.insert(chunk)
            }
        }
    }
}

/// Maps fragments from the object store and lines their columns up with a schema.
public struct FragmentReader: Sendable {
    public let objects: any ObjectStore

    public init(objects: any ObjectStore) { self.objects = objects }

    /// Reads `entry`, projecting the columns with ids `columnIDs` (typed by `schema`). A scan that hands out
    /// no `_rowid` passes `verifyingRowIDs: false`: it uses their count, not their values, so their chunk's
    /// checksum is left unchecked (until a read that uses them).
    public func read(_ entry: FragmentEntry, schema: TableSchema, columnIDs: [Int], verifyingRowIDs: Bool = true) async throws -> FragmentData {
        // Decode only _rowid and the asked-for columns the fragment holds.
        let positions = [0] + columnIDs.compactMap { id in entry.columnIDs.firstIndex(of: id).map { $0 + 1 } }
        let reader = try await open(entry, positions: positions)
        guard reader.batchCount >= 1 else { throw TableError.corrupt("fragment \(entry.object.short) holds no record batch") }
        guard reader.schema.fields.count == entry.columnIDs.count + 1 else {
            throw TableError.corrupt("fragment \(entry.object.short) does not match its manifest entry")
        }
        let batch = try reader.batchCount == 1 ? reader.batch(0, columns: positions) : concatenated(reader, positions)
        guard batch.length == entry.rows else {
            throw TableError.corrupt("fragment \(entry.object.short) does not match its manifest entry")
        }
        try ChunkChecks.verify(entry, positions: positions, batch: batch, names: reader.schema.fields.map(\.name), rowIDs: verifyingRowIDs)
        var columns: [ArrowArray] = []
        for id in columnIDs {
            if let position = entry.columnIDs.firstIndex(of: id) {
                columns.append(batch.columns[positions.firstIndex(of: position + 1)!])
            } else {
                guard let spec = schema.columns.first(where: { $0.id == id }) else {
                    throw TableError.corrupt("column id \(id) is not in the schema")
                }
                columns.append(ArrowArray.nulls(type: try spec.field().type, count: entry.rows))
            }
        }
        // Column masking: a reader whose role a policy names sees the masked values (the server sets the role).
        if ReadPolicy.role != nil {
            for (i, id) in columnIDs.enumerated() {
                if let policy = schema.mask(columnID: id) { columns[i] = columns[i].masked(policy, key: ReadPolicy.hashKey) }
            }
        }
        var live: [Int]?
        if let deletions = entry.deletions {
            live = try DeletionVector(decoding: try await objects.get(deletions)).liveOffsets(rows: entry.rows)
        }
        return FragmentData(entry: entry, rowIDs: batch.columns[0], columns: columns, live: live)
    }

    /// The fragment's file: mapped (local) or fetched whole — unless it is in object storage and a few of its
    /// columns are wanted, when ranged GETs fetch the bytes before the body and those columns' only — in one
    /// round with the manifest's `layout`, else after the footer (`IPCReader.sparse`); a fragment that cannot
    /// be read in part is fetched whole.
    private func open(_ entry: FragmentEntry, positions: [Int]) async throws -> IPCReader {
        if !objects.isLocal, positions.count <= entry.columnIDs.count {
            let (objects, id) = (objects, entry.object)
            if let reader = try? await IPCReader.sparse(size: entry.bytes, spans: entry.layout, columns: positions, fetch: { try await objects.read(id, range: $0) }) {
                return reader
            }
        }
        return try IPCReader(data: try await objects.get(entry.object))
    }

    private func concatenated(_ reader: IPCReader, _ positions: [Int]) throws -> RecordBatch {
        let batches = try (0..<reader.batchCount).map { try reader.batch($0, columns: positions) }
        var columns: [ArrowArray] = []
        for c in positions.indices {
            let builder = ArrayBuilder(type: reader.schema.fields[positions[c]].type)
            for batch in batches { for row in 0..<batch.length { try builder.append(batch.columns[c].value(at: row)) } }
            columns.append(builder.finish())
        }
        return RecordBatch(schema: Schema(fields: positions.map { reader.schema.fields[$0] }), columns: columns)
    }
}
