import LoamFormat

/// Parses the `--schema` option: comma-separated `name:type` pairs.
///
/// ```swift
/// let spec = try SchemaSpec.parse("id:int64, text:string, emb:fixed_size_list<float32, 16>, at:timestamp[ms, UTC]")
/// spec["emb"]   // .fixedSizeList(Field(name: "item", type: .float32), 16)
/// ```
///
/// Types: bool, int8…int64, uint8…uint64, float32, float64, string,
/// large_string, binary, large_binary, date32, timestamp[s|ms|us|ns(, TZ)],
/// list<T>, fixed_size_list<T, N>, struct<name: T, …>.
public enum SchemaSpec {
    public static func parse(_ text: String) throws -> [(name: String, type: ArrowType)] {
        var parser = Parser(text: Array(text.utf8))
        var result: [(String, ArrowType)] = []
        parser.skip()
        while !parser.atEnd {
            let name = try parser.name()
            try parser.eat(":")
            result.append((name, try parser.type()))
            parser.skip()
            if parser.atEnd { break }
            try parser.eat(",")
            parser.skip()
        }
        guard !result.isEmpty else { throw LoamError.invalidArgument("--schema is empty; give name:type pairs, e.g. 'id:int64,text:string'") }
        return result
    }

    public static func parseType(_ text: String) throws -> ArrowType {
        var parser = Parser(text: Array(text.utf8))
        let type = try parser.type()
        parser.skip()
        guard parser.atEnd else { throw parser.error("unexpected text after the type") }
        return type
    }

    struct Parser {
        let text: [UInt8]
        var i = 0
        var depth = 0
        /// As deep as an Arrow file's schema may nest (`IPCSchema.maxNesting`).
        static let maxDepth = 64

        var atEnd: Bool { i >= text.count }

        func error(_ message: String) -> LoamError {
            LoamError.invalidArgument("schema '\(String(decoding: text, as: UTF8.self))': \(message) at character \(i + 1)")
        }

        mutating func skip() { while i < text.count, text[i] == 0x20 { i += 1 } }

        mutating func eat(_ c: Character) throws {
            skip()
            guard i < text.count, text[i] == c.asciiValue else { throw error("expected '\(c)'") }
            i += 1
        }

        mutating func peek(_ c: Character) -> Bool {
            skip()
            return i < text.count && text[i] == c.asciiValue
        }

        mutating func name() throws -> String {
            skip()
            let start = i
            while i < text.count, text[i] != UInt8(ascii: ":"), text[i] != UInt8(ascii: ","),
                  text[i] != UInt8(ascii: "<"), text[i] != UInt8(ascii: ">") { i += 1 }
            let name = String(decoding: text[start..<i], as: UTF8.self).trimmingSpaces
            guard !name.isEmpty else { throw error("expected a column name") }
            return name
        }

        mutating func word() -> String {
            skip()
            let start = i
            while i < text.count, (text[i] >= 0x30 && text[i] <= 0x39) || (text[i] | 0x20 >= 0x61 && text[i] | 0x20 <= 0x7A) || text[i] == 0x5F { i += 1 }
            return String(decoding: text[start..<i], as: UTF8.self).lowercased()
        }

        mutating func number() throws -> Int {
            let w = word()
            guard let n = Int(w), n > 0 else { throw error("expected a positive list size") }
            return n
        }

        mutating func type() throws -> ArrowType {
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { throw error("types nested more than \(Self.maxDepth) levels deep") }
            let w = word()
            switch w {
            case "list":
                try eat("<")
                let item = try type()
                try eat(">")
                return .list(Field(name: "item", type: item))
            case "fixed_size_list":
                try eat("<")
                let item = try type()
                try eat(",")
                let size = try number()
                try eat(">")
                return .fixedSizeList(Field(name: "item", type: item), size)
            case "struct":
                try eat("<")
                var fields: [Field] = []
                repeat {
                    let n = try name()
                    try eat(":")
                    fields.append(Field(name: n, type: try type()))
                } while peek(",") && { i += 1; return true }()
                try eat(">")
                return .structType(fields)
            case "timestamp":
                var unit = TimeUnit.microsecond
                var zone: String?
                if peek("[") {
                    i += 1
                    let u = word()
                    guard let parsed = TimeUnit.allCases.first(where: { $0.name == u }) else { throw error("timestamp unit must be s, ms, us or ns") }
                    unit = parsed
                    if peek(",") {
                        i += 1
                        skip()
                        let start = i
                        while i < text.count, text[i] != UInt8(ascii: "]") { i += 1 }
                        zone = String(decoding: text[start..<i], as: UTF8.self).trimmingSpaces
                    }
                    try eat("]")
                }
                return .timestamp(unit, timeZone: zone)
            default:
                guard let t = ArrowType.primitive(named: w) else {
                    throw error(w.isEmpty ? "expected a type" : "unknown type '\(w)' (try int64, float64, string, bool, date32, timestamp[ms], list<float32>, fixed_size_list<float32, 128>)")
                }
                return t
            }
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
