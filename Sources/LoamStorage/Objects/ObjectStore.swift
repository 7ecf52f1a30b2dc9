import Foundation
import LoamFormat

/// Immutable, content-addressed objects: fragments, deletion vectors,
/// manifests and commits. An object is written once and never changed.
///
/// ```swift
/// let store = try LocalObjectStore(root: repo.appendingPathComponent(".loam"))
/// let id = try await store.put(Array("hello".utf8))
/// let bytes = try await store.get(id)        // memory-mapped
/// ```
///
/// Large objects are written through a `StagedObject` (a temporary file
/// hashed as it is written) and published with `publish(_:)`, so a fragment
/// never has to sit in memory whole. An S3 implementation uploads the staged
/// file with a conditional put.
public protocol ObjectStore: Sendable {
    /// Writes `bytes` as an object (a no-op when it exists) and returns its id.
    func put(_ bytes: [UInt8]) async throws -> ObjectID
    /// A temporary file to stream a large object into.
    func stage() throws -> StagedObject
    /// Makes a staged object durable and visible under its hash.
    func publish(_ staged: StagedObject) async throws -> ObjectID
    /// The object's bytes; memory-mapped where the store is local.
    func get(_ id: ObjectID) async throws -> ByteView
    /// Bytes `range` of the object (a ranged GET on S3); throws when the range passes its end.
    func read(_ id: ObjectID, range: Range<Int>) async throws -> ByteView
    func contains(_ id: ObjectID) async throws -> Bool
    /// Ids starting with `prefix` (at least 4 hex digits).
    func ids(withPrefix prefix: String) async throws -> [ObjectID]
    func delete(_ id: ObjectID) async throws
    /// Every object with its size and last-write time (for garbage collection).
    func list() async throws -> [ObjectInfo]
    /// The object that holds `id`'s content now: `id` itself, unless an erasure rewrote it (`ReplacingObjectStore`).
    func resolve(_ id: ObjectID) -> ObjectID
    /// Re-reads the replacement map when another process changed it (called once per read, where a ref is resolved).
    func refreshReplacements() throws
    /// Removes temporary files writers that died left behind (never published), where the store keeps any.
    func removeStaleTemporaryFiles(olderThan age: TimeInterval)
    /// The object's bytes as stored (encrypted, in an encrypted repository): what its id hashes.
    func stored(_ id: ObjectID) async throws -> ByteView
    /// The file holding the object, where the store keeps files (nil for a remote store).
    func file(_ id: ObjectID) -> URL?
    /// False for a store across a network (S3): readers fetch ahead and writers keep several uploads in flight.
    var isLocal: Bool { get }
}

extension ObjectStore {
    public func read(_ id: ObjectID, range: Range<Int>) async throws -> ByteView {
        let whole = try await get(id)
        guard range.lowerBound >= 0, range.upperBound <= whole.count else {
            throw StorageError.invalid("bytes \(range.lowerBound)..<\(range.upperBound) pass the end of object \(id.short) (\(whole.count) bytes)")
        }
        return whole.slice(range.lowerBound, range.count)
    }
    public func resolve(_ id: ObjectID) -> ObjectID { id }
    public func refreshReplacements() throws {}
    public func removeStaleTemporaryFiles(olderThan age: TimeInterval) {}
    public func stored(_ id: ObjectID) async throws -> ByteView { try await get(id) }
    public func file(_ id: ObjectID) -> URL? { nil }
    public var isLocal: Bool { true }
}

/// An object's id, size and the time it was last written or re-used.
public struct ObjectInfo: Hashable, Sendable {
    public let id: ObjectID
    public let bytes: Int
    public let modified: Date

    public init(id: ObjectID, bytes: Int, modified: Date) {
        self.id = id
        self.bytes = bytes
        self.modified = modified
    }
}
