import Crypto
/// The SHA-256 of an object's bytes, as 64 lowercase hexadecimal digits.
///
/// ```swift
/// let id = try ObjectID(hex: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
/// id.short   // "9f86d081884c"
/// ```
public struct ObjectID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let hex: String

    public init(hex: String) throws {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            throw StorageError.invalidObjectID(hex)
        }
        self.hex = hex
    }

    init(digest: some Sequence<UInt8>) {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
        hex = String(decoding: out, as: UTF8.self)
    }

    /// The id of `bytes`: their SHA-256.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> ObjectID {
        ObjectID(digest: SHA256.hash(data: bytes))
    }

    public var short: String { String(hex.prefix(12)) }
    public var description: String { hex }
    public static func < (a: ObjectID, b: ObjectID) -> Bool { a.hex < b.hex }

    public init(from decoder: Decoder) throws {
        try self.init(hex: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
