/// Count, minimum, maximum, mean and the sum of squared deviations of a stream of numbers, mergeable
/// exactly (Chan et al.'s parallel update), so a dataset's moments are its fragments' merged.
///
/// ```swift
/// var m = Moments(); [1, 2, 4].forEach { m.add($0) }
/// m.merge(other); print(m.mean, m.standardDeviation)
/// ```
public struct Moments: Codable, Sendable, Equatable {
    public private(set) var count: Int = 0
    public private(set) var min: Double = .infinity
    public private(set) var max: Double = -.infinity
    public private(set) var mean: Double = 0
    /// Σ (x − mean)².
    public private(set) var m2: Double = 0

    public init() {}

    @inline(__always) public mutating func add(_ x: Double) {
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
        if x < min { min = x }
        if x > max { max = x }
    }

    public mutating func merge(_ other: Moments) {
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let n = Double(count + other.count), delta = other.mean - mean
        mean += delta * Double(other.count) / n
        m2 += other.m2 + delta * delta * Double(count) * Double(other.count) / n
        count += other.count
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// The population variance's square root (numpy's `std`, ddof 0); nil without values.
    public var standardDeviation: Double? { count > 0 ? (m2 / Double(count)).squareRoot() : nil }
    /// The sample standard deviation (pandas' `std`, ddof 1); nil under two values.
    public var sampleStandardDeviation: Double? { count > 1 ? (m2 / Double(count - 1)).squareRoot() : nil }

    enum CodingKeys: String, CodingKey { case count, min, max, mean, m2 }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        count = try c.decode(Int.self, forKey: .count)
        mean = try c.decode(Double.self, forKey: .mean)
        m2 = try c.decode(Double.self, forKey: .m2)
        min = try c.decodeIfPresent(Double.self, forKey: .min) ?? .infinity
        max = try c.decodeIfPresent(Double.self, forKey: .max) ?? -.infinity
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(count, forKey: .count)
        try c.encode(mean, forKey: .mean)
        try c.encode(m2, forKey: .m2)
        if count > 0 {
            try c.encode(min, forKey: .min)
            try c.encode(max, forKey: .max)
        }
    }
}
