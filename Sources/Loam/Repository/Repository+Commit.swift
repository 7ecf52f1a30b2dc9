import Foundation
import LoamStorage
import LoamTable

/// The tree a write edits: dataset name → manifest id.
public typealias Tree = [String: ObjectID]

extension Repository {
    /// Runs one write as one commit on the current branch.
    ///
    /// `body` edits a copy of the head commit's tree, writing any new objects
    /// it needs; then the commit object is written and the branch moved by
    /// compare-and-swap. If anything fails or the process dies before the
    /// swap, the branch still points where it did: the write is invisible.
    @discardableResult
    public func commit(message: String, _ body: (inout Tree) async throws -> Void) async throws -> ObjectID {
        let branch = try await meta.currentBranch()
        guard let head = try await meta.ref(named: branch) else { throw TableError.unknownRef(branch) }
        let parent = try await tables.commit(head.commit)
        var tree = parent.tree
        try await body(&tree)
        FailPoint.hit("before-commit-object")
        let id = try await tables.save(Commit(parents: [head.commit], tree: tree, author: author, message: message))
        FailPoint.hit("before-ref-swap")
        try await meta.compareAndSwap(branch: branch, expected: head.commit, new: id)
        FailPoint.hit("after-ref-swap")
        for name in tree.keys where parent.tree[name] == nil { try await meta.registerDataset(name, createdBy: id) }
        return id
    }

    /// The manifest of `dataset` in `tree`, or an error listing the datasets there.
    func manifest(_ dataset: String, in tree: Tree) async throws -> Manifest {
        guard let id = tree[dataset] else { throw TableError.unknownDataset(dataset, available: tree.keys.sorted()) }
        return try await tables.manifest(id)
    }
}
