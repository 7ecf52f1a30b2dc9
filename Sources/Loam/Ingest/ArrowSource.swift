import LoamFormat

/// An Arrow IPC file or stream, memory-mapped; batches are re-cut to fragment size.
final class ArrowSource: RecordSource {
    let schema: Schema
    private let reader: IPCReader
    private var batchIndex = 0
    private var current: RecordBatch?
    private var offset = 0
    private var rowsDone = 0
    private let totalRows: Int
    let totalBytes: Int

    var bytesRead: Int { totalRows == 0 ? totalBytes : Int(Double(totalBytes) * Double(rowsDone) / Double(totalRows)) }

    init(path: String) throws {
        let storage: ByteStorage
        do { storage = try ByteStorage.map(path: path) } catch { throw LoamError.fileNotFound(path) }
        do {
            reader = try IPCReader(data: ByteView(storage: storage))
        } catch {
            throw LoamError.badInput(file: path, line: nil, column: nil, message: "\(error)")
        }
        schema = reader.schema
        totalBytes = storage.count
        var rows = 0
        for i in 0..<reader.batchCount {
            do { rows += try reader.batch(i).length } catch {
                throw LoamError.badInput(file: path, line: nil, column: nil, message: "record batch \(i): \(error)")
            }
        }
        totalRows = rows
    }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        while current == nil || offset >= current!.length {
            guard batchIndex < reader.batchCount else { return nil }
            current = try reader.batch(batchIndex)
            batchIndex += 1
            offset = 0
        }
        let batch = current!
        let count = min(maxRows, batch.length - offset)
        defer { offset += count; rowsDone += count }
        if offset == 0 && count == batch.length { return batch }
        let indices = Array(offset..<(offset + count))
        return RecordBatch(schema: schema, columns: batch.columns.map { $0.take(indices) }, length: count)
    }
}
