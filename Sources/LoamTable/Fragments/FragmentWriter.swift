import LoamFormat
import LoamStorage

/// Writes one fragment: `_rowid` plus data columns, as an Arrow IPC file
/// streamed into the object store, and returns its manifest entry with
/// zone-map statistics.
///
/// ```swift
/// let entry = try await FragmentWriter(objects: store).write(columns: cols, columnIDs: [1, 2], fields: fields,
///                                                            rowIDs: 100..<(100 + UInt64(n)))
/// ```
public struct FragmentWriter: Sendable {
    public let objects: any ObjectStore

    public init(objects: any ObjectStore) { self.objects = objects }

    /// Writes a fragment whose rows take consecutive new row ids.
    public func write(columns: [ArrowArray], columnIDs: [Int], fields: [Field], rowIDs: Range<UInt64>) async throws -> FragmentEntry {
        var ids = [UInt64](rowIDs)
        let rowIDArray = ids.withUnsafeMutableBytes { raw in
            ArrowArray(type: .uint64, length: raw.count / 8, nullCount: 0,
                       buffers: [.empty, ByteView(storage: ByteStorage(copying: UnsafeRawBufferPointer(raw)))])
        }
        return try await write(columns: columns, columnIDs: columnIDs, fields: fields, rowIDs: rowIDArray)
    }

    /// Writes a fragment with the given row ids (updates keep a row's id).
    public func write(columns: [ArrowArray], columnIDs: [Int], fields: [Field], rowIDs: ArrowArray) async throws -> FragmentEntry {
        precondition(columns.count == columnIDs.count && columns.count == fields.count)
        let rows = rowIDs.length
        var fileFields = [RowID.field]
        for (field, id) in zip(fields, columnIDs) {
            var tagged = field
            tagged.metadata[RowID.fieldIDKey] = String(id)
            fileFields.append(tagged)
        }
        let schema = Schema(fields: fileFields)
        let staged = try objects.stage()
        do {
            var writer = try IPCWriter(schema: schema, format: .file, sink: staged)
            try writer.write(RecordBatch(schema: schema, columns: [rowIDs] + columns, length: rows))
            _ = try writer.finish()
            let byteCount = staged.byteCount
            // Checksums of the chunks as written, and where they lie: decoded from the file itself — the one just
            // published (still in the page cache), or for a remote store the staged copy, mapped before it is sent.
            var staging: ByteView?
            if !objects.isLocal {
                try staged.flush()
                staging = ByteView(storage: try ByteStorage.map(path: staged.url.path))
            }
            let id = try await objects.publish(staged)
            let written: IPCReader
            if let staging { written = try IPCReader(data: staging) } else { written = try IPCReader(data: try await objects.get(id)) }
            var checksums: [String: UInt64] = [:]
            for (position, column) in try (written.batchCount == 1 ? written.batch(0).columns : []).enumerated() {
                checksums[position == 0 ? RowID.name : String(columnIDs[position - 1])] = column.checksum()
            }
            var statistics: [String: ColumnStatistics] = [:]
            for (column, columnID) in zip(columns, columnIDs) { statistics[String(columnID)] = ColumnStatistics.compute(column) }
            var lo = UInt64.max, hi = UInt64.min
            for i in 0..<rows {
                let v = rowIDs.buffers[1].load(i, as: UInt64.self)
                lo = min(lo, v)
                hi = max(hi, v)
            }
            return FragmentEntry(object: id, rows: rows, columnIDs: columnIDs, deletions: nil, deletedRows: 0,
                                 minRowID: rows == 0 ? 0 : lo, maxRowID: hi, statistics: statistics, bytes: byteCount, checksums: checksums,
                                 layout: written.columnSpans())
        } catch {
            staged.discard()
            throw error
        }
    }
}
