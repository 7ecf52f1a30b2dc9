import Foundation
import LoamStorage

/// One version of one dataset: its schema and its fragments, in order.
/// Stored as canonical JSON (sorted keys), content-addressed.
public struct Manifest: Hashable, Sendable {
    public var kind = "manifest"
    public var format = 1
    public var schema: TableSchema
    public var fragments: [FragmentEntry]

    public init(schema: TableSchema, fragments: [FragmentEntry] = []) {
        self.schema = schema
        self.fragments = fragments
    }

    public var rowCount: Int { fragments.reduce(0) { $0 + $1.liveRows } }
}

/// A snapshot of the whole repository: dataset name → manifest, its parents,
/// author, message and time (milliseconds since the Unix epoch, UTC).
public struct Commit: Codable, Hashable, Sendable {
    public var kind = "commit"
    public var format = 1
    public var parents: [ObjectID]
    public var tree: [String: ObjectID]
    public var author: String
    public var message: String
    public var timeMillis: Int64

    public init(parents: [ObjectID], tree: [String: ObjectID], author: String, message: String, time: Date = Date()) {
        self.parents = parents
        self.tree = tree
        self.author = author
        self.message = message
        timeMillis = Int64((time.timeIntervalSince1970 * 1000).rounded())
    }

    public var date: Date { Date(timeIntervalSince1970: Double(timeMillis) / 1000) }
}

/// Canonical JSON for commits (sorted keys), so equal commits hash to the same object.
/// Manifests, which are larger and written on every commit, use `ManifestCodec`.
enum CanonicalJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw TableError.corrupt("\(what) is not valid: \(error)")
        }
    }
}
