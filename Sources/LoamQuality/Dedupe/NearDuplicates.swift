import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamStorage

/// Near-duplicate texts by MinHash and locality-sensitive hashing (Broder; Leskovec et al., ch. 3): each
/// text's shingles — character 5-grams of its lowercased text, or its words — hashed once (XXH64), then
/// 128 permutations (a·h + b mod 2⁶¹−1, fixed seeds) give its signature; bands of rows chosen for the
/// threshold put likely pairs in one bucket; a pair is kept when its signatures agree on at least
/// `threshold` of the permutations (the estimated Jaccard similarity of the shingle sets), and kept pairs
/// are joined into clusters (identical texts have identical signatures, so they always are).
///
/// ```swift
/// let found = try await NearDuplicates(repository: repo).clusters("reviews", column: "text", threshold: 0.8)
/// ```
public struct NearDuplicates: Sendable {
    public enum Shingles: String, Sendable, Codable { case characters, words }

    public struct Options: Sendable {
        public var threshold = 0.8
        public var shingles = Shingles.characters
        public var size = 5
        public var permutations = 128
        public init(threshold: Double = 0.8, shingles: Shingles = .characters, size: Int? = nil) {
            self.threshold = threshold
            self.shingles = shingles
            self.size = size ?? (shingles == .characters ? 5 : 1)
        }
    }

    public struct Report: Codable, Sendable {
        public var dataset: String
        public var column: String
        public var commit: String
        public var rows: Int
        /// Groups of two or more `_rowid`s, each sorted, largest group first.
        public var clusters: [[UInt64]]
        /// Rows a cleanup would drop: all but the first of each cluster.
        public var duplicates: Int
        public var bands: Int
        public var rowsPerBand: Int
    }

    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    /// One text per live row of `column` (nulls left out), with its `_rowid`.
    func texts(_ dataset: String, _ column: String, at ref: String) async throws -> (ids: [UInt64], texts: [String], commit: String) {
        let commit = try await repository.resolve(ref).hex
        let ds = try await repository.dataset(dataset, at: commit)
        guard let field = ds.schema.fields.first(where: { $0.name == column }) else {
            throw QualityError.invalid("'\(dataset)' has no column '\(column)' (columns: \(ds.schema.fields.map(\.name).joined(separator: ", ")))")
        }
        guard field.type == .utf8 || field.type == .largeUtf8 else {
            throw QualityError.invalid("near-duplicates compare text; '\(column)' is \(field.type.name)")
        }
        var ids: [UInt64] = [], texts: [String] = []
        try await ds.scan(columns: [column], includeRowID: true) { batch in
            let rowIDs = batch.columns[0], values = batch.columns[1]
            for i in 0..<batch.length where !values.isNull(i) {
                ids.append(rowIDs.buffers[1].load(i, as: UInt64.self))
                texts.append(values.string(at: i))
            }
        }
        return (ids, texts, commit)
    }

    public func clusters(_ dataset: String, column: String, at ref: String = "HEAD", options: Options = Options()) async throws -> Report {
        guard options.threshold > 0, options.threshold <= 1 else { throw QualityError.invalid("--threshold is a Jaccard similarity in (0, 1], not \(options.threshold)") }
        let (ids, texts, commit) = try await texts(dataset, column, at: ref)
        let hasher = MinHasher(options)
        let signatures = texts.map { hasher.signature($0) }
        var groups = UnionFind(ids.count)
        for (i, j) in hasher.pairs(signatures) { groups.union(i, j) }
        var clusters: [[UInt64]] = []
        for members in groups.sets() where members.count > 1 { clusters.append(members.map { ids[$0] }.sorted()) }
        clusters.sort { (a: [UInt64], b: [UInt64]) -> Bool in a.count > b.count || (a.count == b.count && a[0] < b[0]) }
        return Report(dataset: dataset, column: column, commit: commit, rows: ids.count, clusters: clusters,
                      duplicates: clusters.reduce(0) { $0 + $1.count - 1 }, bands: hasher.bands, rowsPerBand: hasher.rows)
    }

    /// Deletes all but the first row (lowest `_rowid`) of each cluster as one commit; nil when there is none.
    public func dropDuplicates(_ report: Report) async throws -> ObjectID? {
        let doomed = report.clusters.flatMap { $0.dropFirst() }
        guard !doomed.isEmpty else { return nil }
        let sql = "DELETE FROM \(SQLText.identifier(report.dataset)) WHERE _rowid IN (\(doomed.map(String.init).joined(separator: ", ")))"
        let result = try await repository.execute(sql)
        return result.commit
    }

    /// Pairs across two datasets (or splits): a row of `test` whose text equals (`exact`) or nearly equals a
    /// row of `train`.
    public struct Leak: Codable, Sendable, Equatable {
        public var test: UInt64
        public var train: UInt64
        public var exact: Bool
        public var similarity: Double
    }

    public struct LeakageReport: Codable, Sendable {
        public var train: String
        public var test: String
        public var column: String
        public var exact: Int
        public var near: Int
        /// Test rows with at least one match.
        public var leakedTestRows: Int
        public var pairs: [Leak]
    }

