/// Splits SQL text into tokens. Identifiers are case-insensitive unless
/// double-quoted; strings use single quotes with '' as an escaped quote.
struct Lexer {
    static let maxTokens = 100_000

    static func tokenize(_ sql: String) throws -> [Token] {
        let chars = Array(sql)
        var tokens: [Token] = []
        var i = 0
        func error(_ at: Int, _ message: String) -> SQLError { SQLError(sql: sql, position: at, message: message) }
        while i < chars.count {
            let c = chars[i]
            if tokens.count > maxTokens { throw error(i, "statement too long (more than \(maxTokens) tokens)") }
            if c.isWhitespace { i += 1; continue }
            if c == "-" && i + 1 < chars.count && chars[i + 1] == "-" {  // comment to end of line
                while i < chars.count && chars[i] != "\n" { i += 1 }
                continue
            }
            let start = i
            if c.isLetter || c == "_" {
                while i < chars.count && (chars[i].isLetter || chars[i].isNumber || chars[i] == "_") { i += 1 }
                let word = String(chars[start..<i])
                let upper = word.uppercased()
                tokens.append(Token(kind: reservedWords.contains(upper) ? .keyword(upper) : .identifier(word.lowercased()), position: start))
            } else if c == "\"" {
                i += 1
                var name = ""
                while true {
                    guard i < chars.count else { throw error(start, "unterminated quoted identifier; close it with \"") }
                    if chars[i] == "\"" {
                        if i + 1 < chars.count && chars[i + 1] == "\"" { name.append("\""); i += 2; continue }
                        i += 1
                        break
                    }
                    name.append(chars[i])
                    i += 1
                }
                tokens.append(Token(kind: .identifier(name), position: start))
            } else if c == "'" {
                i += 1
                var text = ""
                while true {
                    guard i < chars.count else { throw error(start, "unterminated string; close it with ' (write '' for a quote inside)") }
                    if chars[i] == "'" {
                        if i + 1 < chars.count && chars[i + 1] == "'" { text.append("'"); i += 2; continue }
                        i += 1
                        break
                    }
                    text.append(chars[i])
                    i += 1
                }
                tokens.append(Token(kind: .string(text), position: start))
            } else if c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isNumber) {
                var isFloat = false
                while i < chars.count && chars[i].isNumber { i += 1 }
                if i < chars.count && chars[i] == "." { isFloat = true; i += 1; while i < chars.count && chars[i].isNumber { i += 1 } }
                if i < chars.count && (chars[i] == "e" || chars[i] == "E") {
                    var j = i + 1
                    if j < chars.count && (chars[j] == "+" || chars[j] == "-") { j += 1 }
                    if j < chars.count && chars[j].isNumber {
                        isFloat = true
                        i = j
                        while i < chars.count && chars[i].isNumber { i += 1 }
                    }
                }
                let text = String(chars[start..<i])
                if !isFloat, let v = Int64(text) {
                    tokens.append(Token(kind: .integer(v), position: start))
                } else if let d = Double(text), d.isFinite {
                    tokens.append(Token(kind: .float(d), position: start))
                } else {
                    throw error(start, "number \(text.prefix(40)) is out of range")
                }
            } else {
                let two = i + 1 < chars.count ? String(chars[i...(i + 1)]) : ""
                if ["!=", "<>", "<=", ">=", "::", "||"].contains(two) {
                    tokens.append(Token(kind: .symbol(two), position: start))
                    i += 2
                } else if "(),.*+-/%=<>;[]".contains(c) {
                    tokens.append(Token(kind: .symbol(String(c)), position: start))
                    i += 1
                } else {
                    throw error(start, "unexpected character '\(c)'")
                }
            }
        }
        tokens.append(Token(kind: .end, position: chars.count))
        return tokens
    }
}
