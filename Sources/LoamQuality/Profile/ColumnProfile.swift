import Foundation
import LoamFormat

/// What one column holds, as mergeable sketches: a fragment's profile is computed once from its live rows,
/// and a dataset's is its fragments' merged — counts, nulls, NaNs and moments exactly; distinct values
/// exactly up to 4,096, then by HyperLogLog; quantiles by a KLL sketch; the most frequent values; string
/// lengths (bytes) and byte-order extremes; list lengths; vector norms.
///
/// ```swift
/// var profile = ColumnProfile.compute(batch.columns[0], rows: nil)
/// profile.merge(other)
/// print(profile.values?.mean, profile.quantiles?.quantile(0.5), profile.distinct?.estimate)
/// ```
public struct ColumnProfile: Codable, Sendable, Equatable {
    /// The Arrow type's name (`int64`, `string`, `fixed_size_list<float32, 128>`, …).
    public var type: String
    public var rows: Int = 0
    public var nulls: Int = 0
    /// Floating-point NaNs (neither null nor counted in `values`).
    public var nans: Int = 0
    public var distinct: DistinctSketch?
    /// Numbers, dates and timestamps (their stored integer), booleans as 0 and 1.
    public var values: Moments?
    public var quantiles: QuantileSketch?
    public var top: TopValues?
    /// The smallest and largest strings in byte order.
    public var minText: String?
    public var maxText: String?
    /// Strings and binaries: bytes; lists: items.
    public var lengths: Moments?
    /// Float vectors (fixed-size lists of floats): each vector's L2 norm.
    public var norms: Moments?

    public init(type: String) { self.type = type }

    /// A column a fragment predates: `count` nulls.
    public static func missing(type: ArrowType, count: Int) -> ColumnProfile {
        var profile = ColumnProfile(type: type.name)
        profile.rows = count
        profile.nulls = count
        return profile
    }

    public mutating func merge(_ other: ColumnProfile) {
        rows += other.rows
        nulls += other.nulls
        nans += other.nans
        Self.combine(&distinct, other.distinct) { $0.merge($1) }
        Self.combine(&values, other.values) { $0.merge($1) }
        Self.combine(&quantiles, other.quantiles) { $0.merge($1) }
        Self.combine(&top, other.top) { $0.merge($1) }
        Self.combine(&lengths, other.lengths) { $0.merge($1) }
        Self.combine(&norms, other.norms) { $0.merge($1) }
        if let theirs = other.minText, minText.map({ Array(theirs.utf8).lexicographicallyPrecedes(Array($0.utf8)) }) ?? true { minText = theirs }
        if let theirs = other.maxText, maxText.map({ Array($0.utf8).lexicographicallyPrecedes(Array(theirs.utf8)) }) ?? true { maxText = theirs }
    }

    private static func combine<T>(_ mine: inout T?, _ theirs: T?, _ merge: (inout T, T) -> Void) {
        guard let theirs else { return }
        if mine == nil { mine = theirs } else { merge(&mine!, theirs) }
    }

    // MARK: - Computing

