/// Inter-annotator agreement over ratings: (item, annotator, value) triples, any number of annotators
/// per item, missing ratings allowed. Percent agreement, Cohen's kappa for every pair of annotators
/// (unweighted, linear or quadratic), Fleiss' kappa overall and per class, and Krippendorff's alpha at
/// the nominal, ordinal, interval and ratio levels — the definitions of scikit-learn's
/// `cohen_kappa_score`, statsmodels' `fleiss_kappa` and the `krippendorff` package, which the tests
/// compare against.
///
/// ```swift
/// let ratings = Ratings([("r1", "ann", "pos"), ("r1", "bob", "pos"), ("r2", "ann", "neg"), ("r2", "bob", "pos")])
/// let alpha = try ratings.krippendorffAlpha(level: .nominal)
/// ```
public struct Ratings: Sendable {
    /// Measurement level of the values, for Krippendorff's alpha and weighted kappa.
    public enum Level: String, Sendable, CaseIterable {
        case nominal, ordinal, interval, ratio
    }

    public enum Weights: String, Sendable {
        case none, linear, quadratic
    }

    /// Items, annotators and values, in first-seen order.
    public let items: [String]
    public let annotators: [String]
    /// The distinct values, sorted (numerically when every one is a number).
    public let values: [String]
    /// For each item, annotator index → value index (one rating per annotator and item: the last one given).
    let byItem: [[Int: Int]]
    /// The values as numbers, when every one is a number.
    let numbers: [Double]?

