import LoamFormat
import LoamStorage

/// Applies row-level changes to a manifest: deletes rows by `_rowid` (via
/// deletion vectors) and writes rows with given ids and cells as new
/// fragments. Only fragments whose row-id range can hold a target are read.
public struct ManifestEditor: Sendable {
    public let reader: FragmentReader
    public let writer: FragmentWriter
    public var fragmentRows = 65_536

    public init(objects: any ObjectStore) {
        reader = FragmentReader(objects: objects)
        writer = FragmentWriter(objects: objects)
    }

    /// `manifest` with the rows in `deleting` removed and the rows in
    /// `upserting` written (replacing any live row with the same id).
    /// Cells are keyed by the manifest's column ids; missing cells are null.
    public func apply(to manifest: Manifest, deleting: Set<UInt64>, upserting: [DiffRow]) async throws -> Manifest {
        var targets = deleting
        for row in upserting { targets.insert(row.rowID) }
        var result = manifest
        if !targets.isEmpty, let lo = targets.min(), let hi = targets.max() {
            var fragments: [FragmentEntry] = []
            for entry in manifest.fragments {
                guard entry.maxRowID >= lo, entry.minRowID <= hi else { fragments.append(entry); continue }
                let data = try await reader.read(entry, schema: manifest.schema, columnIDs: [])
                var offsets: [Int] = []
                for i in 0..<data.liveCount {
                    let offset = data.physical(i)
                    if targets.contains(data.rowIDs.buffers[1].load(offset, as: UInt64.self)) { offsets.append(offset) }
                }
                if offsets.isEmpty { fragments.append(entry); continue }
                if let remaining = try await entry.deleting(offsets, objects: reader.objects) { fragments.append(remaining) }
            }
            result.fragments = fragments
        }
        guard !upserting.isEmpty else { return result }
        let fields = try manifest.schema.columns.map { try $0.field() }
        let ids = manifest.schema.columns.compactMap(\.id)
        var start = 0
        while start < upserting.count {
            let chunk = upserting[start..<min(start + fragmentRows, upserting.count)]
            var columns: [ArrowArray] = []
            for (field, id) in zip(fields, ids) {
                let builder = ArrayBuilder(type: field.type)
                for row in chunk {
                    do { try builder.append(row.cells[id] ?? .null) } catch {
                        throw TableError.schemaMismatch("row \(row.rowID), column '\(field.name)': \(error)")
                    }
                }
                columns.append(builder.finish())
            }
            let rowIDs = try ArrowArray.fromValues(chunk.map { .uint($0.rowID) }, type: .uint64)
            result.fragments.append(try await writer.write(columns: columns, columnIDs: ids, fields: fields, rowIDs: rowIDs))
            start += fragmentRows
        }
        return result
    }
}
