/// The unit of an Arrow timestamp.
public enum TimeUnit: Int16, Sendable, Codable, CaseIterable {
    case second = 0, millisecond = 1, microsecond = 2, nanosecond = 3

    public var name: String {
        switch self {
        case .second: return "s"
        case .millisecond: return "ms"
        case .microsecond: return "us"
        case .nanosecond: return "ns"
        }
    }
}

/// The logical type of an Arrow column: the subset Loam stores.
///
/// ```swift
/// let embedding = ArrowType.fixedSizeList(Field(name: "item", type: .float32), 128)
/// ```
public indirect enum ArrowType: Hashable, Sendable {
    case bool
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case float32, float64
    case utf8, largeUtf8, binary, largeBinary
    case date32
    case timestamp(TimeUnit, timeZone: String?)
    case fixedSizeList(Field, Int)
    case list(Field)
    case structType([Field])

    /// Bytes per value for fixed-width types, nil otherwise (bool is bit-packed).
    public var byteWidth: Int? {
        switch self {
        case .int8, .uint8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32, .float32, .date32: return 4
        case .int64, .uint64, .float64, .timestamp: return 8
        default: return nil
        }
    }

    public var isInteger: Bool {
        switch self {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64: return true
        default: return false
        }
    }

    public var isSignedInteger: Bool {
        switch self {
        case .int8, .int16, .int32, .int64: return true
        default: return false
        }
    }

    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }
    public var isString: Bool { self == .utf8 || self == .largeUtf8 }
    public var isBinary: Bool { self == .binary || self == .largeBinary }

    /// Number of Arrow buffers this node carries in an IPC record batch (children excluded).
    public var bufferCount: Int {
        switch self {
        case .utf8, .largeUtf8, .binary, .largeBinary: return 3
        case .structType, .fixedSizeList: return 1
        default: return 2
        }
    }

    public var children: [Field] {
        switch self {
        case .fixedSizeList(let f, _), .list(let f): return [f]
        case .structType(let fs): return fs
        default: return []
        }
    }

    /// The spelling used by `--schema` and by `loam schema`, e.g. `list<float32>`.
    public var name: String {
        switch self {
        case .bool: return "bool"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .float32: return "float32"
        case .float64: return "float64"
        case .utf8: return "string"
        case .largeUtf8: return "large_string"
        case .binary: return "binary"
        case .largeBinary: return "large_binary"
        case .date32: return "date32"
        case .timestamp(let unit, let tz): return tz.map { "timestamp[\(unit.name), \($0)]" } ?? "timestamp[\(unit.name)]"
        case .fixedSizeList(let f, let n): return "fixed_size_list<\(f.type.name), \(n)>"
        case .list(let f): return "list<\(f.type.name)>"
        case .structType(let fs): return "struct<" + fs.map { "\($0.name): \($0.type.name)" }.joined(separator: ", ") + ">"
        }
    }
}

/// A named, typed column, with Arrow key/value metadata.
public struct Field: Hashable, Sendable {
    public var name: String
    public var type: ArrowType
    public var nullable: Bool
    public var metadata: [String: String]

    public init(name: String, type: ArrowType, nullable: Bool = true, metadata: [String: String] = [:]) {
        self.name = name
        self.type = type
        self.nullable = nullable
        self.metadata = metadata
    }
}

/// An ordered list of fields with schema-level metadata.
public struct Schema: Hashable, Sendable {
    public var fields: [Field]
    public var metadata: [String: String]

    public init(fields: [Field], metadata: [String: String] = [:]) {
        self.fields = fields
        self.metadata = metadata
    }

    public func index(of name: String) -> Int? { fields.firstIndex { $0.name == name } }
}

extension ArrowType {
    static let primitives: [ArrowType] = [.bool, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64,
                                          .float32, .float64, .utf8, .largeUtf8, .binary, .largeBinary, .date32]

    /// A type without parameters, by its `name` (plus common aliases).
    public static func primitive(named name: String) -> ArrowType? {
        let aliases: [String: ArrowType] = ["int": .int64, "integer": .int64, "float": .float64, "double": .float64,
                                            "str": .utf8, "utf8": .utf8, "text": .utf8, "large_utf8": .largeUtf8,
                                            "boolean": .bool, "date": .date32, "bytes": .binary,
                                            // SQL's names (PostgreSQL and DuckDB)
                                            "bigint": .int64, "smallint": .int16, "tinyint": .int8, "ubigint": .uint64, "uinteger": .uint32,
                                            "varchar": .utf8, "char": .utf8, "real": .float32, "float4": .float32, "float8": .float64,
                                            "blob": .binary, "bytea": .binary]
        return primitives.first { $0.name == name } ?? aliases[name]
    }
}
