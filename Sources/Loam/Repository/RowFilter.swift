import LoamFormat

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

    /// Evaluates against `values`, which maps each name in `columns` to its cell.
    public func matches(_ value: (String) -> Value) -> Bool {
        switch self {
        case .always: return true
        case .isNull(let c, let negated): return value(c).isNull != negated
        case .and(let a, let b): return a.matches(value) && b.matches(value)
        case .or(let a, let b): return a.matches(value) || b.matches(value)
        case .not(let a): return !a.matches(value)
        case .compare(let c, let op, let literal):
            var cell = value(c)
            if cell.isNull || literal.isNull { return false }
            if case .bool(let b) = cell { cell = .int(b ? 1 : 0) }
            let rhs: Value = { if case .bool(let b) = literal { return .int(b ? 1 : 0) } else { return literal } }()
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

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
