import Foundation
import Loam
import LoamStorage

/// Runs statements one after another, with `BEGIN … COMMIT` (or `ROLLBACK`)
/// grouping the writes between them into one commit; reads inside a
/// transaction see its pending writes.
///
/// ```swift
/// let session = SQLSession(repository: repo)
/// _ = try await session.execute("BEGIN")
/// _ = try await session.execute("DELETE FROM t WHERE id = 1")
/// _ = try await session.execute("INSERT INTO t VALUES (9, 'x')")
/// let done = try await session.execute("COMMIT")   // one commit
/// ```
public final class SQLSession: @unchecked Sendable {
    public let repository: Repository
    private var transaction: Transaction?

    public init(repository: Repository) { self.repository = repository }

    public var inTransaction: Bool { transaction != nil }

    public func execute(_ sql: String) async throws -> StatementResult {
        let word = sql.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: ";"))
            .trimmingCharacters(in: .whitespaces).uppercased()
        switch word {
        case "BEGIN", "BEGIN TRANSACTION", "START TRANSACTION":
            guard transaction == nil else { throw SQLError(sql: sql, position: 0, message: "a transaction is already open; COMMIT or ROLLBACK it first") }
            transaction = try await repository.begin()
            return StatementResult(query: nil, affected: 0, commit: nil, verb: "BEGIN")
        case "COMMIT", "END", "COMMIT TRANSACTION":
            guard let open = transaction else { throw SQLError(sql: sql, position: 0, message: "no transaction is open (start one with BEGIN)") }
            transaction = nil
            return StatementResult(query: nil, affected: 0, commit: try await repository.commit(open), verb: "COMMIT")
        case "ROLLBACK", "ABORT":
            guard transaction != nil else { throw SQLError(sql: sql, position: 0, message: "no transaction is open") }
            transaction = nil
            return StatementResult(query: nil, affected: 0, commit: nil, verb: "ROLLBACK")
        default:
            guard let open = transaction else { return try await repository.execute(sql) }
            return try await Repository.$transaction.withValue(open) { try await repository.execute(sql) }
        }
    }
}
