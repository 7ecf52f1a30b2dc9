#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits RFC 4180 CSV into records: quoted fields with embedded delimiters,
/// quotes ("") and newlines, LF or CRLF line ends, any one-byte delimiter.
/// Fields are copied span by span into one reusable buffer per record.
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

        @inline(__always) func start(_ i: Int) -> Int { i == 0 ? 0 : ends[i - 1] }

        func field(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
            try data.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start(i)..<ends[i]])) }
        }

        func isEmpty(_ i: Int) -> Bool { ends[i] == start(i) && !quoted[i] }

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
    private static let quote = UInt8(ascii: "\""), lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
    /// Longer records are taken for an unterminated quote, so memory stays bounded on broken files.
    let maxRecordBytes: Int

    var path: String { reader.path }
    var bytesRead: Int { reader.bytesRead(at: position) }
    var totalBytes: Int { reader.totalBytes }

    init(input: ImportInput, delimiter: UInt8, maxRecordBytes: Int = 256 << 20) throws {
        self.maxRecordBytes = maxRecordBytes
        reader = try ChunkedFileReader(input)
        self.delimiter = delimiter
        _ = try reader.refill(keepFrom: 0)
        // Skip a UTF-8 byte order mark.
        if reader.end >= 3, reader.byte(0) == 0xEF, reader.byte(1) == 0xBB, reader.byte(2) == 0xBF { position = 3 }
    }

    /// Makes at least one unread byte available; false at end of file.
    @inline(__always) private func available() throws -> Bool {
        if position < reader.end { return true }
        let more = try reader.refill(keepFrom: position)
        position = 0
        return more
    }

    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted }

    /// Reads the next non-blank record; false at end of file.
    func next(into record: inout Record) throws -> Bool {
        while true {
            record.reset()
            record.line = line
            var state = State.fieldStart
            var fieldQuoted = false
            var done = false
            while !done {
                guard try available() else {
                    if state == .quoted {
                        throw LoamError.badInput(file: path, line: record.line, column: nil,
                                                 message: "unterminated quoted field (a \" opened in field \(record.ends.count + 1) is never closed); close the quote or escape it as \"\"")
                    }
                    if state == .fieldStart && record.ends.isEmpty { return false }
                    record.ends.append(record.data.count)
                    record.quoted.append(fieldQuoted)
                    break
                }
                let base = reader.base
                let end = reader.end
                switch state {
                case .fieldStart:
                    let c = base.load(fromByteOffset: position, as: UInt8.self)
                    if c == Self.quote {
                        position += 1
                        state = .quoted
                        fieldQuoted = true
                    } else {
                        state = .unquoted
                    }
                case .unquoted:
                    // Scan to the delimiter or line end, then copy the span at once.
                    var i = scanUnquoted(base, from: position, to: end)
                    var c: UInt8 = 0
                    while i < end {
                        c = base.load(fromByteOffset: i, as: UInt8.self)
                        if c == delimiter || c == Self.lf || c == Self.cr { break }
                        i += 1
                    }
                    if i > position { record.data.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: i - position)) }
                    position = i
                    if i == end {  // the field goes on in the next chunk
                        if record.data.count > maxRecordBytes {
                            throw LoamError.badInput(file: path, line: record.line, column: nil,
                                                     message: "a record longer than \(maxRecordBytes >> 20) MiB starts here; Loam reads records up to that size")
                        }
                        continue
                    }
                    position += 1
                    record.ends.append(record.data.count)
                    record.quoted.append(fieldQuoted)
                    fieldQuoted = false
                    state = .fieldStart
                    if c != delimiter { try lineEnd(c); done = true }
                case .quoted:
                    // memchr finds the closing quote; line breaks inside the field are counted after.
                    let found = memchr(base + position, Int32(Self.quote), end - position)
                    let i = found.map { $0 - base } ?? end
                    if memchr(base + position, Int32(Self.lf), i - position) != nil {
                        for k in position..<i where base.load(fromByteOffset: k, as: UInt8.self) == Self.lf { line += 1 }
                    }
                    if i > position { record.data.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: i - position)) }
                    position = i
                    if record.data.count > maxRecordBytes {
                        throw LoamError.badInput(file: path, line: record.line, column: nil,
                                                 message: "a record longer than \(maxRecordBytes >> 20) MiB starts here; is a quote left open in field \(record.ends.count + 1)?")
                    }
                    if i == end { continue }
                    position += 1
                    state = .quoteInQuoted
                case .quoteInQuoted:
                    let c = base.load(fromByteOffset: position, as: UInt8.self)
                    position += 1
                    if c == Self.quote {
                        record.data.append(Self.quote)
                        state = .quoted
                    } else if c == delimiter || c == Self.lf || c == Self.cr {
                        record.ends.append(record.data.count)
                        record.quoted.append(fieldQuoted)
                        fieldQuoted = false
                        state = .fieldStart
                        if c != delimiter { try lineEnd(c); done = true }
                    } else {
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

    /// Skips, eight bytes at a time, bytes that cannot end an unquoted field;
    /// returns the start of the first word that may hold the delimiter, CR or LF.
    @inline(__always) private func scanUnquoted(_ base: UnsafeMutableRawPointer, from start: Int, to end: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let d = UInt64(delimiter) &* ones, l = UInt64(Self.lf) &* ones, r = UInt64(Self.cr) &* ones
        var i = start
        while i + 8 <= end {
            let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // A byte of x is zero exactly where w matches; (x - ones) & ~x & highs flags zero bytes.
            let xd = w ^ d, xl = w ^ l, xr = w ^ r
            let hit = ((xd &- ones) & ~xd) | ((xl &- ones) & ~xl) | ((xr &- ones) & ~xr)
            if hit & highs != 0 { break }
            i += 8
        }
        return i
    }

    /// Counts a line end; for CR, swallows the LF of a CRLF.
    private func lineEnd(_ c: UInt8) throws {
        if c == Self.cr, try available(), reader.byte(position) == Self.lf { position += 1 }
        line += 1
    }
}
