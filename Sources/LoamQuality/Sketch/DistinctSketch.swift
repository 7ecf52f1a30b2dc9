import Foundation

/// Distinct values, counted from their 64-bit hashes: exactly while at most `exactLimit` are seen (the
/// hashes themselves), then by HyperLogLog with 2¹² registers (standard error about 1.6%). Mergeable: a
/// dataset's sketch is its fragments' merged, exact as long as the union stays under the limit.
public struct DistinctSketch: Codable, Sendable, Equatable {
    public static let exactLimit = 4096
    static let precision = 12
    static var registerCount: Int { 1 << precision }

    /// The hashes seen, while their number is at most `exactLimit`; nil after.
    private var hashes: Set<UInt64>?
    private var registers: [UInt8]

    public init() {
        hashes = []
        registers = [UInt8](repeating: 0, count: Self.registerCount)
    }

    public var isExact: Bool { hashes != nil }

    @inline(__always) public mutating func add(hash: UInt64) {
        let index = Int(hash >> UInt64(64 - Self.precision))
        let rank = UInt8(min((hash << UInt64(Self.precision)).leadingZeroBitCount, 64 - Self.precision) + 1)
        if rank > registers[index] { registers[index] = rank }
        if hashes != nil {
            hashes!.insert(hash)
            if hashes!.count > Self.exactLimit { hashes = nil }
        }
    }

    public mutating func merge(_ other: DistinctSketch) {
        for i in registers.indices where other.registers[i] > registers[i] { registers[i] = other.registers[i] }
        if let mine = hashes, let theirs = other.hashes {
            let union = mine.union(theirs)
            hashes = union.count > Self.exactLimit ? nil : union
        } else {
            hashes = nil
        }
    }

    /// Exact while the sketch is; else HyperLogLog's estimate with linear counting for small ranges.
    public var estimate: Int {
        if let hashes { return hashes.count }
        let m = Double(Self.registerCount)
        var sum = 0.0, zeros = 0
        for r in registers {
            sum += 1 / Double(UInt64(1) << UInt64(r))
            if r == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / m)
        let raw = alpha * m * m / sum
        if raw <= 2.5 * m, zeros > 0 { return Int((m * log(m / Double(zeros))).rounded()) }
        return Int(raw.rounded())
    }

    enum CodingKeys: String, CodingKey { case hashes, registers }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hashes = try c.contains(.hashes) ? Set(Packed.decode(c, .hashes, Packed.uint64s)) : nil
        let text = try c.decode(String.self, forKey: .registers)
        guard let data = Data(base64Encoded: text), data.count == Self.registerCount else {
            throw DecodingError.dataCorruptedError(forKey: .registers, in: c, debugDescription: "not \(Self.registerCount) base64 registers")
        }
        registers = [UInt8](data)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let hashes { try c.encode(Packed.string(hashes.sorted()), forKey: .hashes) }
        try c.encode(Data(registers).base64EncodedString(), forKey: .registers)
    }
}