    public init(_ triples: some Sequence<(item: String, annotator: String, value: String)>) {
        var itemIndex: [String: Int] = [:], annotatorIndex: [String: Int] = [:]
        var items: [String] = [], annotators: [String] = [], raw: [[Int: String]] = []
        var distinct = Set<String>()
        for (item, annotator, value) in triples {
            let i = itemIndex[item] ?? { items.append(item); raw.append([:]); itemIndex[item] = items.count - 1; return items.count - 1 }()
            let a = annotatorIndex[annotator] ?? { annotators.append(annotator); annotatorIndex[annotator] = annotators.count - 1; return annotators.count - 1 }()
            raw[i][a] = value
            distinct.insert(value)
        }
        let parsed = distinct.map { ($0, Double($0)) }
        let numeric = !parsed.isEmpty && parsed.allSatisfy { $0.1 != nil && $0.1!.isFinite }
        let sorted = numeric ? parsed.sorted { $0.1! < $1.1! }.map(\.0) : distinct.sorted()
        let valueIndex = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0) })
        self.items = items
        self.annotators = annotators
        self.values = sorted
        self.numbers = numeric ? sorted.map { Double($0)! } : nil
        self.byItem = raw.map { $0.mapValues { valueIndex[$0]! } }
    }

    // MARK: percent agreement

    /// The share of agreeing pairs of ratings within each item (items with two ratings or more), averaged over items.
    public var percentAgreement: Double? {
        var total = 0.0, counted = 0
        for ratings in byItem where ratings.count >= 2 {
            var counts: [Int: Int] = [:]
            for v in ratings.values { counts[v, default: 0] += 1 }
            let n = Double(ratings.count)
            total += counts.values.reduce(0.0) { $0 + Double($1) * Double($1 - 1) } / (n * (n - 1))
            counted += 1
        }
        return counted == 0 ? nil : total / Double(counted)
    }

    // MARK: Cohen's kappa

    /// Cohen's kappa between two annotators over the items both rated (nil when they share none, or when
    /// chance agreement is total and kappa is undefined). Weights count distance in the sorted order of
    /// the values the two used, as scikit-learn does.
    public func cohenKappa(_ a: String, _ b: String, weights: Weights = .none) throws -> Double? {
        guard let i = annotators.firstIndex(of: a) else { throw AgreementError.unknownAnnotator(a, annotators) }
        guard let j = annotators.firstIndex(of: b) else { throw AgreementError.unknownAnnotator(b, annotators) }
        let pairs = byItem.compactMap { r -> (Int, Int)? in
            guard let x = r[i], let y = r[j] else { return nil }
            return (x, y)
        }
        guard !pairs.isEmpty else { return nil }
        // The labels either annotator used, in order (as scikit-learn takes them).
        let used = Array(Set(pairs.flatMap { [$0.0, $0.1] })).sorted()
        let position = Dictionary(uniqueKeysWithValues: used.enumerated().map { ($1, $0) })
        let k = used.count
        var confusion = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for (x, y) in pairs { confusion[position[x]!][position[y]!] += 1 }
        let n = Double(pairs.count)
        let rows = confusion.map { $0.reduce(0, +) }
        let columns = (0..<k).map { c in confusion.reduce(0) { $0 + $1[c] } }
        var observed = 0.0, expected = 0.0
        for r in 0..<k {
            for c in 0..<k {
                let w: Double
                switch weights {
                case .none: w = r == c ? 0 : 1
                case .linear: w = abs(Double(r - c))
                case .quadratic: w = Double((r - c) * (r - c))
                }
                observed += w * confusion[r][c]
                expected += w * rows[r] * columns[c] / n
            }
        }
        guard expected != 0 else { return nil }
        return 1 - observed / expected
    }

    /// Cohen's kappa for every pair of annotators that rated a common item.
    public func pairwiseKappa(weights: Weights = .none) throws -> [(a: String, b: String, kappa: Double?, items: Int)] {
        var out: [(String, String, Double?, Int)] = []
        for i in annotators.indices {
            for j in annotators.indices where j > i {
                let shared = byItem.reduce(0) { $0 + ($1[i] != nil && $1[j] != nil ? 1 : 0) }
                guard shared > 0 else { continue }
                out.append((annotators[i], annotators[j], try cohenKappa(annotators[i], annotators[j], weights: weights), shared))
            }
        }
        return out
    }

    /// The confusion matrix of two annotators over their common items: rows `a`'s values, columns `b`'s, in `values` order.
    public func confusion(_ a: String, _ b: String) throws -> [[Int]] {
        guard let i = annotators.firstIndex(of: a) else { throw AgreementError.unknownAnnotator(a, annotators) }
        guard let j = annotators.firstIndex(of: b) else { throw AgreementError.unknownAnnotator(b, annotators) }
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: values.count), count: values.count)
        for r in byItem { if let x = r[i], let y = r[j] { matrix[x][y] += 1 } }
        return matrix
    }

    // MARK: Fleiss' kappa

    /// Fleiss' kappa over the items with two ratings or more, overall and per class (with unequal numbers of
    /// ratings per item, each item's agreement is over its own pairs). Nil when chance agreement is total.
    public func fleissKappa() -> (kappa: Double?, perClass: [String: Double?]) {
        let k = values.count
        var counts: [[Int]] = []
        for ratings in byItem where ratings.count >= 2 {
            var row = [Int](repeating: 0, count: k)
            for v in ratings.values { row[v] += 1 }
            counts.append(row)
        }
        guard !counts.isEmpty else { return (nil, [:]) }
        let totals = counts.map { Double($0.reduce(0, +)) }
        let allRatings = totals.reduce(0, +)
        let share = (0..<k).map { j in Double(counts.reduce(0) { $0 + $1[j] }) / allRatings }
        var observed = 0.0
        for (row, n) in zip(counts, totals) {
            observed += row.reduce(0.0) { $0 + Double($1) * Double($1 - 1) } / (n * (n - 1))
        }
        observed /= Double(counts.count)
        let chance = share.reduce(0) { $0 + $1 * $1 }
        var perClass: [String: Double?] = [:]
        for j in 0..<k {
            // 1 − (disagreement on class j) / (its chance), Fleiss (1971) eq. 10, per item's own count.
            var disagreement = 0.0
            for (row, n) in zip(counts, totals) { disagreement += Double(row[j]) * (n - Double(row[j])) / (n * (n - 1)) }
            let denominator = Double(counts.count) * share[j] * (1 - share[j])
            perClass[values[j]] = denominator == 0 ? nil : 1 - disagreement / denominator
        }
        return (chance == 1 ? nil : (observed - chance) / (1 - chance), perClass)
    }

    // MARK: Krippendorff's alpha

    /// Krippendorff's alpha at `level`, from the coincidence matrix of pairable values (items with two ratings
    /// or more; missing ratings allowed). Nil when there is no variation to measure (a single value).
    public func krippendorffAlpha(level: Level = .nominal) throws -> Double? {
        if level != .nominal, numbers == nil { throw AgreementError.notNumeric("Krippendorff's alpha at the \(level.rawValue) level", values) }
        let k = values.count
        var coincidence = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for ratings in byItem where ratings.count >= 2 {
            let vs = Array(ratings.values)
            let weight = 1 / Double(vs.count - 1)
            for a in vs.indices { for b in vs.indices where b != a { coincidence[vs[a]][vs[b]] += weight } }
        }
        let marginals = coincidence.map { $0.reduce(0, +) }
        let n = marginals.reduce(0, +)
        guard n > 1 else { return nil }
        func delta(_ c: Int, _ d: Int) -> Double {
            switch level {
            case .nominal: return c == d ? 0 : 1
            case .interval: return (numbers![c] - numbers![d]) * (numbers![c] - numbers![d])
            case .ratio:
                let (x, y) = (numbers![c], numbers![d])
                return x + y == 0 ? 0 : ((x - y) / (x + y)) * ((x - y) / (x + y))
            case .ordinal:
                let (low, high) = (min(c, d), max(c, d))
                let between = marginals[low...high].reduce(0, +) - (marginals[c] + marginals[d]) / 2
                return between * between
            }
        }
        var observed = 0.0, expected = 0.0
        for c in 0..<k {
            for d in 0..<k where c != d {
                let w = delta(c, d)
                observed += coincidence[c][d] * w
                expected += marginals[c] * marginals[d] * w
            }
        }
        guard expected > 0 else { return nil }
        return 1 - (n - 1) * observed / expected
    }
}

/// Bad input to an agreement measure, naming what to change.
public enum AgreementError: Error, Equatable, CustomStringConvertible {
    case unknownAnnotator(String, [String])
    case notNumeric(String, [String])

    public var description: String {
        switch self {
        case .unknownAnnotator(let name, let known):
            return "no ratings by annotator '\(name)' (annotators: \(known.prefix(20).joined(separator: ", ")))"
        case .notNumeric(let what, let values):
            let bad = values.filter { Double($0) == nil }.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            return "\(what) needs numeric values, but the ratings include \(bad); use the nominal level"
        }
    }
}
