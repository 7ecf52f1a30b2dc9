import Foundation

/// One declared expectation of a dataset, from its expectations file (`ExpectationFile`). `gate = true`
/// makes a write that breaks it fail.
public struct Expectation: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case notNull = "not_null", unique, range, `in`, regex, length, rows, foreignKey = "foreign_key", sql, noRows = "no_rows",
             mean, quantile, share, drift
    }

    public var kind: Kind
    public var name: String
    public var gate: Bool
    public var columns: [String]
    public var min: Double?
    public var max: Double?
    /// `in`: the allowed values, as SQL literals.
    public var allowed: [String]
    public var pattern: String?
    /// `foreign_key`: "dataset.column".
    public var references: String?
    /// `sql`: a condition every row must meet.
    public var condition: String?
    /// `no_rows`: a query that must return nothing.
    public var query: String?
    /// `quantile`: which (0…1).
    public var q: Double?
    /// `share`: the value whose share of non-null rows is bounded.
    public var value: String?
    /// `drift`: the ref compared with, and the metric (`ColumnDrift.value`).
    public var against: String?
    public var metric: String?
    /// Where it is declared.
    public var line: Int

    public var column: String { columns.first ?? "" }

    /// Which keys each kind needs and allows (beside kind, name, gate).
    static let keys: [Kind: (needs: [String], allows: [String])] = [
        .notNull: (["column"], []),
        .unique: (["column|columns"], []),
        .range: (["column", "min|max"], ["min", "max"]),
        .in: (["column", "values"], []),
        .regex: (["column", "pattern"], []),
        .length: (["column", "min|max"], ["min", "max"]),
        .rows: (["min|max"], ["min", "max"]),
        .foreignKey: (["column", "references"], []),
        .sql: (["where"], []),
        .noRows: (["query"], []),
        .mean: (["column", "min|max"], ["min", "max"]),
        .quantile: (["column", "q", "min|max"], ["min", "max"]),
        .share: (["column", "value", "min|max"], ["min", "max"]),
        .drift: (["column", "against", "metric", "min|max"], ["min", "max"]),
    ]

    /// The expectations a file declares, each checked for its keys; errors name the line and the fix.
    public static func parse(_ text: String) throws -> [Expectation] {
        var seen = Set<String>()
        return try ExpectationFile.parse(text).map { line, fields in
            func fail(_ message: String) -> QualityError { QualityError.invalid("line \(line): \(message)") }
            guard case .text(let kindText) = fields["kind"] else {
                throw fail("each [[expect]] needs kind = one of \(Kind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            guard let kind = Kind(rawValue: kindText) else {
                throw fail("unknown kind \"\(kindText)\"; kinds: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let (needs, _) = keys[kind]!
            for need in needs where !need.split(separator: "|").contains(where: { fields[String($0)] != nil }) {
                throw fail("\(kind.rawValue) needs \(need.replacingOccurrences(of: "|", with: " or "))")
            }
            let allowed = Set(["kind", "name", "gate"] + needs.flatMap { $0.split(separator: "|").map(String.init) } + keys[kind]!.allows)
            if let extra = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw fail("\(kind.rawValue) takes no \(extra) (it takes \(allowed.sorted().joined(separator: ", ")))")
            }
            func text(_ key: String) throws -> String? {
                guard let v = fields[key] else { return nil }
                guard case .text(let s) = v, !s.isEmpty else { throw fail("\(key) is a non-empty string") }
                return s
            }
            func number(_ key: String) throws -> Double? {
                guard let v = fields[key] else { return nil }
                guard case .number(let n) = v, n.isFinite else { throw fail("\(key) is a number") }
                return n
            }
            var e = Expectation(kind: kind, name: "", gate: false, columns: [], allowed: [], line: line)
            if let g = fields["gate"] {
                guard case .bool(let b) = g else { throw fail("gate is true or false") }
                e.gate = b
            }
            if let c = try text("column") { e.columns = [c] }
            if let cs = fields["columns"] {
                guard case .list(let items) = cs, !items.isEmpty else { throw fail("columns is a list of column names") }
                e.columns = try items.map { item in
                    guard case .text(let s) = item, !s.isEmpty else { throw fail("columns is a list of column names") }
                    return s
                }
            }
            (e.min, e.max) = (try number("min"), try number("max"))
            if let lo = e.min, let hi = e.max, lo > hi { throw fail("min \(lo) is above max \(hi)") }
            if let vs = fields["values"] {
                guard case .list(let items) = vs, !items.isEmpty else { throw fail("values is a non-empty list") }
                e.allowed = try items.map { item in
                    switch item {
                    case .text(let s): return SQLText.literal(s)
                    case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
                    case .bool(let b): return b ? "TRUE" : "FALSE"
                    case .list: throw fail("values holds strings, numbers or booleans")
                    }
                }
            }
            e.pattern = try text("pattern")
            if let pattern = e.pattern, (try? NSRegularExpression(pattern: pattern)) == nil { throw fail("pattern \(pattern) is not a regular expression") }
            e.references = try text("references")
            if let r = e.references, r.split(separator: ".").count != 2 { throw fail("references is \"dataset.column\", not \"\(r)\"") }
            e.condition = try text("where")
            e.query = try text("query")
            e.q = try number("q")
            if let q = e.q, !(0...1).contains(q) { throw fail("q is a fraction 0…1, not \(q)") }
            if let v = fields["value"] {
                switch v {
                case .text(let s): e.value = s
                case .number(let n): e.value = n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
                case .bool(let b): e.value = b ? "true" : "false"
                case .list: throw fail("value is one value")
                }
            }
            e.against = try text("against")
            e.metric = try text("metric")
            if let metric = e.metric, !ColumnDrift.metrics.contains(metric) {
                throw fail("metric is one of \(ColumnDrift.metrics.joined(separator: ", ")), not \(metric)")
            }
            e.name = try text("name") ?? e.defaultName
            guard seen.insert(e.name).inserted else { throw fail("two expectations are named \(e.name); give one a name = \"…\"") }
            return e
        }
    }

    var defaultName: String {
        let bounds = [min.map { ">= \(ProfileReport.number($0))" }, max.map { "<= \(ProfileReport.number($0))" }].compactMap { $0 }.joined(separator: ", ")
        switch kind {
        case .rows: return "rows \(bounds)"
        case .sql: return "where \(condition ?? "")"
        case .noRows: return "no rows from \(query ?? "")"
        case .unique: return "unique(\(columns.joined(separator: ", ")))"
        case .quantile: return "quantile(\(column), \(q ?? 0)) \(bounds)"
        case .share: return "share(\(column) = \(value ?? "")) \(bounds)"
        case .drift: return "drift(\(column), \(metric ?? "") against \(against ?? "")) \(bounds)"
        case .range, .length, .mean: return "\(kind.rawValue)(\(column)) \(bounds)"
        default: return "\(kind.rawValue)(\(column))"
        }
    }
}

/// Quoting for the SQL the checker writes.
enum SQLText {
    static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
    static func identifier(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
