import Foundation
import LoamStorage
import Synchronization

/// Reads and writes commits and manifests, and resolves refs to commits.
///
/// ```swift
/// let tables = TableStore(objects: objects, meta: meta)
/// let id = try await tables.resolve("main~2")
/// let commit = try await tables.commit(id)
/// ```
public struct TableStore: Sendable {
    public let objects: any ObjectStore
    public let meta: any MetaStore
    /// Decoded commits and manifests by id: objects never change, so a decoded one stays right.
    private let decoded = DecodedObjects()

    public init(objects: any ObjectStore, meta: any MetaStore) {
        self.objects = objects
        self.meta = meta
    }

    // Decoded objects are kept under the id that holds them now (an erasure's replacement), so a process
    // that learns of an erasure never serves the version it replaced.
    public func commit(_ id: ObjectID) async throws -> Commit {
        if let commit = decoded.commit(objects.resolve(id)) { return commit }
        let data = try await objects.get(id)
        let commit = try CanonicalJSON.decode(Commit.self, from: data.buffer, what: "commit \(id.short)")
        guard commit.kind == "commit" else { throw TableError.corrupt("object \(id.short) is a \(commit.kind), not a commit") }
        decoded.keep(commit, objects.resolve(id))
        return commit
    }

    public func manifest(_ id: ObjectID) async throws -> Manifest {
        if let manifest = decoded.manifest(objects.resolve(id)) { return manifest }
        let data = try await objects.get(id)
        let manifest = try ManifestCodec.decode(data.buffer, what: "manifest \(id.short)")
        decoded.keep(manifest, objects.resolve(id))
        return manifest
    }

    /// The manifest `id` names, or nil for a dataset absent from a tree.
    public func manifest(_ id: ObjectID?) async throws -> Manifest? {
        guard let id else { return nil }
        return try await manifest(id)
    }

    public func save(_ commit: Commit) async throws -> ObjectID {
        try await objects.put(try CanonicalJSON.encode(commit))
    }

    public func save(_ manifest: Manifest) async throws -> ObjectID {
        try await objects.put(ManifestCodec.encode(manifest))
    }

    /// Resolves `HEAD`, a branch, a tag, a full or abbreviated (≥ 4 digits)
    /// commit hash, each optionally followed by `~N` or `^` (first parents).
    public func resolve(_ spec: String) async throws -> ObjectID {
        try objects.refreshReplacements()  // every read starts here: it sees an erasure another process made
        var base = Substring(spec)
        var back = 0
        while let last = base.last {
            if last == "^" {
                back += 1
                base = base.dropLast()
            } else if let tilde = base.lastIndex(of: "~") {
                let digits = base[base.index(after: tilde)...]
                guard digits.isEmpty || digits.allSatisfy(\.isNumber), let n = digits.isEmpty ? 1 : Int(digits) else { break }
                back += n
                base = base[..<tilde]
            } else {
                break
            }
        }
        var id = try await resolveBase(String(base), original: spec)
        for step in 0..<back {
            let commit = try await commit(id)
            guard let parent = commit.parents.first else {
                throw TableError.invalidArgument("'\(spec)' goes back \(back) commits, but the history ends after \(step) (see `loam log`)")
            }
            id = parent
        }
        return id
    }

    private func resolveBase(_ name: String, original: String) async throws -> ObjectID {
        if name == "HEAD" || name.isEmpty {
            let branch = try await meta.currentBranch()
            guard let ref = try await meta.ref(named: branch) else { throw TableError.unknownRef(branch) }
            return ref.commit
        }
        if let ref = try await meta.ref(named: name) { return ref.commit }
        if name.count >= 4, name.allSatisfy(\.isHexDigit) {
            var commits: [ObjectID] = []
            for id in try await objects.ids(withPrefix: name) where (try? await commit(id)) != nil { commits.append(id) }
            if commits.count == 1 { return commits[0] }
            if commits.count > 1 { throw StorageError.ambiguousPrefix(name, commits.map(\.hex)) }
        }
        throw TableError.unknownRef(original)
    }

    /// Commits reachable from `start` by first parents, newest first.
    public func history(from start: ObjectID, limit: Int = .max) async throws -> [(id: ObjectID, commit: Commit)] {
        var result: [(ObjectID, Commit)] = []
        var next: ObjectID? = start
        while let id = next, result.count < limit {
            let commit = try await commit(id)
            result.append((id, commit))
            next = commit.parents.first
        }
        return result
    }
}

extension TableStore {
    /// Every commit reachable from `start` through all parents.
    public func ancestors(of start: ObjectID) async throws -> Set<ObjectID> {
        var seen: Set<ObjectID> = [start]
        var queue = [start]
        while let id = queue.popLast() {
            for parent in try await commit(id).parents where seen.insert(parent).inserted { queue.append(parent) }
        }
        return seen
    }

    /// The nearest common ancestor of two commits (breadth-first from `b`), or nil.
    public func mergeBase(_ a: ObjectID, _ b: ObjectID) async throws -> ObjectID? {
        let fromA = try await ancestors(of: a)
        var seen: Set<ObjectID> = [b]
        var queue = [b]
        var index = 0
        while index < queue.count {
            let id = queue[index]
            index += 1
            if fromA.contains(id) { return id }
            for parent in try await commit(id).parents where seen.insert(parent).inserted { queue.append(parent) }
        }
        return nil
    }
}

/// The last few hundred commits and manifests a repository decoded (a fresh set once full).
final class DecodedObjects: Sendable {
    private struct Entries {
        var commits: [ObjectID: Commit] = [:]
        var manifests: [ObjectID: Manifest] = [:]
    }
    private let entries = Mutex(Entries())
    private let limit = 512

    func commit(_ id: ObjectID) -> Commit? { entries.withLock { $0.commits[id] } }
    func manifest(_ id: ObjectID) -> Manifest? { entries.withLock { $0.manifests[id] } }

    func keep(_ commit: Commit, _ id: ObjectID) {
        entries.withLock { if $0.commits.count >= limit { $0.commits = [:] }; $0.commits[id] = commit }
    }

    func keep(_ manifest: Manifest, _ id: ObjectID) {
        entries.withLock { if $0.manifests.count >= limit { $0.manifests = [:] }; $0.manifests[id] = manifest }
    }
}
