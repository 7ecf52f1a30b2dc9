/// A query error that points at the place in the statement: the statement,
/// a caret under the offending position, and what was expected.
///
/// ```
/// SELECT lable FROM reviews
///        ^
/// unknown column 'lable' (did you mean 'label'?)
/// ```
public struct SQLError: Error, CustomStringConvertible, Equatable {
    public let sql: String
    /// Character offset of the problem in `sql`.
    public let position: Int
    public let message: String

    public init(sql: String, position: Int, message: String) {
        self.sql = sql
        self.position = position
        self.message = message
    }

    public var description: String {
        // Show the line holding the position, with a caret under it.
        let chars = Array(sql)
        let at = min(max(position, 0), chars.count)
        var start = at, end = at
        while start > 0 && chars[start - 1] != "\n" { start -= 1 }
        while end < chars.count && chars[end] != "\n" { end += 1 }
        let line = String(chars[start..<end])
        return line + "\n" + String(repeating: " ", count: at - start) + "^\n" + message
    }
}

/// The closest of `candidates` to `name` by edit distance, when close enough to suggest.
func closest(_ name: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() { current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))) }
            previous = current
        }
        return previous[b.count]
    }
    let lower = Array(name.lowercased())
    let scored = candidates.map { ($0, distance(lower, Array($0.lowercased()))) }.min { $0.1 < $1.1 }
    guard let (best, score) = scored, score <= max(2, lower.count / 3) else { return nil }
    return best
}

/// A statement parsed once: fronts check what it is (a read or a write, for the
/// role it needs) and then run the same parsed statement.
///
/// ```swift
/// let statement = try SQLStatement("DELETE FROM t WHERE id = 3")
/// if !statement.isQuery { /* needs a writer */ }
/// let done = try await repo.execute(statement)
/// ```
public struct SQLStatement: @unchecked Sendable {
    public let sql: String
    let parsed: Statement

    /// Lexes and parses `sql`; throws an `SQLError` pointing at the first problem.
    public init(_ sql: String) throws {
        self.sql = sql
        parsed = try Parser.parseStatement(sql)
    }

    /// A SELECT (or EXPLAIN), which only reads.
    public var isQuery: Bool {
        if case .select = parsed { return true }
        return false
    }
}

/// `COPY (query) TO 'file' [[WITH] (FORMAT csv | jsonl | json | arrow)]`: the query's rows written to a file.
/// Only the command line runs it (`loam query`), since it writes on the machine that runs it;
/// without FORMAT the file's extension decides.
public struct CopyStatement: Sendable, Equatable {
    public let query: String
    public let path: String
    public let format: String

    /// The COPY in `sql`, or nil when `sql` is another statement.
    public static func parse(_ sql: String) throws -> CopyStatement? {
        try Parser.parseCopy(sql)
    }
}
