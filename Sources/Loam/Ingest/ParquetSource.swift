import LoamFormat

/// A Parquet file, memory-mapped, read one row group at a time (the unit of
/// memory) and re-cut to fragment size.
final class ParquetSource: RecordSource {
    let schema: Schema
    private let reader: ParquetReader
    private var group = 0
    private var cutter = BatchCutter()
    private var rowsBefore = 0
    private let path: String
    let totalBytes: Int

    var bytesRead: Int {
        guard reader.rowGroupCount > 0 else { return totalBytes }
        let finished = group - (cutter.holdsRows ? 1 : 0)
        return totalBytes * finished / reader.rowGroupCount
    }

    init(input: ImportInput, columns: [String]? = nil) throws {
        path = input.name
        let storage = try input.mapped()
        do {
            reader = try ParquetReader(data: ByteView(storage: storage), columns: columns)
        } catch {
            throw LoamError.badInput(file: path, line: nil, column: nil, message: "\(error)")
        }
        schema = reader.schema
        totalBytes = storage.count
        try checkDistinctNames(schema, file: path)
    }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        try cutter.next(maxRows: maxRows) {
            guard group < reader.rowGroupCount else { return nil }
            let batch: RecordBatch
            do { batch = try reader.rowGroup(group) } catch {
                throw LoamError.badInput(file: path, line: nil, column: nil, message: "\(error)")
            }
            try ArrowSource.checkText(batch, file: path, batch: group, firstRow: rowsBefore, unit: "row group")
            rowsBefore += batch.length
            group += 1
            return batch
        }
    }
}
