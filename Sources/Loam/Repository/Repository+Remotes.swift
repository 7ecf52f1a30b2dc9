import Foundation
import LoamStorage
import LoamTable

/// Moving commits between repositories, like Git's remotes: `clone` (which also migrates a repository from
/// one backend pair to another), `fetch` and `push`. Objects are content-addressed, so a transfer copies the
/// objects the other side lacks, checks each one's hash on arrival, and then moves refs — a ref never names a
/// commit whose objects are not all there.
extension Repository {
    /// What a transfer did.
    public struct Transfer: Sendable {
        public var objects = 0
        public var bytes = 0
        /// Refs created or moved on the receiving side: name, old commit, new commit.
        public var refs: [(name: String, old: ObjectID?, new: ObjectID)] = []
    }

    /// Copies every object reachable from `roots` in `source` that this repository lacks, `parallel` at a time.
    func copyObjects(from source: Repository, roots: [(name: String, commit: ObjectID)], parallel: Int = 8) async throws -> (objects: Int, bytes: Int) {
        let reach = try await Reachability.walk(roots, tables: source.tables)
        if let problem = reach.problems.first {
            throw LoamError.invalidArgument("\(source.root.path) is missing objects (\(problem.kind.rawValue) \(problem.id.short) from \(problem.root): \(problem.problem)); run `loam fsck` there first")
        }
        let ids = Array(reach.objects.keys)
        var copied = (objects: 0, bytes: 0)
        try await withThrowingTaskGroup(of: Int?.self) { group in
            var next = 0
            func startOne() {
                let id = ids[next]
                next += 1
                group.addTask {
                    if try await self.objects.contains(id) { return nil }
                    let bytes = try await source.objects.get(id)
                    let arrived = try await self.objects.put(bytes.bytes)
                    guard arrived == id else {
                        try? await self.objects.delete(arrived)
                        throw LoamError.invalidArgument("object \(id.short) of \(source.root.path) does not hash to its id once read (an encrypted repository, or one with erasures): clone, fetch and push do not carry those yet")
                    }
                    return bytes.count
                }
            }
            while next < min(parallel, ids.count) { startOne() }
            while let done = try await group.next() {
                if let size = done { copied.objects += 1; copied.bytes += size }
                if next < ids.count { startOne() }
            }
        }
        return copied
    }

    /// Copies `source`'s branches here as `remote/<branch>` (moved to wherever the source has them) and its tags
    /// that are missing here; refuses a tag that names another commit here.
    public func fetch(from source: Repository, as remote: String = "origin") async throws -> Transfer {
        try Ref.validate(remote)
        let refs = try await source.meta.refs(kind: nil)
        var transfer = Transfer()
        (transfer.objects, transfer.bytes) = try await copyObjects(from: source, roots: refs.map { ($0.name, $0.commit) })
        for ref in refs {
            if ref.kind == .tag {
                if let mine = try await meta.ref(named: ref.name) {
                    guard mine.commit == ref.commit else {
                        throw LoamError.invalidArgument("tag '\(ref.name)' names \(ref.commit.short) in \(source.root.path) but \(mine.commit.short) here: rename one of them")
                    }
                    continue
                }
                try await meta.createRef(ref)
                transfer.refs.append((ref.name, nil, ref.commit))
                continue
            }
            let name = "\(remote)/\(ref.name)"
            let old = try await meta.ref(named: name)?.commit
            guard old != ref.commit else { continue }
            try await meta.compareAndSwap(branch: name, expected: old, new: ref.commit)
            transfer.refs.append((name, old, ref.commit))
        }
        return transfer
    }

    /// Copies `branch` and what it reaches to `target`, then moves `target`'s branch of the same name to it —
    /// only forward (its head must be an ancestor of ours) unless `force`.
    public func push(to target: Repository, branch: String, force: Bool = false) async throws -> Transfer {
        guard let mine = try await meta.ref(named: branch), mine.kind == .branch else { throw LoamError.invalidArgument("no branch '\(branch)' here") }
        var transfer = Transfer()
        (transfer.objects, transfer.bytes) = try await target.copyObjects(from: self, roots: [(branch, mine.commit)])
        let theirs = try await target.meta.ref(named: branch)?.commit
        if theirs == mine.commit { return transfer }
        // Their head must be an ancestor of ours; one this repository does not even have is not.
        if let theirs, !force, try await isAncestor(theirs, of: mine.commit) == false {
            throw LoamError.invalidArgument("\(target.root.path) has commits on '\(branch)' that this repository lacks (its head \(theirs.short)): fetch and merge them first, or push --force")
        }
        do { try await target.meta.compareAndSwap(branch: branch, expected: theirs, new: mine.commit) } catch StorageError.refConflict {
            throw LoamError.invalidArgument("'\(branch)' moved in \(target.root.path) during the push: push again")
        }
        for dataset in try await meta.registeredDatasets() { try await target.meta.registerDataset(dataset, createdBy: mine.commit) }
        transfer.refs.append((branch, theirs, mine.commit))
        return transfer
    }

    /// Whether `ancestor` is `commit` or reached from it; false for a commit this repository does not have.
    private func isAncestor(_ ancestor: ObjectID, of commit: ObjectID) async throws -> Bool {
        guard try await objects.contains(ancestor) else { return false }
        return try await tables.mergeBase(ancestor, commit) == ancestor
    }

    /// A new repository at `path` (on `backends`, or the embedded default) with every branch, tag and dataset of
    /// `source`, and its current branch: also how a repository moves from SQLite and a folder to PostgreSQL and S3.
    public static func clone(from source: Repository, to path: URL, backends: Backends? = nil) async throws -> (Repository, Transfer) {
        let target = try await initialize(at: path, backends: backends)
        let refs = try await source.meta.refs(kind: nil)
        let existing = try await target.meta.refs(kind: nil)
        guard existing.count == 1, try await target.tables.commit(existing[0].commit).parents.isEmpty else {
            throw LoamError.invalidArgument("the catalog at \(path.path) already holds a repository with history: clone into an empty one")
        }
        var transfer = Transfer()
        (transfer.objects, transfer.bytes) = try await target.copyObjects(from: source, roots: refs.map { ($0.name, $0.commit) })
        for ref in refs {
            if let old = try await target.meta.ref(named: ref.name) {
                try await target.meta.compareAndSwap(branch: ref.name, expected: old.commit, new: ref.commit)
                transfer.refs.append((ref.name, old.commit, ref.commit))
            } else {
                try await target.meta.createRef(ref)
                transfer.refs.append((ref.name, nil, ref.commit))
            }
        }
        try await target.meta.setCurrentBranch(try await source.meta.currentBranch())
        for dataset in try await source.meta.registeredDatasets() {
            try await target.meta.registerDataset(dataset, createdBy: refs.first { $0.name == "main" }?.commit ?? refs[0].commit)
        }
        return (target, transfer)
    }
}
