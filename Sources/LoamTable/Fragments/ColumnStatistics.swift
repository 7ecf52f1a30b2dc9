import LoamFormat

/// A scalar in statistics: written to JSON as a plain number, string or bool.
public enum StatValue: Codable, Hashable, Sendable {
    case bool(Bool), int(Int64), uint(UInt64), float(Double), string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let u = try? c.decode(UInt64.self) { self = .uint(u) }
        else if let d = try? c.decode(Double.self) { self = .float(d) }
        else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .uint(let u): try c.encode(u)
        case .float(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        }
    }

    public var value: Value {
        switch self {
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .uint(u)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        }
    }
}

/// Per-fragment, per-column zone map: min, max (over non-null, non-NaN
/// values of orderable columns) and the null count.
public struct ColumnStatistics: Codable, Hashable, Sendable {
    public var min: StatValue?
    public var max: StatValue?
    public var nullCount: Int

    public init(min: StatValue?, max: StatValue?, nullCount: Int) {
        self.min = min
        self.max = max
        self.nullCount = nullCount
    }

    /// Strings longer than this are not given min/max (the zone map stays small).
    static let maxStringBytes = 64

    public static func compute(_ array: ArrowArray) -> ColumnStatistics {
        var stats = ColumnStatistics(min: nil, max: nil, nullCount: array.nullCount)
        let n = array.length
        func scan<T: Comparable>(_ read: (Int) -> T, _ wrap: (T) -> StatValue, skip: (T) -> Bool = { _ in false }) {
            var lo: T?, hi: T?
            for i in 0..<n where !array.isNull(i) {
                let v = read(i)
                if skip(v) { continue }
                if lo == nil || v < lo! { lo = v }
                if hi == nil || v > hi! { hi = v }
            }
            stats.min = lo.map(wrap)
            stats.max = hi.map(wrap)
        }
        let data = array.buffers.count > 1 ? array.buffers[1] : ByteView.empty
        switch array.type {
        case .int8: scan({ Int64(data.load($0, as: Int8.self)) }, StatValue.int)
        case .int16: scan({ Int64(data.load($0, as: Int16.self)) }, StatValue.int)
        case .int32, .date32: scan({ Int64(data.load($0, as: Int32.self)) }, StatValue.int)
        case .int64, .timestamp: scan({ data.load($0, as: Int64.self) }, StatValue.int)
        case .uint8: scan({ UInt64(data.load($0, as: UInt8.self)) }, StatValue.uint)
        case .uint16: scan({ UInt64(data.load($0, as: UInt16.self)) }, StatValue.uint)
        case .uint32: scan({ UInt64(data.load($0, as: UInt32.self)) }, StatValue.uint)
        case .uint64: scan({ data.load($0, as: UInt64.self) }, StatValue.uint)
        case .float32: scan({ Double(data.loadFloat($0)) }, StatValue.float, skip: { $0.isNaN || $0.isInfinite })
        case .float64: scan({ data.loadDouble($0) }, StatValue.float, skip: { $0.isNaN || $0.isInfinite })
        case .bool: scan({ data.bit($0) ? 1 : 0 }, { StatValue.bool($0 == 1) })
        case .utf8, .largeUtf8:
            var lo: UnsafeRawBufferPointer?, hi: UnsafeRawBufferPointer?
            var tooLong = false
            for i in 0..<n where !array.isNull(i) {
                let b = array.bytes(at: i)
                if b.count > maxStringBytes { tooLong = true; break }
                if lo == nil || b.lexicographicallyPrecedes(lo!) { lo = b }
                if hi == nil || hi!.lexicographicallyPrecedes(b) { hi = b }
            }
            if !tooLong {
                stats.min = lo.map { .string(String(decoding: $0, as: UTF8.self)) }
                stats.max = hi.map { .string(String(decoding: $0, as: UTF8.self)) }
            }
        default:
            break
        }
        return stats
    }
}