    public func leakage(train: String, test: String, column: String, at ref: String = "HEAD", options: Options = Options()) async throws -> LeakageReport {
        let a = try await texts(train, column, at: ref), b = try await texts(test, column, at: ref)
        let hasher = MinHasher(options)
        let signatures = a.texts.map { hasher.signature($0) } + b.texts.map { hasher.signature($0) }
        var pairs: [Leak] = []
        for (i, j) in hasher.pairs(signatures) {
            let (low, high) = (min(i, j), max(i, j))
            guard low < a.ids.count, high >= a.ids.count else { continue }  // one from each side
            let t = high - a.ids.count
            pairs.append(Leak(test: b.ids[t], train: a.ids[low], exact: a.texts[low] == b.texts[t], similarity: hasher.similarity(signatures[low], signatures[high])))
        }
        pairs.sort { ($0.test, $0.train) < ($1.test, $1.train) }
        return LeakageReport(train: train, test: test, column: column, exact: pairs.filter(\.exact).count, near: pairs.filter { !$0.exact }.count,
                             leakedTestRows: Set(pairs.map(\.test)).count, pairs: pairs)
    }
}

/// MinHash signatures and their LSH banding.
struct MinHasher {
    static let prime: UInt64 = (1 << 61) - 1
    let options: NearDuplicates.Options
    let a: [UInt64], b: [UInt64]
    let bands: Int, rows: Int

    init(_ options: NearDuplicates.Options) {
        self.options = options
        var rng = SeededRandom(seed: 0x6C6F_616D)
        a = (0..<options.permutations).map { _ in rng.next() % (Self.prime - 1) + 1 }
        b = (0..<options.permutations).map { _ in rng.next() % Self.prime }
        // The banding whose S-curve crosses 1/2 nearest the threshold: (1/b)^(1/r) ≈ threshold.
        var best = (bands: 1, rows: options.permutations, gap: Double.infinity)
        for r in 1...options.permutations where options.permutations % r == 0 {
            let bands = options.permutations / r
            let gap = abs(pow(1 / Double(bands), 1 / Double(r)) - options.threshold)
            if gap < best.gap { best = (bands, r, gap) }
        }
        (bands, rows) = (best.bands, best.rows)
    }

    /// (a·h + b) mod 2⁶¹ − 1 without overflow.
    @inline(__always) static func permute(_ h: UInt64, _ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: h % prime)
        // 2⁶⁴ ≡ 2³ (mod 2⁶¹ − 1)
        var x = (low & prime) &+ (low >> 61) &+ (high << 3)
        x = (x & prime) &+ (x >> 61)
        x = (x & prime) &+ (x >> 61)
        x = x &+ b
        x = (x & prime) &+ (x >> 61)
        return x >= prime ? x - prime : x
    }

    func shingles(_ text: String) -> Set<UInt64> {
        var out = Set<UInt64>()
        switch options.shingles {
        case .characters:
            let chars = Array(text.lowercased().unicodeScalars)
            if chars.count <= options.size {
                out.insert(XXHash64.hash(Array(String(String.UnicodeScalarView(chars)).utf8)))
            } else {
                for i in 0...(chars.count - options.size) {
                    out.insert(XXHash64.hash(Array(String(String.UnicodeScalarView(chars[i..<(i + options.size)])).utf8)))
                }
            }
        case .words:
            let words = text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
            if words.count <= options.size { out.insert(XXHash64.hash(Array(words.joined(separator: " ").utf8))) } else {
                for i in 0...(words.count - options.size) { out.insert(XXHash64.hash(Array(words[i..<(i + options.size)].joined(separator: " ").utf8))) }
            }
        }
        return out
    }

    func signature(_ text: String) -> [UInt64] {
        var signature = [UInt64](repeating: .max, count: options.permutations)
        for h in shingles(text) {
            for k in 0..<options.permutations {
                let v = Self.permute(h, a[k], b[k])
                if v < signature[k] { signature[k] = v }
            }
        }
        return signature
    }

    func similarity(_ x: [UInt64], _ y: [UInt64]) -> Double {
        Double(zip(x, y).filter { $0 == $1 }.count) / Double(x.count)
    }

    /// Index pairs that share a band bucket and whose signatures agree on at least the threshold.
    func pairs(_ signatures: [[UInt64]]) -> [(Int, Int)] {
        var seen = Set<Int64>(), out: [(Int, Int)] = []
        for band in 0..<bands {
            var buckets: [[UInt64]: [Int]] = [:]
            for (i, s) in signatures.enumerated() { buckets[Array(s[(band * rows)..<((band + 1) * rows)]), default: []].append(i) }
            for members in buckets.values where members.count > 1 {
                for x in 0..<members.count {
                    for y in (x + 1)..<members.count {
                        let (i, j) = (members[x], members[y])
                        guard seen.insert(Int64(i) << 32 | Int64(j)).inserted else { continue }
                        if similarity(signatures[i], signatures[j]) >= options.threshold { out.append((i, j)) }
                    }
                }
            }
        }
        return out
    }
}

struct UnionFind {
    var parent: [Int]
    init(_ n: Int) { parent = Array(0..<n) }
    mutating func find(_ x: Int) -> Int {
        var r = x
        while parent[r] != r { r = parent[r] }
        var y = x
        while parent[y] != r { (parent[y], y) = (r, parent[y]) }
        return r
    }
    mutating func union(_ x: Int, _ y: Int) {
        let (a, b) = (find(x), find(y))
        if a != b { parent[max(a, b)] = min(a, b) }
    }
    mutating func sets() -> [[Int]] {
        var groups: [Int: [Int]] = [:]
        for i in parent.indices { groups[find(i), default: []].append(i) }
        return Array(groups.values)
    }
}
