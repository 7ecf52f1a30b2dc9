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
    /// Seconds each statement may run (`SET statement_timeout`); nil: no limit.
    public var statementTimeout: Double?
    /// Bytes of rows each statement may hold to sort, join, group or deduplicate (`SET memory_limit`).
    public var memoryLimit: Int

    public init(repository: Repository, statementTimeout: Double? = nil, memoryLimit: Int = MemoryBudget.defaultLimit) {
        self.repository = repository
        self.statementTimeout = statementTimeout
        self.memoryLimit = memoryLimit
    }

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
            if let setting = try Self.timeoutSetting(sql) {
                statementTimeout = setting > 0 ? setting : nil
                return StatementResult(query: nil, affected: 0, commit: nil, verb: "SET")
            }
            if let limit = try Self.memorySetting(sql) {
                memoryLimit = limit
                return StatementResult(query: nil, affected: 0, commit: nil, verb: "SET")
            }
            return try await StatementLimit.run(timeout: statementTimeout, memoryLimit: memoryLimit) {
                guard let open = transaction else { return try await repository.execute(sql) }
                return try await Repository.$transaction.withValue(open) { try await repository.execute(sql) }
            }
        }
    }

    /// The value of `SET name = value` (or `SET name TO value`), or nil when `sql` sets something else.
    static func setting(_ name: String, in sql: String) -> String? {
        let words = sql.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: ";")))
            .split(whereSeparator: { $0 == " " || $0 == "=" || $0 == "\n" || $0 == "\t" }).map(String.init)
        guard words.count >= 2, words[0].uppercased() == "SET", words[1].lowercased() == name else { return nil }
        return words.dropFirst(2).filter { $0.uppercased() != "TO" }.joined()
    }

    /// `SET memory_limit = '2GB'` (or MB, GiB, MiB, KB, or bytes): the bytes, or nil when `sql` is not that.
    static func memorySetting(_ sql: String) throws -> Int? {
        guard let value = setting("memory_limit", in: sql) else { return nil }
        guard let bytes = MemoryBudget.parse(value) else {
            throw SQLError(sql: sql, position: 0, message: "SET memory_limit takes a size such as '2GB', '512MB' or '1.5GiB'")
        }
        return bytes
    }

    /// `SET statement_timeout = '5s'` (or `TO`, a number of milliseconds as in PostgreSQL,
    /// or '250ms', '2min'; 0 turns the limit off): the seconds, or nil when `sql` is not that.
    static func timeoutSetting(_ sql: String) throws -> Double? {
        guard let value = setting("statement_timeout", in: sql) else { return nil }
        let text = value.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("min", 60), ("s", 1), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number >= 0, number.isFinite { return number * scale }
        }
        if let ms = Double(text), ms >= 0, ms.isFinite { return ms / 1000 }
        throw SQLError(sql: sql, position: 0, message: "SET statement_timeout takes a duration such as '5s', '250ms', '2min' or a number of milliseconds (0: no limit)")
    }
}
