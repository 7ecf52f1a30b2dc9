import LoamFormat
import LoamTable

/// A row predicate for `delete` and `update`: comparisons of a column with a
/// literal, joined by AND / OR, with NOT and parentheses. NULL never compares
/// equal (SQL semantics); use `IS NULL`.
///
/// ```swift
/// let filter = try RowFilter.parse("label = 3 AND (score > 0.5 OR text IS NULL)")
/// filter.columns     // ["label", "score", "text"]
/// ```
public indirect enum RowFilter: Sendable, Equatable {
    public enum Op: String, Sendable { case eq = "=", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }
    case compare(String, Op, Value)
    case isNull(String, negated: Bool)
    case and(RowFilter, RowFilter)
    case or(RowFilter, RowFilter)
    case not(RowFilter)
    case always

    public var columns: [String] {
        var seen: [String] = []
        func walk(_ f: RowFilter) {
            switch f {
            case .compare(let c, _, _), .isNull(let c, _): if !seen.contains(c) { seen.append(c) }
            case .and(let a, let b), .or(let a, let b): walk(a); walk(b)
            case .not(let a): walk(a)
            case .always: break
            }
        }
        walk(self)
        return seen
    }

    /// False only when a fragment's zone map proves no row can match
    /// (`statistics(column)` gives min, max and null count, or nil when unknown).
    public func mayMatch(rows: Int, _ statistics: (String) -> (min: Value?, max: Value?, nullCount: Int)?) -> Bool {
        switch self {
        case .always, .not: return true
        case .and(let a, let b): return a.mayMatch(rows: rows, statistics) && b.mayMatch(rows: rows, statistics)
        case .or(let a, let b): return a.mayMatch(rows: rows, statistics) || b.mayMatch(rows: rows, statistics)
        case .isNull(let c, let negated):
            guard let stats = statistics(c) else { return true }
            return negated ? stats.nullCount < rows : stats.nullCount > 0
        case .compare(let c, let op, let literal):
            guard let stats = statistics(c), let lo = stats.min, let hi = stats.max, !literal.isNull else {
                return statistics(c).map { $0.nullCount < rows } ?? true
            }
            switch op {
            case .eq: return !(literal < lo) && !(hi < literal)
            case .ne: return lo < literal || literal < lo || hi < literal || literal < hi
            case .lt: return lo < literal
            case .le: return !(literal < lo)
            case .gt: return literal < hi
            case .ge: return !(hi < literal)
            }
        }
    }

    /// False only when `entry`'s zone maps prove no row of it can match.
    /// Statistics cover the fragment's physical rows, deleted ones included,
    /// so they are compared with the physical row count.
    public func mayMatch(_ entry: FragmentEntry, schema: TableSchema) -> Bool {
        mayMatch(rows: entry.rows) { name in
            guard let id = schema.columnID(name), entry.columnIDs.contains(id), let stats = entry.statistics[String(id)] else { return nil }
            return (stats.min?.value, stats.max?.value, stats.nullCount)
        }
    }

    /// Which of the rows at `offsets` match, given the arrays of `columns`
    /// (one entry per name in `self.columns`). SQL's three-valued logic: a
    /// comparison with NULL is unknown, NOT unknown is unknown, and only rows
    /// whose condition is true match.
    public func mask(_ columns: [String: ArrowArray], _ offsets: [Int]) -> [Bool] {
        truth(columns, offsets).map { $0 == .yes }
    }

    enum Truth: UInt8 { case no, yes, unknown }

    func truth(_ columns: [String: ArrowArray], _ offsets: [Int]) -> [Truth] {
        switch self {
        case .always: return [Truth](repeating: .yes, count: offsets.count)
        case .and(let a, let b):
            return zip(a.truth(columns, offsets), b.truth(columns, offsets)).map { x, y in
                x == .no || y == .no ? .no : (x == .unknown || y == .unknown ? .unknown : .yes)
            }
        case .or(let a, let b):
            return zip(a.truth(columns, offsets), b.truth(columns, offsets)).map { x, y in
                x == .yes || y == .yes ? .yes : (x == .unknown || y == .unknown ? .unknown : .no)
            }
        case .not(let a): return a.truth(columns, offsets).map { $0 == .unknown ? .unknown : ($0 == .yes ? .no : .yes) }
        case .isNull(let c, let negated):
            guard let array = columns[c] else { return [Truth](repeating: negated ? .yes : .no, count: offsets.count) }
            return offsets.map { array.isNull($0) != negated ? .yes : .no }
        case .compare(let c, let op, let literal):
            guard let array = columns[c], !literal.isNull else { return [Truth](repeating: .unknown, count: offsets.count) }
            let known = Self.compare(array, op, literal, offsets)
            return zip(offsets, known).map { offset, hit in array.isNull(offset) ? .unknown : (hit ? .yes : .no) }
        }
    }

    private static func test<T: Comparable>(_ a: T, _ op: Op, _ b: T) -> Bool {
        switch op {
        case .eq: return a == b
        case .ne: return a != b
        case .lt: return a < b
        case .le: return a <= b
        case .gt: return a > b
        case .ge: return a >= b
        }
    }

    /// Typed loops for integer and float columns; `Value` comparison for the rest.
    private static func compare(_ array: ArrowArray, _ op: Op, _ literal: Value, _ offsets: [Int]) -> [Bool] {
        let data = array.buffers.count > 1 ? array.buffers[1] : ByteView.empty
        func numeric(_ read: (Int) -> Int64) -> [Bool] {
            switch literal {
            case .int(let l): return offsets.map { !array.isNull($0) && test(read($0), op, l) }
            case .float(let d): return offsets.map { !array.isNull($0) && test(Double(read($0)), op, d) }
            case .uint(let u) where u <= UInt64(Int64.max): return offsets.map { !array.isNull($0) && test(read($0), op, Int64(u)) }
            default: return generic()
            }
        }
        func generic() -> [Bool] {
            let rhs: Value = { if case .bool(let b) = literal { return .int(b ? 1 : 0) } else { return literal } }()
            return offsets.map { offset in
                var cell = array.value(at: offset)
                if cell.isNull { return false }
                if case .bool(let b) = cell { cell = .int(b ? 1 : 0) }
                switch op {
                case .eq: return !(cell < rhs) && !(rhs < cell)
                case .ne: return cell < rhs || rhs < cell
                case .lt: return cell < rhs
                case .le: return !(rhs < cell)
                case .gt: return rhs < cell
                case .ge: return !(cell < rhs)
                }
            }
        }
        switch array.type {
        case .int64, .timestamp: return numeric { data.load($0, as: Int64.self) }
        case .int32, .date32: return numeric { Int64(data.load($0, as: Int32.self)) }
        case .int16: return numeric { Int64(data.load($0, as: Int16.self)) }
        case .int8: return numeric { Int64(data.load($0, as: Int8.self)) }
        case .uint8: return numeric { Int64(data.load($0, as: UInt8.self)) }
        case .uint16: return numeric { Int64(data.load($0, as: UInt16.self)) }
        case .uint32: return numeric { Int64(data.load($0, as: UInt32.self)) }
        case .float64, .float32:
            guard let d = literal.asDouble, !literal.isBoolLiteral else { return generic() }
            if array.type == .float64 { return offsets.map { !array.isNull($0) && test(data.loadDouble($0), op, d) } }
            return offsets.map { !array.isNull($0) && test(Double(data.loadFloat($0)), op, d) }
        default: return generic()
        }
    }

    public static func parse(_ text: String) throws -> RowFilter {
        var parser = Parser(tokens: try tokenize(text), text: text)
        let filter = try parser.or()
        guard parser.index == parser.tokens.count else { throw parser.error("unexpected '\(parser.tokens[parser.index].text)'") }
        return filter
    }

    struct Token { let text: String; let quoted: Bool }

    static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c == "'" {
                var s = ""
                i += 1
                while true {
                    guard i < chars.count else { throw LoamError.invalidArgument("--where '\(text)': unterminated string literal") }
                    if chars[i] == "'" {
                        if i + 1 < chars.count && chars[i + 1] == "'" { s.append("'"); i += 2; continue }
                        i += 1
                        break
                    }
                    s.append(chars[i])
                    i += 1
                }
                tokens.append(Token(text: s, quoted: true))
            } else if "()".contains(c) {
                tokens.append(Token(text: String(c), quoted: false))
                i += 1
            } else if "=<>!".contains(c) {
                var op = String(c)
                if i + 1 < chars.count, "=>".contains(chars[i + 1]) { op.append(chars[i + 1]); i += 1 }
                tokens.append(Token(text: op, quoted: false))
                i += 1
            } else {
                var s = ""
                while i < chars.count, !chars[i].isWhitespace, !"()=<>!'".contains(chars[i]) { s.append(chars[i]); i += 1 }
                tokens.append(Token(text: s, quoted: false))
            }
        }
        return tokens
    }

    struct Parser {
        let tokens: [Token]
        let text: String
        var index = 0

        func error(_ message: String) -> LoamError {
            LoamError.invalidArgument("--where '\(text)': \(message); write comparisons like \"label = 3 AND score > 0.5\" or \"name IS NULL\"")
        }

        func keyword(_ word: String) -> Bool {
            index < tokens.count && !tokens[index].quoted && tokens[index].text.uppercased() == word
        }

        mutating func or() throws -> RowFilter {
            var left = try and()
            while keyword("OR") { index += 1; left = .or(left, try and()) }
            return left
        }

        mutating func and() throws -> RowFilter {
            var left = try unary()
            while keyword("AND") { index += 1; left = .and(left, try unary()) }
            return left
        }

        mutating func unary() throws -> RowFilter {
            if keyword("NOT") { index += 1; return .not(try unary()) }
            if keyword("(") {
                index += 1
                let inner = try or()
                guard keyword(")") else { throw error("missing ')'") }
                index += 1
                return inner
            }
            guard index < tokens.count, !tokens[index].quoted else { throw error("expected a column name") }
            let column = tokens[index].text.trimmingCharacters(in: "\"")
            index += 1
            if keyword("IS") {
                index += 1
                var negated = false
                if keyword("NOT") { negated = true; index += 1 }
                guard keyword("NULL") else { throw error("expected NULL after IS") }
                index += 1
                return .isNull(column, negated: negated)
            }
            guard index < tokens.count, let op = Op(rawValue: tokens[index].text == "<>" ? "!=" : tokens[index].text == "==" ? "=" : tokens[index].text) else {
                throw error("expected =, !=, <, <=, >, >= or IS [NOT] NULL after '\(column)'")
            }
            index += 1
            guard index < tokens.count else { throw error("expected a value after '\(op.rawValue)'") }
            let token = tokens[index]
            index += 1
            return .compare(column, op, Self.literal(token))
        }

        static func literal(_ token: Token) -> Value {
            if token.quoted { return .string(token.text) }
            let upper = token.text.uppercased()
            if upper == "NULL" { return .null }
            if upper == "TRUE" { return .bool(true) }
            if upper == "FALSE" { return .bool(false) }
            if let i = Int64(token.text) { return .int(i) }
            if let d = Double(token.text) { return .float(d) }
            return .string(token.text)
        }
    }
}

extension Value {
    var isBoolLiteral: Bool { if case .bool = self { return true } else { return false } }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
