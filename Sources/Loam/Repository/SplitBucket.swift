/// The arithmetic of `split_bucket`: a row's place in [0, 1) from its id and a seed, by SplitMix64
/// (docs/SPLITS.md writes it out; python/loam/splits.py computes the same numbers). A row's split
/// depends on nothing else, so appends and deletes never move an existing row to another split.
public enum SplitBucket {
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The top 53 bits of mix(id XOR mix(seed)), as a fraction in [0, 1).
    public static func unit(id: UInt64, seed: UInt64) -> Double {
        Double(mix(id ^ mix(seed)) >> 11) / 9_007_199_254_740_992.0
    }

    /// The index of the split a row falls in: the first whose running sum of fractions (added left to
    /// right) exceeds the row's place; nil past their sum.
    public static func bucket(id: UInt64, seed: UInt64, fractions: [Double]) -> Int? {
        let u = unit(id: id, seed: seed)
        var total = 0.0
        for (i, f) in fractions.enumerated() {
            total += f
            if u < total { return i }
        }
        return nil
    }

    public static func name(_ index: Int, of count: Int) -> String {
        switch count {
        case 2: return ["train", "test"][index]
        case 3: return ["train", "val", "test"][index]
        default: return "split_\(index + 1)"
        }
    }
}

/// A training read restricted to one split (`to_torch(split="train")`): the rows whose
/// `split_bucket(_rowid, seed, fractions…)` is `name`, in dataset order.
public struct SplitRead: Sendable, Equatable, Codable {
    public var name: String
    public var seed: UInt64
    public var fractions: [Double]

    public init(name: String, seed: UInt64 = 0, fractions: [Double] = [0.8, 0.1, 0.1]) {
        (self.name, self.seed, self.fractions) = (name, seed, fractions)
    }

    /// The split's index among the fractions, or an error naming the choices.
    public func index() throws -> Int {
        guard !fractions.isEmpty, fractions.allSatisfy({ $0 >= 0 && $0 <= 1 }), fractions.reduce(0, +) <= 1 + 1e-9 else {
            throw LoamError.invalidArgument("split fractions must lie in 0…1 and add up to at most 1, not \(fractions)")
        }
        let names = fractions.indices.map { SplitBucket.name($0, of: fractions.count) }
        guard let i = names.firstIndex(of: name) else {
            throw LoamError.invalidArgument("no split '\(name)' for \(fractions.count) fractions (splits: \(names.joined(separator: ", ")))")
        }
        return i
    }

    /// Whether the row with this id falls in the split at `index`.
    public func contains(id: UInt64, index: Int) -> Bool {
        SplitBucket.bucket(id: id, seed: seed, fractions: fractions) == index
    }
}
