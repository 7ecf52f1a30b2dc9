/// Apache Thrift's compact protocol, the encoding of Parquet's footer and page
/// headers: zigzag varints, field ids as deltas, and a STOP byte ending each struct.
struct ThriftReader {
    enum Kind: UInt8 {
        case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
        case binary = 8, list = 9, set = 10, map = 11, structure = 12
    }

    private let bytes: UnsafeRawBufferPointer
    private(set) var at: Int
    /// Structs nested deeper than this are refused (a hostile footer could recurse without end).
    private var depth = 0
    private static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer, at: Int = 0) {
        self.bytes = bytes
        self.at = at
    }

    private func cut(_ what: String) -> FormatError {
        .malformedParquet("Thrift \(what) runs past the end of its \(bytes.count) bytes (at byte \(at))")
    }

    mutating func byte() throws -> UInt8 {
        guard at < bytes.count else { throw cut("data") }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func varint() throws -> UInt64 { try ULEB128.read(bytes, at: &at, what: "a Thrift varint") }

    mutating func i64() throws -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func i32() throws -> Int32 {
        let v = try i64()
        guard let narrow = Int32(exactly: v) else { throw FormatError.malformedParquet("Thrift i32 out of range (\(v)) at byte \(at)") }
        return narrow
    }

    /// An i32 that must be a count or size: not negative.
    mutating func count() throws -> Int {
        let v = try i32()
        guard v >= 0 else { throw FormatError.malformedParquet("negative size \(v) at byte \(at)") }
        return Int(v)
    }

    mutating func double() throws -> Double {
        guard at + 8 <= bytes.count else { throw cut("double") }
        defer { at += 8 }
        return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
    }

    mutating func binary() throws -> UnsafeRawBufferPointer {
        let n = try varint()
        guard n <= UInt64(bytes.count - at) else { throw cut("binary of \(n) bytes") }
        defer { at += Int(n) }
        return UnsafeRawBufferPointer(rebasing: bytes[at..<(at + Int(n))])
    }

    mutating func string() throws -> String { String(decoding: try binary(), as: UTF8.self) }

    /// A list header: the element kind and count.
    mutating func listHeader() throws -> (Kind, Int) {
        let header = try byte()
        var size = Int(header >> 4)
        if size == 15 {
            let long = try varint()
            guard long <= UInt64(bytes.count - at) else { throw FormatError.malformedParquet("Thrift list of \(long) elements cannot fit in the bytes left") }
            size = Int(long)
        }
        guard let kind = Kind(rawValue: header & 0x0F) else { throw FormatError.malformedParquet("unknown Thrift type \(header & 0x0F) at byte \(at)") }
        return (kind, size)
    }

    mutating func list<T>(_ element: (inout ThriftReader) throws -> T) throws -> [T] {
        let (_, n) = try listHeader()
        var items: [T] = []
        items.reserveCapacity(min(n, 1 << 16))
        for _ in 0..<n { items.append(try element(&self)) }
        return items
    }

    /// Reads one struct, calling `field` with each field id and kind; `field` returns false for ids it does not read, which are skipped.
    mutating func structure(_ field: (inout ThriftReader, Int16, Kind) throws -> Bool) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw FormatError.malformedParquet("Thrift structs nested over \(Self.maxDepth) deep") }
        var last: Int16 = 0
        while true {
            let header = try byte()
            guard let kind = Kind(rawValue: header & 0x0F) else { throw FormatError.malformedParquet("unknown Thrift type \(header & 0x0F) at byte \(at - 1)") }
            if kind == .stop { return }
            let delta = Int16(header >> 4)
            let id: Int16 = delta == 0 ? Int16(truncatingIfNeeded: try i64()) : last &+ delta
            last = id
            if try !field(&self, id, kind) { try skip(kind) }
        }
    }

    /// A bool field's value lives in its kind.
    func bool(_ kind: Kind) -> Bool { kind == .boolTrue }

    mutating func skip(_ kind: Kind) throws {
        switch kind {
        case .stop, .boolTrue, .boolFalse: return
        case .byte: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double: _ = try double()
        case .binary: _ = try binary()
        case .list, .set:
            let (element, n) = try listHeader()
            for _ in 0..<n {
                if element == .boolTrue || element == .boolFalse { _ = try byte() } else { try skip(element) }
            }
        case .map:
            let n = try varint()
            guard n > 0 else { return }
            guard n <= UInt64(bytes.count - at) else { throw cut("map") }
            let kinds = try byte()
            guard let key = Kind(rawValue: kinds >> 4), let value = Kind(rawValue: kinds & 0x0F) else {
                throw FormatError.malformedParquet("unknown Thrift map types at byte \(at - 1)")
            }
            for _ in 0..<n { try skip(key); try skip(value) }
        case .structure:
            try structure { _, _, _ in false }
        }
    }
}

/// Unsigned LEB128, the varint of Thrift's compact protocol and of Parquet's encodings.
enum ULEB128 {
    static func read(_ bytes: UnsafeRawBufferPointer, at: inout Int, what: String) throws -> UInt64 {
        var result: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard at < bytes.count else { throw FormatError.malformedParquet("\(what) runs past the end of its \(bytes.count) bytes") }
            let b = bytes[at]
            at += 1
            guard shift < 64 else { throw FormatError.malformedParquet("\(what) is longer than 10 bytes (at byte \(at))") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }
}

/// Writes Thrift's compact protocol into a byte array.
struct ThriftWriter {
    private(set) var bytes: [UInt8] = []
    private var lastField: [Int16] = [0]

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func zigzag(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    private mutating func header(_ id: Int16, _ kind: ThriftReader.Kind) {
        let delta = id - lastField[lastField.count - 1]
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | kind.rawValue)
        } else {
            bytes.append(kind.rawValue)
            zigzag(Int64(id))
        }
        lastField[lastField.count - 1] = id
    }

    mutating func field(_ id: Int16, i16 value: Int16) { header(id, .i16); zigzag(Int64(value)) }
    mutating func field(_ id: Int16, i32 value: Int32) { header(id, .i32); zigzag(Int64(value)) }
    mutating func field(_ id: Int16, i64 value: Int64) { header(id, .i64); zigzag(value) }
    mutating func field(_ id: Int16, byte value: UInt8) { header(id, .byte); bytes.append(value) }
    mutating func append(_ raw: [UInt8]) { bytes += raw }
    mutating func field(_ id: Int16, bool value: Bool) { header(id, value ? .boolTrue : .boolFalse) }
    mutating func field(_ id: Int16, binary value: [UInt8]) { header(id, .binary); varint(UInt64(value.count)); bytes += value }
    mutating func field(_ id: Int16, string value: String) { field(id, binary: Array(value.utf8)) }

    /// A struct field: `body` writes its fields.
    mutating func field(_ id: Int16, struct body: (inout ThriftWriter) -> Void) {
        header(id, .structure)
        structure(body)
    }

    /// A list field of `count` elements of `kind`, each written by `element`.
    mutating func field(_ id: Int16, list kind: ThriftReader.Kind, count: Int, _ element: (inout ThriftWriter, Int) -> Void) {
        header(id, .list)
        if count < 15 { bytes.append(UInt8(count) << 4 | kind.rawValue) } else { bytes.append(0xF0 | kind.rawValue); varint(UInt64(count)) }
        for i in 0..<count { element(&self, i) }
    }

    /// A struct's fields then its STOP byte (also for structs inside lists).
    mutating func structure(_ body: (inout ThriftWriter) -> Void) {
        lastField.append(0)
        body(&self)
        bytes.append(0)
        lastField.removeLast()
    }
}
