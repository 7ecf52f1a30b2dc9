/// Splits RFC 4180 CSV into records: quoted fields with embedded delimiters,
/// quotes ("") and newlines, LF or CRLF line ends, any one-byte delimiter.
/// Fields are unescaped into one reusable byte buffer per record.
final class CSVTokenizer {
    struct Record {
        var data: [UInt8] = []
        /// End offset of each field in `data`.
        var ends: [Int] = []
        /// Whether each field was quoted (a quoted empty field is "", not null).
        var quoted: [Bool] = []
        /// The line the record starts on (1-based).
        var line = 0

        var count: Int { ends.count }

        func field(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
            let start = i == 0 ? 0 : ends[i - 1]
            try data.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<ends[i]])) }
        }

        func isEmpty(_ i: Int) -> Bool { ends[i] == (i == 0 ? 0 : ends[i - 1]) && !quoted[i] }

        mutating func reset() {
            data.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            quoted.removeAll(keepingCapacity: true)
        }
    }

    private let reader: ChunkedFileReader
    private let delimiter: UInt8
    private var position = 0
    private var line = 1
    private let quote = UInt8(ascii: "\"")

    var path: String { reader.path }
    var bytesRead: Int { reader.bytesRead(at: position) }
    var totalBytes: Int { reader.totalBytes }

    init(path: String, delimiter: UInt8) throws {
        reader = try ChunkedFileReader(path: path)
        self.delimiter = delimiter
        _ = try reader.refill(keepFrom: 0)
        // Skip a UTF-8 byte order mark.
        if reader.end >= 3, reader.buffer[0] == 0xEF, reader.buffer[1] == 0xBB, reader.buffer[2] == 0xBF { position = 3 }
    }

    @inline(__always) private func nextByte() throws -> UInt8? {
        if position == reader.end {
            let more = try reader.refill(keepFrom: position)
            position = 0
            guard more else { return nil }
        }
        let byte = reader.buffer[position]
        position += 1
        return byte
    }

    @inline(__always) private func peekByte() throws -> UInt8? {
        if position == reader.end {
            let more = try reader.refill(keepFrom: position)
            position = 0
            guard more else { return nil }
        }
        return reader.buffer[position]
    }

    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted }

    /// Reads the next non-blank record; false at end of file.
    func next(into record: inout Record) throws -> Bool {
        while true {
            record.reset()
            record.line = line
            var state = State.fieldStart
            var fieldQuoted = false
            func endField() {
                record.ends.append(record.data.count)
                record.quoted.append(fieldQuoted)
                fieldQuoted = false
            }
            var ended = false
            while !ended {
                guard let c = try nextByte() else {
                    if state == .quoted {
                        throw LoamError.badInput(file: path, line: record.line, column: nil,
                                                 message: "unterminated quoted field (a \" opened in field \(record.ends.count + 1) is never closed); close the quote or escape it as \"\"")
                    }
                    if state == .fieldStart && record.ends.isEmpty { return false }
                    endField()
                    ended = true
                    break
                }
                switch state {
                case .fieldStart:
                    if c == quote { state = .quoted; fieldQuoted = true }
                    else if c == delimiter { endField() }
                    else if c == 0x0A || c == 0x0D { try lineEnd(c); endField(); ended = true }
                    else { record.data.append(c); state = .unquoted }
                case .unquoted:
                    if c == delimiter { endField(); state = .fieldStart }
                    else if c == 0x0A || c == 0x0D { try lineEnd(c); endField(); ended = true }
                    else { record.data.append(c) }
                case .quoted:
                    if c == quote { state = .quoteInQuoted }
                    else {
                        if c == 0x0A { line += 1 }
                        record.data.append(c)
                    }
                case .quoteInQuoted:
                    if c == quote { record.data.append(quote); state = .quoted }
                    else if c == delimiter { endField(); state = .fieldStart }
                    else if c == 0x0A || c == 0x0D { try lineEnd(c); endField(); ended = true }
                    else {
                        throw LoamError.badInput(file: path, line: line, column: nil,
                                                 message: "unexpected character '\(Character(Unicode.Scalar(c)))' after a closing quote in field \(record.ends.count + 1); quote the whole field and write inner quotes as \"\"")
                    }
                }
            }
            // A blank line is one empty, unquoted field: skip it.
            if record.count == 1 && record.isEmpty(0) { continue }
            return true
        }
    }

    private func lineEnd(_ c: UInt8) throws {
        if c == 0x0D, try peekByte() == 0x0A { position += 1 }
        line += 1
    }
}
