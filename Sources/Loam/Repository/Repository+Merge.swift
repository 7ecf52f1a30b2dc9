import Foundation
import LoamStorage
import LoamTable

/// The result of `merge`.
public struct MergeResult: Sendable {
    public enum Kind: String, Sendable { case upToDate = "up-to-date", fastForward = "fast-forward", merged, conflicted }
    public let kind: Kind
    /// The new head (nil when nothing was committed).
    public let commit: ObjectID?
    /// Unresolved conflicts: the merge committed nothing.
    public let conflicts: [MergeConflict]
    /// Conflicts settled by the resolution given.
    public let resolved: Int
}

extension Repository {
    /// Row-level differences between two refs, per dataset (only datasets that differ, or `dataset`).
    public func diff(_ from: String, _ to: String, dataset: String? = nil) async throws -> [DatasetDiff] {
        let a = try await tables.commit(try await tables.resolve(from)).tree
        let b = try await tables.commit(try await tables.resolve(to)).tree
        if let dataset { try Self.checkScope(dataset) }
        let names = (dataset.map { [$0] } ?? Set(a.keys).union(b.keys).sorted()).filter { Repository.datasetScope?.contains($0) ?? true }
        if let dataset, a[dataset] == nil, b[dataset] == nil {
            throw TableError.unknownDataset(dataset, available: Set(a.keys).union(b.keys).sorted())
        }
        let reader = FragmentReader(objects: objects)
        var diffs: [DatasetDiff] = []
        for name in names where a[name] != b[name] {
            var old = try await tables.manifest(a[name]), new = try await tables.manifest(b[name])
            if ReadPolicy.role != nil {  // both sides as the reader may see them: masked as the dataset is now
                if let manifest = old { old = try await withCurrentMasks(manifest, name) }
                if let manifest = new { new = try await withCurrentMasks(manifest, name) }
            }
            diffs.append(try await DatasetDiff.compute(old: old, new: new, reader: reader, dataset: name))
        }
        return diffs.filter { $0.status != .unchanged }
    }

    /// Merges `ref` into the current branch: fast-forward when possible, else
    /// a three-way merge with the merge base, committed with two parents.
    /// With unresolved conflicts nothing is committed and they are returned.
    public func merge(_ ref: String, resolution: MergeResolution = MergeResolution(), message: String? = nil) async throws -> MergeResult {
        try await withWriteIntent { try await merge(ref, resolution: resolution, message: message, attempts: 16) }
    }

    private func merge(_ ref: String, resolution: MergeResolution, message: String?, attempts: Int) async throws -> MergeResult {
        let branch = try await meta.currentBranch()
        guard let head = try await meta.ref(named: branch)?.commit else { throw TableError.unknownRef(branch) }
        let theirs = try await tables.resolve(ref)
        guard let base = try await tables.mergeBase(head, theirs) else {
            throw LoamError.invalidArgument("'\(ref)' shares no history with '\(branch)'")
        }
        if base == theirs { return MergeResult(kind: .upToDate, commit: nil, conflicts: [], resolved: 0) }
        if base == head {
            do {
                try await AuditContext.$detail.withValue("fast-forward to \(ref)") { try await moveBranch(branch, from: head, to: theirs) }
            } catch StorageError.refConflict where attempts > 1 {
                // The branch moved while we looked: what was a fast-forward is now a merge.
                return try await merge(ref, resolution: resolution, message: message, attempts: attempts - 1)
            }
            return MergeResult(kind: .fastForward, commit: theirs, conflicts: [], resolved: 0)
        }
        let (tree, conflicts, resolved) = try await mergedTree(base: base, ours: head, theirs: theirs, resolution: resolution)
        guard conflicts.isEmpty, let tree else { return MergeResult(kind: .conflicted, commit: nil, conflicts: conflicts, resolved: resolved) }
        let id = try await land(tree, on: head, extraParents: [theirs], branch: branch, message: message ?? "Merge \(ref) into \(branch)")
        return MergeResult(kind: .merged, commit: id, conflicts: [], resolved: resolved)
    }

