import LoamFormat

/// A scalar in statistics: written to JSON (by `ManifestCodec`) as a plain number, string or bool.
public enum StatValue: Hashable, Sendable {
    case bool(Bool), int(Int64), uint(UInt64), float(Double), string(String)

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
public struct ColumnStatistics: Hashable, Sendable {
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
        let data = array.buffers.count > 1 ? array.buffers[1] : ByteView.empty
        func integers<T: FixedWidthInteger>(_: T.Type, _ wrap: (T) -> StatValue) {
            if let (lo, hi) = minMax(data.pointer.assumingMemoryBound(to: T.self), n, array) { stats.min = wrap(lo); stats.max = wrap(hi) }
        }
        func floats<T: BinaryFloatingPoint>(_: T.Type) {
            if let (lo, hi) = minMax(data.pointer.assumingMemoryBound(to: T.self), n, array, skip: { !$0.isFinite }) {
                stats.min = .float(Double(lo))
                stats.max = .float(Double(hi))
            }
        }
        switch array.type {
        case .int8: integers(Int8.self) { .int(Int64($0)) }
        case .int16: integers(Int16.self) { .int(Int64($0)) }
        case .int32, .date32: integers(Int32.self) { .int(Int64($0)) }
        case .int64, .timestamp: integers(Int64.self) { .int($0) }
        case .uint8: integers(UInt8.self) { .int(Int64($0)) }
        case .uint16: integers(UInt16.self) { .int(Int64($0)) }
        case .uint32: integers(UInt32.self) { .int(Int64($0)) }
        // As JSON reads them back: .int where it fits, .uint only above Int64.max.
        case .uint64: integers(UInt64.self) { $0 <= UInt64(Int64.max) ? .int(Int64($0)) : .uint($0) }
        case .float32: floats(Float.self)
        case .float64: floats(Double.self)
        case .bool:
            var sawTrue = false, sawFalse = false
            for i in 0..<n where !array.isNull(i) { if data.bit(i) { sawTrue = true } else { sawFalse = true } }
            if sawTrue || sawFalse {
                stats.min = .bool(!sawFalse)
                stats.max = .bool(sawTrue)
            }
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

/// Min and max of the non-null values at `values[0..<n]` (nil when there are none).
@inline(__always)
private func minMax<T: Comparable>(_ values: UnsafePointer<T>, _ n: Int, _ array: ArrowArray,
                                   skip: (T) -> Bool = { _ in false }) -> (T, T)? {
    var lo: T?, hi: T?
    let checkNulls = array.nullCount > 0
    for i in 0..<n {
        if checkNulls && array.isNull(i) { continue }
        let v = values[i]
        if skip(v) { continue }
        if let l = lo, let h = hi {
            if v < l { lo = v } else if v > h { hi = v }
        } else {
            lo = v
            hi = v
        }
    }
    guard let lo, let hi else { return nil }
    return (lo, hi)
}
