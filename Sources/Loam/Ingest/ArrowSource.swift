import LoamFormat

/// An Arrow IPC file or stream, memory-mapped; batches are re-cut to fragment size.
final class ArrowSource: RecordSource {
    let schema: Schema
    private let reader: IPCReader
    private var batchIndex = 0
    private var cutter = BatchCutter()
    /// Rows in the batches before the current one, to name a row in the file.
    private var rowsBefore = 0
    private let path: String
    let totalBytes: Int

    /// Progress by batches finished: batches are decoded once, as they are imported.
    var bytesRead: Int {
        guard reader.batchCount > 0 else { return totalBytes }
        let finished = batchIndex - (cutter.holdsRows ? 1 : 0)
        return totalBytes * finished / reader.batchCount
    }

    init(input: ImportInput, maxRowsPerByte: Int) throws {
        path = input.name
        let storage = try input.mapped()
        do {
            var reader = try IPCReader(data: ByteView(storage: storage))
            reader.maxRowsPerBodyByte = maxRowsPerByte
            self.reader = reader
        } catch {
            throw LoamError.badInput(file: path, line: nil, column: nil, message: "\(error)")
        }
        schema = reader.schema
        totalBytes = storage.count
        try checkDistinctNames(schema, file: path)
    }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        try cutter.next(maxRows: maxRows) {
            guard batchIndex < reader.batchCount else { return nil }
            let batch: RecordBatch
            do { batch = try reader.batch(batchIndex) } catch {
                throw LoamError.badInput(file: path, line: nil, column: nil, message: "record batch \(batchIndex): \(error)")
            }
            try Self.checkText(batch, file: path, batch: batchIndex, firstRow: rowsBefore)
            rowsBefore += batch.length
            batchIndex += 1
            return batch
        }
    }
}

extension ArrowSource {
    /// Every string in the batch's text columns (top level, and inside lists and structs) must be UTF-8,
    /// as pyarrow's `validate(full=True)` requires; the first that is not is an error naming column and row.
    static func checkText(_ batch: RecordBatch, file: String, batch index: Int, firstRow: Int, unit: String = "record batch") throws {
        for (c, column) in batch.columns.enumerated() {
            if let row = invalidText(column) {
                let name = batch.schema.fields[c].name
                throw LoamError.badInput(file: file, line: nil, column: name,
                                         message: "row \(firstRow + row) (\(unit) \(index)) is not valid UTF-8; store it as binary, or fix the text")
            }
        }
    }

    /// The first row of `array` holding invalid UTF-8 (for nested arrays, the first row whose child has one), or nil.
    static func invalidText(_ array: ArrowArray) -> Int? {
        switch array.type {
        case .utf8, .largeUtf8:
            guard array.length > 0, array.buffers.count >= 3 else { return nil }
            let large = array.type == .largeUtf8
            let offsets = array.buffers[1], data = array.buffers[2]
            func offset(_ i: Int) -> Int { large ? Int(offsets.load(i, as: Int64.self)) : Int(offsets.load(i, as: Int32.self)) }
            let start = offset(0), end = offset(array.length)
            guard start >= 0, start <= end, end <= data.count else { return 0 }
            let bytes = UnsafeRawBufferPointer(rebasing: data.buffer[start..<end])
            // One pass over the whole run of bytes; then no string may begin inside a character.
            if let bad = UTF8Check.firstInvalid(bytes) {
                var low = 0, high = array.length - 1  // the row whose bytes hold position `bad`
                while low < high {
                    let mid = (low + high + 1) / 2
                    if offset(mid) - start <= bad { low = mid } else { high = mid - 1 }
                }
                return low
            }
            for i in 1..<array.length {
                let at = offset(i) - start
                if at < bytes.count && bytes[at] & 0xC0 == 0x80 { return i - 1 }
            }
            return nil
        case .list, .fixedSizeList, .structType:
            guard let childRow = array.children.lazy.compactMap(invalidText).first else { return nil }
            switch array.type {
            case .list: return (0..<array.length).first { Int(array.buffers[1].load($0 + 1, as: Int32.self)) > childRow } ?? 0
            case .fixedSizeList(_, let size): return size > 0 ? childRow / size : 0
            default: return childRow
            }
        default:
            return nil
        }
    }
}

/// A UTF-8 validator (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), eight ASCII bytes at a time.
enum UTF8Check {
    static func firstInvalid(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        var i = 0
        while i < n {
            if i + 8 <= n, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8; continue }
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF  // the range of the second byte
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return i
            }
            guard i + length <= n, bytes[i + 1] >= low, bytes[i + 1] <= high else { return i }
            for k in 2..<max(2, length) where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }
}
