import Foundation
import LoamFormat
import Synchronization

/// Where the replacement map lives: the catalog's `object_replacements` table.
public protocol ReplacementSource: Sendable {
    /// Old object → the object that replaced it (chains already followed).
    func objectReplacements() throws -> [ObjectID: ObjectID]
    /// Changes whenever the map does (cheap to ask), so a long-running process notices another's erasure.
    func replacementsVersion() throws -> Int64
}

/// An object store read through the replacement map that erasure writes: a commit, manifest, fragment or
/// artifact rewritten without the erased rows keeps its old id, and every read of the old id gets the new
/// object (like Git's replace refs). Ids in commits and manifests never change, so commit ids stay valid.
public final class ReplacingObjectStore: ObjectStore {
    public let base: any ObjectStore
    private let source: any ReplacementSource
    private let state: Mutex<(version: Int64, map: [ObjectID: ObjectID])>

    public init(base: any ObjectStore, source: any ReplacementSource) throws {
        self.base = base
        self.source = source
        state = Mutex((try source.replacementsVersion(), try source.objectReplacements()))
    }

    public func resolve(_ id: ObjectID) -> ObjectID { state.withLock { $0.map[id] } ?? id }

    /// Every replaced id (their files are gone, or about to go).
    public var replacedIDs: Set<ObjectID> { state.withLock { Set($0.map.keys) } }

    public func refreshReplacements() throws {
        let version = try source.replacementsVersion()
        guard version != state.withLock({ $0.version }) else { return }
        let map = try source.objectReplacements()
        state.withLock { $0 = (version, map) }
    }

    public func put(_ bytes: [UInt8]) async throws -> ObjectID { try await base.put(bytes) }
    public func stage() throws -> StagedObject { try base.stage() }
    public func publish(_ staged: StagedObject) async throws -> ObjectID { try await base.publish(staged) }

    public func get(_ id: ObjectID) async throws -> ByteView {
        do { return try await base.get(resolve(id)) } catch StorageError.objectNotFound {
            // Another process may have erased it since this one read the map.
            try refreshReplacements()
            return try await base.get(resolve(id))
        }
    }

    public func read(_ id: ObjectID, range: Range<Int>) async throws -> ByteView {
        do { return try await base.read(resolve(id), range: range) } catch StorageError.objectNotFound {
            try refreshReplacements()
            return try await base.read(resolve(id), range: range)
        }
    }

    public func contains(_ id: ObjectID) async throws -> Bool {
        if try await base.contains(resolve(id)) { return true }
        try refreshReplacements()
        return try await base.contains(resolve(id))
    }

    public func ids(withPrefix prefix: String) async throws -> [ObjectID] {
        let lower = prefix.lowercased()
        let replaced = state.withLock { $0.map.keys.filter { $0.hex.hasPrefix(lower) } }
        return Array(Set(try await base.ids(withPrefix: prefix) + (lower.count >= 4 ? replaced : []))).sorted()
    }

    public func delete(_ id: ObjectID) async throws { try await base.delete(id) }
    public func list() async throws -> [ObjectInfo] { try await base.list() }
    public func removeStaleTemporaryFiles(olderThan age: TimeInterval) { base.removeStaleTemporaryFiles(olderThan: age) }
    public func stored(_ id: ObjectID) async throws -> ByteView { try await base.stored(resolve(id)) }
    public func file(_ id: ObjectID) -> URL? { base.file(resolve(id)) }
    public var isLocal: Bool { base.isLocal }
}
