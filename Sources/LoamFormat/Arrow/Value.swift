/// One cell, for the slow paths: printing, export, predicates, tests.
/// Hot paths read `ArrowArray` buffers directly.
///
/// Dates are days since the epoch and timestamps are ticks of their unit,
/// both as `.int`.
public enum Value: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case string(String)
    case binary([UInt8])
    case list([Value])
    case structValue([Value])

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// As SQL engines (PostgreSQL, DuckDB) treat floats in keys and comparisons: NaN equals NaN
    /// (and sorts above every number); -0.0 equals 0.0.
    public static func == (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.string(let x), .string(let y)): return x == y
        case (.binary(let x), .binary(let y)): return x == y
        case (.list(let x), .list(let y)), (.structValue(let x), .structValue(let y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .int(let i): hasher.combine(2); hasher.combine(i)
        case .uint(let u): hasher.combine(3); hasher.combine(u)
        case .float(let d): hasher.combine(4); if d.isNaN { hasher.combine(Double.nan.bitPattern) } else { hasher.combine(d) }
        case .string(let s): hasher.combine(5); hasher.combine(s)
        case .binary(let b): hasher.combine(6); hasher.combine(b)
        case .list(let l): hasher.combine(7); hasher.combine(l)
        case .structValue(let l): hasher.combine(8); hasher.combine(l)
        }
    }

    /// A numeric view for comparisons across integer and float columns.
    public var asDouble: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .float(let v): return v
        case .bool(let v): return v ? 1 : 0
        default: return nil
        }
    }
}

extension Value: Comparable {
    private var rank: Int {
        switch self {
        case .null: return 0
        case .bool: return 1
        case .int, .uint, .float: return 2
        case .string: return 3
        case .binary: return 4
        case .list: return 5
        case .structValue: return 6
        }
    }

    /// Orders nulls first, numbers by value across int/uint/float, strings by bytes.
    public static func < (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return a < b
        case (.uint(let a), .uint(let b)): return a < b
        case (.bool(let a), .bool(let b)): return !a && b
        case (.string(let a), .string(let b)): return a.utf8.lexicographicallyPrecedes(b.utf8)
        case (.binary(let a), .binary(let b)): return a.lexicographicallyPrecedes(b)
        case (.list(let a), .list(let b)), (.structValue(let a), .structValue(let b)): return a.lexicographicallyPrecedes(b)
        case (.int(let a), .uint(let b)): return a < 0 || UInt64(a) < b
        case (.uint(let a), .int(let b)): return b >= 0 && a < UInt64(b)
        default:
            // NaN sorts above every number and equals itself (PostgreSQL and DuckDB order floats this way).
            if lhs.rank == 2 && rhs.rank == 2, let a = lhs.asDouble, let b = rhs.asDouble { return b.isNaN ? !a.isNaN : a < b }
            return lhs.rank < rhs.rank
        }
    }
}
