/// Quantiles of a stream of numbers: a KLL sketch (Karnin, Lang, Liberty 2016) with compactors whose
/// capacities shrink by 2/3 per level below the top. Exact until about `k` values are held; past that a
/// rank error of about 1.7/k (1% for k = 200). Mergeable: merging two sketches is as good as sketching the
/// union. Compaction keeps the odd or even items of a sorted level, alternating per level (no randomness),
/// so the same input always gives the same sketch.
///
/// ```swift
/// var q = QuantileSketch(); values.forEach { q.add($0) }
/// q.quantile(0.5)   // the median, within the rank error
/// ```
public struct QuantileSketch: Codable, Sendable, Equatable {
    public let k: Int
    /// Items per level; an item at level h stands for 2ʰ values.
    private(set) var levels: [[Double]]
    /// Per level, which half the next compaction keeps.
    private var parity: [Bool]
    public private(set) var count: Int

    public init(k: Int = 200) {
        self.k = k
        levels = [[]]
        parity = [false]
        count = 0
    }

    private func capacity(_ level: Int) -> Int {
        let depth = levels.count - 1 - level
        var c = Double(k)
        for _ in 0..<depth { c *= 2.0 / 3.0 }
        return max(8, Int(c.rounded(.up)))
    }

    private var size: Int { levels.reduce(0) { $0 + $1.count } }
    private var totalCapacity: Int { (0..<levels.count).reduce(0) { $0 + capacity($1) } }

    @inline(__always) public mutating func add(_ x: Double) {
        guard !x.isNaN else { return }
        levels[0].append(x)
        count += 1
        if levels[0].count >= capacity(0) { compress() }
    }

    public mutating func merge(_ other: QuantileSketch) {
        while levels.count < other.levels.count {
            levels.append([])
            parity.append(false)
        }
        for (h, items) in other.levels.enumerated() { levels[h].append(contentsOf: items) }
        count += other.count
        compress()
    }

    /// Halves the lowest levels over capacity until the sketch fits.
    private mutating func compress() {
        while size > totalCapacity {
            guard let h = levels.indices.first(where: { levels[$0].count >= capacity($0) }) else { break }
            if h + 1 == levels.count {
                levels.append([])
                parity.append(false)
            }
            var items = levels[h]
            items.sort()
            // An odd count leaves its last item at this level.
            var keep: [Double] = []
            if items.count % 2 == 1 { keep.append(items.removeLast()) }
            let offset = parity[h] ? 1 : 0
            parity[h].toggle()
            levels[h + 1].append(contentsOf: stride(from: offset, to: items.count, by: 2).map { items[$0] })
            levels[h] = keep
        }
    }

    /// The items with their weights, sorted.
    private var weighted: [(value: Double, weight: Int)] {
        var all: [(Double, Int)] = []
        for (h, items) in levels.enumerated() { for x in items { all.append((x, 1 << h)) } }
        return all.sorted { $0.0 < $1.0 }
    }

    /// The value at fraction `q` (0…1) of the sorted values (the lower one at a tie, as numpy's "lower"
    /// interpolation); nil without values.
    public func quantile(_ q: Double) -> Double? { quantiles([q]).first ?? nil }

    public func quantiles(_ qs: [Double]) -> [Double?] {
        let items = weighted
        guard !items.isEmpty else { return qs.map { _ in nil } }
        let total = items.reduce(0) { $0 + $1.weight }
        return qs.map { q in
            let target = Double(total - 1) * min(max(q, 0), 1)
            var seen = 0
            for item in items {
                seen += item.weight
                if Double(seen) > target { return item.value }
            }
            return items.last!.value
        }
    }

    /// How many values are at most `x` (estimated the same way).
    public func rank(_ x: Double) -> Int {
        var seen = 0
        for (h, items) in levels.enumerated() { for v in items where v <= x { seen += 1 << h } }
        return seen
    }

    enum CodingKeys: String, CodingKey { case k, levels, parity, count }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        k = try c.decode(Int.self, forKey: .k)
        levels = try c.decode([String].self, forKey: .levels).map { text in
            guard let level = Packed.doubles(text) else {
                throw DecodingError.dataCorruptedError(forKey: .levels, in: c, debugDescription: "a level is not base64 of 8-byte doubles")
            }
            return level
        }
        parity = try c.decode([Bool].self, forKey: .parity)
        count = try c.decode(Int.self, forKey: .count)
        guard k > 0, !levels.isEmpty, parity.count == levels.count else {
            throw DecodingError.dataCorruptedError(forKey: .parity, in: c, debugDescription: "a KLL sketch needs k > 0 and one parity per level")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(k, forKey: .k)
        try c.encode(levels.map(Packed.string), forKey: .levels)
        try c.encode(parity, forKey: .parity)
        try c.encode(count, forKey: .count)
    }
}