    /// The profile of `array`'s rows at the offsets `rows` (all rows when nil).
    public static func compute(_ array: ArrowArray, rows live: [Int]?) -> ColumnProfile {
        var p = ColumnProfile(type: array.type.name)
        let count = live?.count ?? array.length
        p.rows = count
        @inline(__always) func each(_ body: (Int) -> Void) {
            if let live { for i in live where !array.isNull(i) { body(i) } } else { for i in 0..<array.length where !array.isNull(i) { body(i) } }
        }
        var nulls = 0
        if array.nullCount > 0 {
            if let live { for i in live where array.isNull(i) { nulls += 1 } } else { nulls = array.nullCount }
        }
        p.nulls = nulls
        let data = array.buffers.count > 1 ? array.buffers[1] : ByteView.empty
        switch array.type {
        case .int8, .int16, .int32, .int64, .date32, .timestamp, .uint8, .uint16, .uint32:
            var moments = Moments(), quantiles = QuantileSketch(), distinct = DistinctSketch(), counts: [Int64: Int] = [:]
            let load: (Int) -> Int64
            switch array.type {
            case .int8: load = { Int64(data.load($0, as: Int8.self)) }
            case .int16: load = { Int64(data.load($0, as: Int16.self)) }
            case .int32, .date32: load = { Int64(data.load($0, as: Int32.self)) }
            case .uint8: load = { Int64(data.load($0, as: UInt8.self)) }
            case .uint16: load = { Int64(data.load($0, as: UInt16.self)) }
            case .uint32: load = { Int64(data.load($0, as: UInt32.self)) }
            default: load = { data.load($0, as: Int64.self) }
            }
            each { i in
                let v = load(i)
                moments.add(Double(v))
                quantiles.add(Double(v))
                distinct.add(hash: hash(UInt64(bitPattern: v)))
                counts[v, default: 0] += 1
            }
            (p.values, p.quantiles, p.distinct) = (moments, quantiles, distinct)
            p.top = TopValues(counting: Self.kept(counts), exact: counts.count <= TopValues.capacity)
        case .uint64:
            var moments = Moments(), quantiles = QuantileSketch(), distinct = DistinctSketch(), counts: [UInt64: Int] = [:]
            each { i in
                let v = data.load(i, as: UInt64.self)
                moments.add(Double(v))
                quantiles.add(Double(v))
                distinct.add(hash: hash(v))
                counts[v, default: 0] += 1
            }
            (p.values, p.quantiles, p.distinct) = (moments, quantiles, distinct)
            p.top = TopValues(counting: Self.kept(counts), exact: counts.count <= TopValues.capacity)
        case .float32, .float64:
            var moments = Moments(), quantiles = QuantileSketch(), distinct = DistinctSketch(), nans = 0
            let wide = array.type == .float64
            each { i in
                let v = wide ? data.loadDouble(i) : Double(data.loadFloat(i))
                guard !v.isNaN else { nans += 1; return }
                moments.add(v)
                quantiles.add(v)
                distinct.add(hash: hash((v == 0 ? 0 : v).bitPattern))
            }
            (p.values, p.quantiles, p.distinct, p.nans) = (moments, quantiles, distinct, nans)
        case .bool:
            var moments = Moments(), distinct = DistinctSketch(), trues = 0, falses = 0
            each { i in
                let v = data.bit(i)
                moments.add(v ? 1 : 0)
                distinct.add(hash: hash(v ? 1 : 0))
                if v { trues += 1 } else { falses += 1 }
            }
            (p.values, p.distinct) = (moments, distinct)
            p.top = TopValues(counting: ["true": trues, "false": falses].filter { $0.value > 0 })
        case .utf8, .largeUtf8, .binary, .largeBinary:
            let text = array.type == .utf8 || array.type == .largeUtf8
            var lengths = Moments(), distinct = DistinctSketch()
            // Counted by hash; only the kept values become strings.
            var counts: [UInt64: (count: Int, first: Int)] = [:]
            var least: Int?, most: Int?
            each { i in
                let bytes = array.bytes(at: i)
                lengths.add(Double(bytes.count))
                let h = XXHash64.hash(bytes)
                distinct.add(hash: h)
                guard text else { return }
                if let seen = counts[h] { counts[h] = (seen.count + 1, seen.first) } else { counts[h] = (1, i) }
                if least.map({ bytes.lexicographicallyPrecedes(array.bytes(at: $0)) }) ?? true { least = i }
                if most.map({ array.bytes(at: $0).lexicographicallyPrecedes(bytes) }) ?? true { most = i }
            }
            (p.lengths, p.distinct) = (lengths, distinct)
            if text {
                let kept = counts.count <= TopValues.capacity ? Array(counts.values)
                    : counts.values.sorted { $0.count > $1.count || ($0.count == $1.count && $0.first < $1.first) }.prefix(TopValues.capacity).map { $0 }
                p.top = TopValues(counting: Dictionary(kept.map { (array.string(at: $0.first), $0.count) }, uniquingKeysWith: +),
                                  exact: counts.count <= TopValues.capacity)
                p.minText = least.map { array.string(at: $0) }
                p.maxText = most.map { array.string(at: $0) }
            }
        case .fixedSizeList(let item, let size):
            var norms = Moments()
            if item.type == .float32 || item.type == .float64, array.children.count == 1 {
                let child = array.children[0], wide = item.type == .float64
                let values = child.buffers.count > 1 ? child.buffers[1] : ByteView.empty
                each { i in
                    var sum = 0.0
                    for j in (i * size)..<((i + 1) * size) {
                        let v = wide ? values.loadDouble(j) : Double(values.loadFloat(j))
                        sum += v * v
                    }
                    norms.add(sum.squareRoot())
                }
                p.norms = norms
            }
        case .list:
            var lengths = Moments()
            each { i in lengths.add(Double(array.range(i).count)) }
            p.lengths = lengths
        case .structType:
            break
        }
        return p
    }

    /// The `TopValues.capacity` most frequent of exact counts, as text (only those become strings).
    static func kept<Key: Comparable & LosslessStringConvertible>(_ counts: [Key: Int]) -> [String: Int] {
        let chosen = counts.count <= TopValues.capacity ? Array(counts)
            : Array(counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(TopValues.capacity))
        return Dictionary(uniqueKeysWithValues: chosen.map { (String($0.key), $0.value) })
    }

    @inline(__always) static func hash(_ value: UInt64) -> UInt64 {
        withUnsafeBytes(of: value.littleEndian) { XXHash64.hash($0) }
    }
}
