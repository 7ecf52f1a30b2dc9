import Foundation

/// The expectations file's syntax: a subset of TOML — `[[expect]]` tables of `key = value` lines, values
/// being strings ("…" with \" \\ \n \t escapes, or '…' literal), integers, floats, `true`/`false`, or
/// one-line arrays of those; `#` starts a comment. Errors name the line.
///
/// ```toml
/// [[expect]]
/// kind = "not_null"
/// column = "id"
/// gate = true
/// ```
enum ExpectationFile {
    enum Scalar: Equatable, Sendable {
        case text(String), number(Double), bool(Bool), list([Scalar])
    }

    /// The `[[expect]]` tables in order, each with its line number.
    static func parse(_ text: String) throws -> [(line: Int, fields: [String: Scalar])] {
        var tables: [(line: Int, fields: [String: Scalar])] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = stripComment(String(raw)).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line == "[[expect]]" { tables.append((number, [:])); continue }
            if line.hasPrefix("[") {
                throw QualityError.invalid("line \(number): only [[expect]] tables may appear in an expectations file, not \(line)")
            }
            guard let eq = line.firstIndex(of: "=") else { throw QualityError.invalid("line \(number): expected key = value, got \(line)") }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw QualityError.invalid("line \(number): '\(key)' is not a key (letters, digits, _)")
            }
            guard !tables.isEmpty else { throw QualityError.invalid("line \(number): \(key) = … comes before the first [[expect]]") }
            var rest = Substring(line[line.index(after: eq)...]).drop { $0 == " " || $0 == "\t" }
            let value = try scalar(&rest, line: number)
            guard rest.allSatisfy({ $0 == " " || $0 == "\t" }) else { throw QualityError.invalid("line \(number): unexpected '\(rest)' after the value of \(key)") }
            guard tables[tables.count - 1].fields[key] == nil else { throw QualityError.invalid("line \(number): \(key) is given twice in one [[expect]]") }
            tables[tables.count - 1].fields[key] = value
        }
        return tables
    }

    /// The line without a `#` comment (a `#` inside a string stays).
    private static func stripComment(_ line: String) -> String {
        var quote: Character?, escaped = false
        for (i, c) in zip(line.indices, line) {
            if escaped { escaped = false; continue }
            if c == "\\" && quote == "\"" { escaped = true; continue }
            if let q = quote { if c == q { quote = nil }; continue }
            if c == "\"" || c == "'" { quote = c } else if c == "#" { return String(line[..<i]) }
        }
        return line
    }

    private static func scalar(_ s: inout Substring, line: Int) throws -> Scalar {
        guard let first = s.first else { throw QualityError.invalid("line \(line): a key needs a value") }
        switch first {
        case "\"":
            s.removeFirst()
            var out = ""
            while let c = s.first {
                s.removeFirst()
                if c == "\"" { return .text(out) }
                if c == "\\" {
                    guard let e = s.first else { break }
                    s.removeFirst()
                    switch e {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    default: throw QualityError.invalid("line \(line): unknown escape \\\(e) (use \\\\, \\\", \\n or \\t, or a 'literal string')")
                    }
                } else {
                    out.append(c)
                }
            }
            throw QualityError.invalid("line \(line): a string is not closed")
        case "'":
            s.removeFirst()
            guard let end = s.firstIndex(of: "'") else { throw QualityError.invalid("line \(line): a string is not closed") }
            let text = String(s[..<end])
            s = s[s.index(after: end)...]
            return .text(text)
        case "[":
            s.removeFirst()
            var items: [Scalar] = []
            while true {
                s = s.drop { $0 == " " || $0 == "\t" }
                if s.first == "]" { s.removeFirst(); return .list(items) }
                let item = try scalar(&s, line: line)
                if case .list = item { throw QualityError.invalid("line \(line): arrays of arrays are not supported here") }
                items.append(item)
                s = s.drop { $0 == " " || $0 == "\t" }
                if s.first == "," { s.removeFirst(); continue }
                if s.first == "]" { s.removeFirst(); return .list(items) }
                throw QualityError.invalid("line \(line): an array's items are separated by commas and it ends with ] on the same line")
            }
        default:
            let token = s.prefix { !($0 == " " || $0 == "\t" || $0 == "," || $0 == "]") }
            s = s.dropFirst(token.count)
            if token == "true" { return .bool(true) }
            if token == "false" { return .bool(false) }
            if let n = Double(token.replacingOccurrences(of: "_", with: "")) { return .number(n) }
            throw QualityError.invalid("line \(line): '\(token)' is not a value (strings are quoted)")
        }
    }
}
