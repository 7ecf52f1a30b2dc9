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
        default:
            if lhs.rank == 2 && rhs.rank == 2, let a = lhs.asDouble, let b = rhs.asDouble { return a < b }
            return lhs.rank < rhs.rank
        }
    }
}
