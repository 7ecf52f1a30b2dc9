/// The most frequent values of a column: each fragment counts its values exactly and keeps its `capacity`
/// most frequent; merging adds counts and keeps the `capacity` largest. Exact while every part had at
/// most `capacity` distinct values; past that a count is a lower bound (a value may be missing from a
/// fragment's kept list).
public struct TopValues: Codable, Sendable, Equatable {
    public static let capacity = 1024

    public struct Entry: Codable, Sendable, Equatable {
        public var value: String
        public var count: Int
    }

    private var counts: [String: Int]
    public private(set) var isExact: Bool

    public init() {
        counts = [:]
        isExact = true
    }

    /// The kept part of counts — exact ones unless `exact` is false (the part had more values than were counted).
    public init(counting given: [String: Int], exact: Bool = true) {
        isExact = exact && given.count <= Self.capacity
        counts = given.count <= Self.capacity ? given : Self.largest(given)
    }

    private static func largest(_ counts: [String: Int]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: ordered(counts).prefix(capacity).map { ($0.key, $0.value) })
    }

    private static func ordered(_ counts: [String: Int]) -> [(key: String, value: Int)] {
        counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
    }

    public mutating func merge(_ other: TopValues) {
        isExact = isExact && other.isExact
        for (value, count) in other.counts { counts[value, default: 0] += count }
        if counts.count > Self.capacity {
            isExact = false
            counts = Self.largest(counts)
        }
    }

    /// The `n` most frequent, most first (ties by value).
    public func top(_ n: Int) -> [Entry] { Self.ordered(counts).prefix(n).map { Entry(value: $0.key, count: $0.value) } }

    /// A value's count (0 for one not kept).
    public func count(of value: String) -> Int { counts[value] ?? 0 }

    // The values in byte order and their counts alongside, both packed.
    enum CodingKeys: String, CodingKey { case values, counts, isExact }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let values = try Packed.decode(c, .values, Packed.strings), numbers = try Packed.decode(c, .counts, Packed.uint64s)
        guard values.count == numbers.count else {
            throw DecodingError.dataCorruptedError(forKey: .counts, in: c, debugDescription: "\(numbers.count) counts for \(values.count) values")
        }
        counts = Dictionary(zip(values, numbers.map { Int(truncatingIfNeeded: $0) }), uniquingKeysWith: +)
        isExact = try c.decode(Bool.self, forKey: .isExact)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let values = counts.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        try c.encode(Packed.string(values), forKey: .values)
        try c.encode(Packed.string(values.map { UInt64(truncatingIfNeeded: counts[$0]!) }), forKey: .counts)
        try c.encode(isExact, forKey: .isExact)
    }
}