    /// The three-way merge of whole trees; nil tree when conflicts remain.
    func mergedTree(base: ObjectID, ours: ObjectID, theirs: ObjectID, resolution: MergeResolution) async throws
        -> (tree: Tree?, conflicts: [MergeConflict], resolved: Int) {
        let baseTree = try await tables.commit(base).tree
        let ourTree = try await tables.commit(ours).tree
        let theirTree = try await tables.commit(theirs).tree
        let merger = ThreeWayMerge(objects: objects)
        var tree: Tree = [:]
        var conflicts: [MergeConflict] = []
        var resolved = 0
        for name in Set(baseTree.keys).union(ourTree.keys).union(theirTree.keys).sorted() {
            let (b, o, t) = (baseTree[name], ourTree[name], theirTree[name])
            if o == t { if let o { tree[name] = o }; continue }
            if b == o { if let t { tree[name] = t }; continue }
            if b == t { if let o { tree[name] = o }; continue }
            let outcome = try await merger.merge(dataset: name, base: try await tables.manifest(b),
                                                 ours: try await tables.manifest(o),
                                                 theirs: try await tables.manifest(t), resolution: resolution)
            conflicts += outcome.unresolved
            resolved += outcome.resolved.count
            if let manifest = outcome.manifest { tree[name] = try await tables.save(manifest) }
        }
        return (conflicts.isEmpty ? tree : nil, conflicts, resolved)
    }

    /// A new commit on the current branch that undoes `ref`'s changes
    /// (relative to its first parent), merged over what came after it.
    public func revert(_ ref: String, resolution: MergeResolution = MergeResolution()) async throws -> MergeResult {
        try await withWriteIntent { try await revertRegistered(ref, resolution: resolution) }
    }

    private func revertRegistered(_ ref: String, resolution: MergeResolution) async throws -> MergeResult {
        let target = try await tables.resolve(ref)
        let reverted = try await tables.commit(target)
        guard let parent = reverted.parents.first else { throw LoamError.invalidArgument("\(target.short) is the first commit; there is nothing to revert to") }
        let branch = try await meta.currentBranch()
        guard let head = try await meta.ref(named: branch)?.commit else { throw TableError.unknownRef(branch) }
        let (tree, conflicts, resolved) = try await mergedTree(base: target, ours: head, theirs: parent, resolution: resolution)
        guard conflicts.isEmpty, let tree else { return MergeResult(kind: .conflicted, commit: nil, conflicts: conflicts, resolved: resolved) }
        let id = try await land(tree, on: head, branch: branch, message: "Revert \"\(reverted.message)\" (\(target.short))")
        return MergeResult(kind: .merged, commit: id, conflicts: [], resolved: resolved)
    }

    /// Commits that moving the current branch to `ref` would leave reachable from no ref, newest first.
    public func commitsLostByReset(to ref: String) async throws -> [ObjectID] {
        let branch = try await meta.currentBranch()
        guard let head = try await meta.ref(named: branch)?.commit else { throw TableError.unknownRef(branch) }
        var kept = try await tables.ancestors(of: try await tables.resolve(ref))
        for other in try await meta.refs(kind: nil) where other.name != branch { kept.formUnion(try await tables.ancestors(of: other.commit)) }
        return try await tables.history(from: head).map(\.id).filter { !kept.contains($0) }
    }

    /// Moves the current branch to `ref`. Refuses, naming them, when commits
    /// would become unreachable, unless `force`.
    @discardableResult
    public func reset(to ref: String, force: Bool = false) async throws -> ObjectID {
        let branch = try await meta.currentBranch()
        guard let head = try await meta.ref(named: branch)?.commit else { throw TableError.unknownRef(branch) }
        let target = try await tables.resolve(ref)
        let lost = try await commitsLostByReset(to: ref)
        if !lost.isEmpty && !force {
            throw LoamError.invalidArgument("resetting '\(branch)' to \(target.short) would leave \(lost.count) commit(s) on no branch or tag: "
                + lost.prefix(5).map(\.short).joined(separator: ", ") + (lost.count > 5 ? ", …" : "")
                + "; tag or branch them first, or pass --force (they stay recoverable by hash until `loam gc`)")
        }
        try await AuditContext.$detail.withValue("reset to \(ref)") { try await moveBranch(branch, from: head, to: target, gated: false) }
        return target
    }
}
