import Foundation

/// Arrays of numbers inside a sketch's JSON as base64 of their little-endian 8-byte values: a fragment's
/// 4,096 distinct hashes or its KLL levels are one string each, not thousands of numbers to format and
/// parse (which made saving one small fragment's profile cost more than the write it guarded).
enum Packed {
    static func string(_ values: [UInt64]) -> String {
        values.map(\.littleEndian).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    static func uint64s(_ text: String) -> [UInt64]? {
        guard let data = Data(base64Encoded: text), data.count % 8 == 0 else { return nil }
        return data.withUnsafeBytes { raw in (0..<(data.count / 8)).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) } }
    }

    static func string(_ values: [Double]) -> String { string(values.map(\.bitPattern)) }

    static func doubles(_ text: String) -> [Double]? { uint64s(text)?.map(Double.init(bitPattern:)) }

    /// Decodes a packed field, or throws naming it.
    static func decode<K: CodingKey, T>(_ c: KeyedDecodingContainer<K>, _ key: K, _ unpack: (String) -> T?) throws -> T {
        guard let value = unpack(try c.decode(String.self, forKey: key)) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not base64 of 8-byte values")
        }
        return value
    }
}
