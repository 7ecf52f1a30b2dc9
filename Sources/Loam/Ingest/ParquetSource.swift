import LoamFormat

/// A Parquet file, memory-mapped, read one row group at a time (the unit of
/// memory) and re-cut to fragment size.
final class ParquetSource: RecordSource {
    let schema: Schema
    private let reader: ParquetReader
    private var group = 0
    private var current: RecordBatch?
    private var offset = 0
    private var rowsBefore = 0
    private let path: String
    let totalBytes: Int

    var bytesRead: Int {
        guard reader.rowGroupCount > 0 else { return totalBytes }
        let finished = group - ((current.map { offset < $0.length } ?? false) ? 1 : 0)
        return totalBytes * finished / reader.rowGroupCount
    }

    init(input: ImportInput, columns: [String]? = nil) throws {
        path = input.name
        let storage: ByteStorage
        switch input {
        case .file(let path): do { storage = try ByteStorage.map(path: path) } catch { throw LoamError.fileNotFound(path) }
        case .bytes(let bytes, _): storage = bytes
        }
        do {
            reader = try ParquetReader(data: ByteView(storage: storage), columns: columns)
        } catch {
            throw LoamError.badInput(file: path, line: nil, column: nil, message: "\(error)")
        }
        schema = reader.schema
        totalBytes = storage.count
        var seen: [String: Int] = [:]
        for (i, field) in schema.fields.enumerated() {
            if let first = seen[field.name] {
                throw LoamError.badInput(file: path, line: nil, column: field.name,
                                         message: "columns \(first + 1) and \(i + 1) are both named '\(field.name)'; rename one")
            }
            seen[field.name] = i
        }
    }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        while current == nil || offset >= current!.length {
            guard group < reader.rowGroupCount else { return nil }
            do { current = try reader.rowGroup(group) } catch {
                throw LoamError.badInput(file: path, line: nil, column: nil, message: "\(error)")
            }
            try ArrowSource.checkText(current!, file: path, batch: group, firstRow: rowsBefore, unit: "row group")
            rowsBefore += current!.length
            group += 1
            offset = 0
        }
        let batch = current!
        let count = min(maxRows, batch.length - offset)
        defer { offset += count }
        if offset == 0 && count == batch.length { return batch }
        let indices = Array(offset..<(offset + count))
        return RecordBatch(schema: schema, columns: batch.columns.map { $0.take(indices) }, length: count)
    }
}
