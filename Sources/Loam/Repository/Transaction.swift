import Foundation
import LoamStorage
import LoamTable

/// Several writes that land as one commit (`BEGIN … COMMIT` in SQL).
///
/// ```swift
/// let t = try await repo.begin()
/// try await Repository.$transaction.withValue(t) {
///     try await repo.delete(from: "t", where: "id = 1")   // LoamQuery
///     try await repo.alter("t", .add(name: "note", type: .utf8))
/// }
/// try await repo.commit(t)      // one commit; nil when nothing changed
/// ```
///
/// While a transaction is the task-local `Repository.transaction`, every
/// write applies to its pending tree instead of committing, and reads of
/// `HEAD` see that tree. Nothing is visible to other readers until `commit`.
public final class Transaction: @unchecked Sendable {
    /// The commit the transaction started from.
    public let base: ObjectID
    private var pending: Tree
    private var statements: [String] = []
    private let lock = NSLock()
    /// The transaction is a registered writer from `begin` to its end, so `gc` keeps what it wrote.
    let registration: WriteLocks.Held

    init(base: ObjectID, tree: Tree, registration: WriteLocks.Held) {
        self.base = base
        pending = tree
        self.registration = registration
    }

    var tree: Tree { lock.withLock { pending } }

    func record(_ tree: Tree, _ message: String) {
        lock.withLock {
            pending = tree
            statements.append(message)
        }
    }

    var message: String { lock.withLock { statements.joined(separator: "\n") } }
}

extension Repository {
    /// The transaction writes in this task join, if any.
    @TaskLocal public static var transaction: Transaction?

    /// Starts a transaction at the current branch's head.
    public func begin() async throws -> Transaction {
        let registration = try await locks.registerWriter()
        let branch = try await meta.currentBranch()
        guard let head = try await meta.ref(named: branch) else { throw TableError.unknownRef(branch) }
        return Transaction(base: head.commit, tree: try await tables.commit(head.commit).tree, registration: registration)
    }

    /// Commits a transaction's writes as one commit. Nil when it changed nothing.
    ///
    /// Its statements ran against the commit it began at. If the branch moved
    /// since, its changes are laid over the new head by a strict three-way merge
    /// (`ThreeWayMerge.strict`): other rows and datasets combine, but a row or a
    /// schema that a commit since `BEGIN` also changed fails the whole transaction
    /// (first writer wins, as PostgreSQL's repeatable read), since its statements
    /// computed from the old values.
    @discardableResult
    public func commit(_ transaction: Transaction) async throws -> ObjectID? {
        defer { transaction.registration.release() }
        let base = try await tables.commit(transaction.base).tree
        let pending = transaction.tree
        let changed = Set(base.keys).union(pending.keys).filter { base[$0] != pending[$0] }
        guard !changed.isEmpty else { return nil }
        let message = transaction.message.isEmpty ? "Transaction" : transaction.message
        let branch = try await meta.currentBranch()
        let merger = ThreeWayMerge(objects: objects, strict: true)
        return try await Repository.$writing.withValue(true) {  // the transaction's registration covers this write
            var race = BranchRace(branch: branch)
            var start = transaction.base
            while true {
                var tree = try await tables.commit(start).tree
                for name in changed {
                    if tree[name] == base[name] { tree[name] = pending[name]; continue }
                    let outcome = try await merger.merge(dataset: name, base: try await tables.manifest(base[name]),
                                                         ours: try await tables.manifest(tree[name]),
                                                         theirs: try await tables.manifest(pending[name]), resolution: MergeResolution())
                    guard outcome.unresolved.isEmpty else {
                        let other = try await tables.commit(start)
                        throw LoamError.serializationFailure(branch: branch, other: start.short, otherMessage: other.message,
                                                             conflicts: outcome.unresolved.map(\.description))
                    }
                    if let merged = outcome.manifest { tree[name] = try await tables.save(merged) } else { tree[name] = nil }
                }
                let id = try await tables.save(Commit(parents: [start], tree: tree, author: currentAuthor, message: message))
                do {
                    try await AuditContext.$detail.withValue(message) { try await moveBranch(branch, from: start, to: id) }
                } catch StorageError.refConflict(_, _, let actual) {
                    try await race.lost(to: actual)
                    guard let actual else { throw TableError.unknownRef(branch) }
                    start = try ObjectID(hex: actual)
                    continue
                }
                for name in changed where base[name] == nil && pending[name] != nil { try await meta.registerDataset(name, createdBy: id) }
                return id
            }
        }
    }
}
