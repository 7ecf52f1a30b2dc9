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

    init(base: ObjectID, tree: Tree) {
        self.base = base
        pending = tree
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
        let branch = try await meta.currentBranch()
        guard let head = try await meta.ref(named: branch) else { throw TableError.unknownRef(branch) }
        return Transaction(base: head.commit, tree: try await tables.commit(head.commit).tree)
    }

    /// Commits a transaction's writes as one commit based on where it began
    /// (rebased if the branch moved meanwhile). Nil when it changed nothing.
    @discardableResult
    public func commit(_ transaction: Transaction) async throws -> ObjectID? {
        let pending = transaction.tree
        let message = transaction.message.isEmpty ? "Transaction" : transaction.message
        let id = try await Repository.$transaction.withValue(nil) {
            try await commit(message: message, from: transaction.base) { tree in tree = pending }
        }
        return id == transaction.base ? nil : id
    }
}
