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
    /// If another writer moved the branch meanwhile, `body` runs again against
    /// the new head (statement-level retry, as PostgreSQL re-evaluates a row
    /// updated concurrently): `UPDATE c SET n = n + 1` from many writers adds
    /// every one. `body` must therefore start from the tree it is given and
    /// reset anything it counts. A write that keeps losing the race takes its
    /// turn exclusively (`WriteLocks.turn` here, `RefStore.withBranchTurn` on a shared catalog), so none fails
    /// for contention alone.
    ///
    /// Inside a `Transaction` (the task-local `Repository.transaction`) the
    /// write goes to the transaction's pending tree and nothing is committed.
    @discardableResult
    public func commit(message: String, _ body: (inout Tree) async throws -> Void) async throws -> ObjectID {
        if let transaction = Repository.transaction {
            var tree = transaction.tree
            try await ReadPolicy.$role.withValue(nil) { try await body(&tree) }  // a write reads what is stored
            transaction.record(tree, message)
            return transaction.base
        }
        return try await withWriteIntent {
            let branch = try await meta.currentBranch()
            var race = BranchRace(branch: branch)
            while true {
                let attempt: ObjectID? = try await takingTurn(branch, if: race.lostOften) {
                    guard let head = try await meta.ref(named: branch) else { throw TableError.unknownRef(branch) }
                    let parent = try await tables.commit(head.commit)
                    var tree = parent.tree
                    try await ReadPolicy.$role.withValue(nil) { try await body(&tree) }  // a write reads what is stored
                    for name in Set(tree.keys).union(parent.tree.keys) where tree[name] != parent.tree[name] { try Self.checkScope(name) }
                    // A write that changed nothing (e.g. an UPDATE matching no row) makes no commit.
                    if tree == parent.tree { return head.commit }
                    FailPoint.hit("before-commit-object")
                    let id = try await tables.save(Commit(parents: [head.commit], tree: tree, author: currentAuthor, message: message))
                    do {
                        try await AuditContext.$detail.withValue(message) { try await moveBranch(branch, from: head.commit, to: id) }
                    } catch StorageError.refConflict(_, _, let actual) {
                        try await race.lost(to: actual)
                        return nil
                    }
                    for name in tree.keys where parent.tree[name] == nil { try await meta.registerDataset(name, createdBy: id) }
                    return id
                }
                if let attempt { return attempt }
            }
        }
    }

    /// The one step that makes a merge or revert visible: writes the commit of
    /// `tree` with parents `start` and `extraParents` (a merge's other side), then
    /// moves `branch` from `start` to it by compare-and-swap (the catalog logs the
    /// move in the reflog). If another writer moved the branch meanwhile, the
    /// commit is rebased onto theirs by a three-way merge and the swap retried; a
    /// true conflict fails, naming their commit, and nothing is committed.
    /// (Statements re-run instead: `commit(message:_:)`.)
    @discardableResult
    func land(_ tree: Tree, on start: ObjectID, extraParents: [ObjectID] = [], branch: String, message: String) async throws -> ObjectID {
        try await withWriteIntent {
            let startTree = try await tables.commit(start).tree
            FailPoint.hit("before-commit-object")
            var expected = start
            var commit = Commit(parents: [start] + extraParents, tree: tree, author: currentAuthor, message: message)
            var race = BranchRace(branch: branch)
            while true {
                let id = try await tables.save(commit)
                do {
                    try await AuditContext.$detail.withValue(message) { try await moveBranch(branch, from: expected, to: id) }
                } catch StorageError.refConflict(_, _, let actual) {
                    try await race.lost(to: actual)
                    guard let actual else { throw TableError.unknownRef(branch) }
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
        }
    }

    /// Runs `body` as a registered writer (`WriteLocks.writers` held shared), so `gc`
    /// waits for it and never deletes an object it wrote or re-used before its
    /// commit lands. Nested writes in the same task join the outer registration.
    public func withWriteIntent<T>(_ body: () async throws -> T) async throws -> T {
        if Repository.writing { return try await body() }
        let registered = try await locks.registerWriter()
        defer { registered.release() }
        return try await Repository.$writing.withValue(true) { try await body() }
    }

    /// Whether this task already holds a write registration (`withWriteIntent`).
    @TaskLocal static var writing = false
    /// Runs `body` holding `branch`'s turn exclusively when `needed` and this task does not hold it yet:
    /// `WriteLocks.turn` orders the processes on this machine, `RefStore.withBranchTurn` those sharing the catalog.
    private func takingTurn<T: Sendable>(_ branch: String, if needed: Bool, _ body: () async throws -> T) async throws -> T {
        guard needed, !BranchTurn.held else { return try await body() }
        let turn = try await locks.acquire(.turn, exclusive: true)
        defer { turn.release() }
        return try await meta.withBranchTurn(branch) { try await BranchTurn.$held.withValue(true) { try await body() } }
    }

    /// Moves a branch by compare-and-swap, between the crash-test fail points every ref move shares, after the
    /// installed `CommitGates` pass (`gated: false` for a reset, which returns to a state the branch had).
    /// It waits while a writer that lost the race repeatedly has its turn (`WriteLocks.turn`).
    func moveBranch(_ branch: String, from expected: ObjectID, to new: ObjectID, gated: Bool = true) async throws {
        if gated { try await ReadPolicy.$role.withValue(nil) { try await CommitGates.run(self, from: expected, to: new) } }
        let turn = BranchTurn.held ? nil : try await locks.acquire(.turn, exclusive: false)
        defer { turn?.release() }
        FailPoint.hit("before-ref-swap")
        try await meta.compareAndSwap(branch: branch, expected: expected, new: new)
        FailPoint.hit("after-ref-swap")
    }

    /// The manifest of `dataset` in `tree`, or an error listing the datasets there (those in scope).
    func manifest(_ dataset: String, in tree: Tree) async throws -> Manifest {
        try Self.checkScope(dataset)
        guard let id = tree[dataset] else {
            throw TableError.unknownDataset(dataset, available: tree.keys.sorted().filter { Repository.datasetScope?.contains($0) ?? true })
        }
        let manifest = try await tables.manifest(id)
        return ReadPolicy.role == nil ? manifest : try await withCurrentMasks(manifest, dataset)
    }

    /// `manifest` with the masking policies of the dataset at the current branch's head added: an old version,
    /// read before a policy existed, is masked as the dataset is now.
    func withCurrentMasks(_ manifest: Manifest, _ dataset: String) async throws -> Manifest {
        guard let head = try await meta.ref(named: try await meta.currentBranch()),
              let id = try await tables.commit(head.commit).tree[dataset] else { return manifest }
        var metadata = manifest.schema.metadata ?? [:]
        let before = metadata
        for (key, value) in try await tables.manifest(id).schema.metadata ?? [:] where key.hasPrefix(MaskPolicy.metadataPrefix) { metadata[key] = value }
        guard metadata != before else { return manifest }
        var masked = manifest
        masked.schema.metadata = metadata
        return masked
    }

    /// The datasets the work in this task may read and write (a dataset token's own dataset and its labels on
    /// the server); nil: every dataset. Enforced where a dataset is opened and where a commit changes the tree.
    @TaskLocal public static var datasetScope: Set<String>?

    static func checkScope(_ dataset: String) throws {
        guard let scope = datasetScope, !scope.contains(dataset) else { return }
        throw LoamError.outsideScope("'\(dataset)' is outside what this token may use (\(scope.sorted().joined(separator: ", ")))")
    }
}

/// One write's record of losing the compare-and-swap on its branch to other writers.
struct BranchRace {
    let branch: String
    private(set) var losses = 0

    init(branch: String) { self.branch = branch }

    /// After this many losses the write takes the branch's turn exclusively.
    static let patience = 3
    /// A write that lost this often even with its turn is stuck on something else.
    static let limit = 50

    var lostOften: Bool { losses >= Self.patience }

    /// Notes a loss to the commit `other` and waits a random, growing time (so
    /// retrying writers spread out); throws once even taking turns has not helped.
    mutating func lost(to other: String?) async throws {
        losses += 1
        guard losses < Self.limit else {
            throw LoamError.contention(branch: branch, attempts: losses, last: other.map { String($0.prefix(12)) })
        }
        let ceiling = UInt64(min(1 << min(losses, 6), 50)) * 1_000_000  // 2, 4 … 50 ms
        try await Task.sleep(nanoseconds: UInt64.random(in: 0...ceiling))
    }
}
