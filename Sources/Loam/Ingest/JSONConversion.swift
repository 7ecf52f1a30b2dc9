import LoamFormat

/// Converts parsed JSON into cells of a given Arrow type, and infers types from JSON samples.
enum JSONConversion {
    struct Mismatch: Error, CustomStringConvertible {
        let description: String
    }

    static func value(_ json: JSONValue, as type: ArrowType, path: String = "") throws -> Value {
        func mismatch() -> Mismatch {
            Mismatch(description: "\(path.isEmpty ? "" : "field '\(path)': ")\(json.brief) does not fit \(type.name)")
        }
        if case .null = json { return .null }
        switch type {
        case .bool:
            guard case .bool(let b) = json else { throw mismatch() }
            return .bool(b)
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64:
            switch json {
            case .int(let v): return .int(v)
            case .uint(let u): return .uint(u)
            case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return .int(Int64(d))
            default: throw mismatch()
            }
        case .float32, .float64:
            switch json {
            case .int(let v): return .float(Double(v))
            case .uint(let u): return .float(Double(u))
            case .double(let d): return .float(d)
            default: throw mismatch()
            }
        case .utf8, .largeUtf8, .binary, .largeBinary:
            switch json {
            case .string(let s): return .string(s)
            case .int(let v): return .string(String(v))
            case .uint(let u): return .string(String(u))
            case .double(let d): return .string(String(d))
            case .bool(let b): return .string(String(b))
            default: return .string(json.text)
            }
        case .date32:
            switch json {
            case .string(let s):
                var s = s
                guard let days = s.withUTF8({ CalendarMath.parseDate(UnsafeRawBufferPointer($0)) }) else { throw mismatch() }
                return .int(Int64(days))
            case .int(let v): return .int(v)
            default: throw mismatch()
            }
        case .timestamp(let unit, _):
            switch json {
            case .string(let s):
                var s = s
                guard let t = s.withUTF8({ CalendarMath.parseTimestamp(UnsafeRawBufferPointer($0), perSecond: unit.perSecond) }) else { throw mismatch() }
                return .int(t)
            case .int(let v): return .int(v)
            default: throw mismatch()
            }
        case .list(let item), .fixedSizeList(let item, _):
            guard case .array(let items) = json else { throw mismatch() }
            return .list(try items.enumerated().map { try value($1, as: item.type, path: "\(path)[\($0)]") })
        case .structType(let fields):
            guard case .object(let members) = json else { throw mismatch() }
            for (key, _) in members where !fields.contains(where: { $0.name == key }) {
                throw Mismatch(description: "field '\(path.isEmpty ? key : path + "." + key)' is not in the schema (\(fields.map(\.name).joined(separator: ", ")))")
            }
            return .structValue(try fields.map { field in
                let member = members.first { $0.0 == field.name }?.1 ?? .null
                return try value(member, as: field.type, path: path.isEmpty ? field.name : path + "." + field.name)
            })
        }
    }

    /// What a sample of JSON values says about their type.
    indirect enum Shape: Equatable {
        case unknown, bool, int, float, string
        case list(Shape, length: Int?)
        case object([String], [String: Shape])

        func merged(_ other: Shape) -> Shape {
            switch (self, other) {
            case (.unknown, let x), (let x, .unknown): return x
            case (.int, .float), (.float, .int): return .float
            case (.list(let a, let la), .list(let b, let lb)): return .list(a.merged(b), length: la == lb ? la : nil)
            case (.object(let ka, let a), .object(let kb, let b)):
                var keys = ka
                var shapes = a
                for key in kb {
                    if let existing = shapes[key] { shapes[key] = existing.merged(b[key]!) } else { keys.append(key); shapes[key] = b[key]! }
                }
                return .object(keys, shapes)
            default: return self == other ? self : .string
            }
        }

        static func of(_ json: JSONValue) -> Shape {
            switch json {
            case .null: return .unknown
            case .bool: return .bool
            case .int, .uint: return .int
            case .double: return .float
            case .string: return .string
            case .array(let items): return .list(items.reduce(Shape.unknown) { $0.merged(of($1)) }, length: items.count)
            case .object(let members): return .object(members.map(\.0), Dictionary(members.map { ($0.0, of($0.1)) }, uniquingKeysWith: { a, _ in a }))
            }
        }

        /// Numbers become int64/float64; constant-length numeric arrays become
        /// fixed_size_list (float32 for floats: embeddings), others list.
        var arrowType: ArrowType {
            switch self {
            case .unknown, .string: return .utf8
            case .bool: return .bool
            case .int: return .int64
            case .float: return .float64
            case .list(let item, let length):
                if let length, length > 0, item == .float || item == .int {
                    return .fixedSizeList(Field(name: "item", type: item == .float ? .float32 : .int64), length)
                }
                return .list(Field(name: "item", type: item.arrowType))
            case .object(let keys, let shapes):
                return .structType(keys.map { Field(name: $0, type: shapes[$0]!.arrowType) })
            }
        }
    }
}

extension JSONValue {
    var brief: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int(let v): return "the integer \(v)"
        case .uint(let u): return "the integer \(u)"
        case .double(let d): return "the number \(d)"
        case .string(let s): return "the string \"\(s.prefix(30))\""
        case .array(let a): return "an array of \(a.count)"
        case .object: return "an object"
        }
    }

    /// Compact JSON text.
    var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let v): return String(v)
        case .uint(let u): return String(u)
        case .double(let d): return String(d)
        case .string(let s): return JSONText.quote(s)
        case .array(let a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case .object(let m): return "{" + m.map { JSONText.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }
}
