import Foundation

/// Arrays inside a sketch's JSON as one base64 string each: numbers as their little-endian 8-byte values,
/// strings each after its byte count. A fragment's 4,096 distinct hashes, its KLL levels or its 1,024 most
/// frequent values are one string each, not thousands of JSON values to format and parse (which made saving
/// one small fragment's profile cost more than the write it guarded).
enum Packed {
    static func string(_ values: [UInt64]) -> String {
        values.map(\.littleEndian).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    static func uint64s(_ text: String) -> [UInt64]? {
        guard let data = Data(base64Encoded: text), data.count % 8 == 0 else { return nil }
        return data.withUnsafeBytes { raw in (0..<(data.count / 8)).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) } }
    }

    static func string(_ values: [Double]) -> String { string(values.map(\.bitPattern)) }

    /// Strings as base64 of each one's UTF-8 byte count (4 little-endian bytes) followed by its bytes.
    static func string(_ values: [String]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.reduce(0) { $0 + 4 + $1.utf8.count })
        for value in values {
            withUnsafeBytes(of: UInt32(value.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: value.utf8)
        }
        return Data(bytes).base64EncodedString()
    }

    static func strings(_ text: String) -> [String]? {
        guard let data = Data(base64Encoded: text) else { return nil }
        return data.withUnsafeBytes { raw -> [String]? in
            var out: [String] = [], at = 0
            while at < raw.count {
                guard at + 4 <= raw.count else { return nil }
                let n = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                at += 4
                guard n <= raw.count - at else { return nil }
                out.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[at..<(at + n)]), as: UTF8.self))
                at += n
            }
            return out
        }
    }

    static func doubles(_ text: String) -> [Double]? { uint64s(text)?.map(Double.init(bitPattern:)) }

    /// Decodes a packed field, or throws naming it.
    static func decode<K: CodingKey, T>(_ c: KeyedDecodingContainer<K>, _ key: K, _ unpack: (String) -> T?) throws -> T {
        guard let value = unpack(try c.decode(String.self, forKey: key)) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a packed array")
        }
        return value
    }
}
