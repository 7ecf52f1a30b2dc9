import LoamFormat

/// An Arrow IPC file or stream, memory-mapped; batches are re-cut to fragment size.
final class ArrowSource: RecordSource {
    let schema: Schema
    private let reader: IPCReader
    private var batchIndex = 0
    private var current: RecordBatch?
    private var offset = 0
    private let path: String
    let totalBytes: Int

    /// Progress by batches finished: batches are decoded once, as they are imported.
    var bytesRead: Int {
        guard reader.batchCount > 0 else { return totalBytes }
        let finished = batchIndex - ((current.map { offset < $0.length } ?? false) ? 1 : 0)
        return totalBytes * finished / reader.batchCount
    }

    init(input: ImportInput, maxRowsPerByte: Int) throws {
        path = input.name
        let storage: ByteStorage
        switch input {
        case .file(let path): do { storage = try ByteStorage.map(path: path) } catch { throw LoamError.fileNotFound(path) }
        case .bytes(let bytes, _): storage = bytes
        }
        do {
            var reader = try IPCReader(data: ByteView(storage: storage))
            reader.maxRowsPerBodyByte = maxRowsPerByte
            self.reader = reader
        } catch {
            throw LoamError.badInput(file: path, line: nil, column: nil, message: "\(error)")
        }
        schema = reader.schema
        totalBytes = storage.count
    }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        while current == nil || offset >= current!.length {
            guard batchIndex < reader.batchCount else { return nil }
            do { current = try reader.batch(batchIndex) } catch {
                throw LoamError.badInput(file: path, line: nil, column: nil, message: "record batch \(batchIndex): \(error)")
            }
            batchIndex += 1
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
