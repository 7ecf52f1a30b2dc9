import Foundation
import LoamStorage
import LoamTable

/// The tree a write edits: dataset name → manifest id.
public typealias Tree = [String: ObjectID]

extension Repository {
    /// Who the writes in this task are made by, when not the process's user: `loam serve`
    /// sets it to the user of the request's token, so a commit names the person who made it.
    @TaskLocal public static var actingUser: String?

    /// The author recorded on commits made now: the acting user, else `author`.
    public var currentAuthor: String { Repository.actingUser ?? author }

    /// Runs one write as one commit on the current branch.
    ///
    /// `body` edits a copy of the head commit's tree, writing any new objects
    /// it needs; then the commit object is written and the branch moved by
    /// compare-and-swap. If anything fails or the process dies before the
    /// swap, the branch still points where it did: the write is invisible.
    ///
    /// A write that leaves the tree as it was commits nothing and returns the head.
    ///
    /// If another writer moved the branch meanwhile, this write is rebased
    /// onto theirs (a three-way merge, so disjoint changes combine) and the
    /// swap retried; a true conflict fails, naming the other commit.
    ///
    /// Inside a `Transaction` (the task-local `Repository.transaction`) the
    /// write goes to the transaction's pending tree and nothing is committed.
    /// `base` commits on top of that commit instead of the branch's head.
    @discardableResult
    public func commit(message: String, from base: ObjectID? = nil, _ body: (inout Tree) async throws -> Void) async throws -> ObjectID {
        if let transaction = Repository.transaction {
            var tree = transaction.tree
            try await body(&tree)
            transaction.record(tree, message)
            return transaction.base
        }
        let branch = try await meta.currentBranch()
        guard let head = try await meta.ref(named: branch) else { throw TableError.unknownRef(branch) }
        let start = base ?? head.commit
        let parent = try await tables.commit(start)
        var tree = parent.tree
        try await body(&tree)
        // A write that changed nothing (e.g. an UPDATE matching no row) makes no commit.
        if tree == parent.tree { return start }
        return try await land(tree, on: start, startTree: parent.tree, branch: branch, message: message)
    }

    /// The one step that makes a write visible, under every write (imports, edits,
    /// SQL, merges, reverts): writes the commit of `tree` with parents `start` and
    /// `extraParents` (a merge's other side), then moves `branch` from `start` to
    /// it by compare-and-swap (the catalog logs the move in the reflog). If
    /// another writer moved the branch meanwhile, the commit is rebased onto theirs
    /// by a three-way merge and the swap retried; a true conflict fails, naming
    /// their commit, and nothing is committed.
    @discardableResult
    func land(_ tree: Tree, on start: ObjectID, startTree known: Tree? = nil, extraParents: [ObjectID] = [], branch: String,
              message: String) async throws -> ObjectID {
        let startTree: Tree
        if let known { startTree = known } else { startTree = try await tables.commit(start).tree }
        FailPoint.hit("before-commit-object")
        var expected = start
        var commit = Commit(parents: [start] + extraParents, tree: tree, author: currentAuthor, message: message)
        for _ in 0..<16 {
            let id = try await tables.save(commit)
            do {
                try await moveBranch(branch, from: expected, to: id)
            } catch StorageError.refConflict(_, _, let actual?) {
                let other = try ObjectID(hex: actual)
                let (merged, conflicts, _) = try await mergedTree(base: expected, ours: other, theirs: id, resolution: MergeResolution())
                guard let merged else {
                    let theirs = try await tables.commit(other)
                    throw LoamError.writeConflict(branch: branch, other: other.short, otherMessage: theirs.message,
                                                  conflicts: conflicts.map(\.description))
                }
                expected = other
                commit = Commit(parents: [other] + extraParents, tree: merged, author: currentAuthor, message: message)
                continue
            }
            for name in commit.tree.keys where startTree[name] == nil { try await meta.registerDataset(name, createdBy: id) }
            return id
        }
        throw StorageError.refConflict(branch: branch, expected: expected.hex, actual: nil)
    }

    /// Moves a branch by compare-and-swap, between the crash-test fail points every ref move shares.
    func moveBranch(_ branch: String, from expected: ObjectID, to new: ObjectID) async throws {
        FailPoint.hit("before-ref-swap")
        try await meta.compareAndSwap(branch: branch, expected: expected, new: new)
        FailPoint.hit("after-ref-swap")
    }

    /// The manifest of `dataset` in `tree`, or an error listing the datasets there.
    func manifest(_ dataset: String, in tree: Tree) async throws -> Manifest {
        guard let id = tree[dataset] else { throw TableError.unknownDataset(dataset, available: tree.keys.sorted()) }
        return try await tables.manifest(id)
    }
}
