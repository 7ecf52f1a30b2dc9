import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamStorage

/// Near-duplicate rows of a text column by MinHash and locality-sensitive hashing (Broder; Leskovec et
/// al., ch. 3), or of a vector column by random hyperplanes (Charikar's SimHash).
///
/// Texts: each text's shingles — character 5-grams of its lowercased text, or its words — hashed once
/// (XXH64), then 128 permutations (a·h + b mod 2⁶¹−1, fixed seeds) give its signature. Vectors: the signs of
/// 256 projections on fixed Gaussian directions, two vectors agreeing on each with probability 1 − angle/π.
/// Bands of the signature, chosen for the threshold, put likely pairs in one bucket; a text pair is kept when
/// its signatures agree on at least `threshold` of the permutations (the estimated Jaccard similarity), a
/// vector pair when its exact cosine is at least `cosine`; kept pairs are joined into clusters (identical
/// rows have identical signatures, so they always are).
///
/// ```swift
/// let found = try await NearDuplicates(repository: repo).clusters("reviews", column: "text", options: .init(threshold: 0.8))
/// let same = try await NearDuplicates(repository: repo).clusters("images", column: "emb", options: .init(cosine: 0.95))
/// ```
public struct NearDuplicates: Sendable {
    public enum Shingles: String, Sendable, Codable { case characters, words }

    public struct Options: Sendable {
        public var threshold = 0.8
        public var shingles = Shingles.characters
        public var size = 5
        public var permutations = 128
        /// For a vector column: the least cosine similarity of a pair (`threshold` and shingles are for text).
        public var cosine: Double?
        public init(threshold: Double = 0.8, shingles: Shingles = .characters, size: Int? = nil, cosine: Double? = nil) {
            self.threshold = threshold
            self.shingles = shingles
            self.size = size ?? (shingles == .characters ? 5 : 1)
            self.cosine = cosine
        }
    }

    public struct Report: Codable, Sendable {
        public var dataset: String
        public var column: String
        public var commit: String
        /// What a pair's similarity is: "jaccard of character 5-grams", "jaccard of words", "cosine".
        public var measure: String
        public var threshold: Double
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

    /// The live rows of a text or vector column (nulls left out), with their `_rowid`s.
    enum Column {
        case texts([String])
        /// Row-major, `width` floats a row, each row scaled to unit length (a zero vector stays zero).
        case vectors([Float], width: Int)
    }

    func column(_ dataset: String, _ column: String, at ref: String) async throws -> (ids: [UInt64], values: Column, commit: String) {
        let commit = try await repository.resolve(ref).hex
        let ds = try await repository.dataset(dataset, at: commit)
        guard let field = ds.schema.fields.first(where: { $0.name == column }) else {
            throw QualityError.invalid("'\(dataset)' has no column '\(column)' (columns: \(ds.schema.fields.map(\.name).joined(separator: ", ")))")
        }
        var ids: [UInt64] = []
        switch field.type {
        case .utf8, .largeUtf8:
            var texts: [String] = []
            try await ds.scan(columns: [column], includeRowID: true) { batch in
                let rowIDs = batch.columns[0], values = batch.columns[1]
                for i in 0..<batch.length where !values.isNull(i) {
                    ids.append(rowIDs.buffers[1].load(i, as: UInt64.self))
                    texts.append(values.string(at: i))
                }
            }
            return (ids, .texts(texts), commit)
        case .fixedSizeList(let item, let width) where item.type == .float32 || item.type == .float64:
            var vectors: [Float] = []
            try await ds.scan(columns: [column], includeRowID: true) { batch in
                let rowIDs = batch.columns[0], values = batch.columns[1], child = values.children[0], wide = item.type == .float64
                for i in 0..<batch.length where !values.isNull(i) {
                    ids.append(rowIDs.buffers[1].load(i, as: UInt64.self))
                    let start = vectors.count
                    var norm = 0.0
                    for j in (i * width)..<((i + 1) * width) {
                        let v = wide ? Float(child.buffers[1].loadDouble(j)) : child.buffers[1].loadFloat(j)
                        vectors.append(v)
                        norm += Double(v) * Double(v)
                    }
                    if norm > 0 { let scale = Float(1 / norm.squareRoot()); for j in start..<vectors.count { vectors[j] *= scale } }
                }
            }
            return (ids, .vectors(vectors, width: width), commit)
        default:
            throw QualityError.invalid("near-duplicates compare text (MinHash) or float vectors (--cosine); '\(column)' is \(field.type.name)")
        }
    }

    public func clusters(_ dataset: String, column: String, at ref: String = "HEAD", options: Options = Options()) async throws -> Report {
        let (ids, values, commit) = try await self.column(dataset, column, at: ref)
        let groups = UnionFind(ids.count)
        let bands: Int, rows: Int, measure: String, threshold: Double
        switch values {
        case .texts(let texts):
            guard options.cosine == nil else { throw QualityError.invalid("--cosine is for vector columns; '\(column)' holds text: give --threshold, a Jaccard similarity") }
            guard options.threshold > 0, options.threshold <= 1 else { throw QualityError.invalid("--threshold is a Jaccard similarity in (0, 1], not \(options.threshold)") }
            let hasher = MinHasher(options)
            _ = hasher.pairs(try await hasher.signatures(texts), groups: groups)
            (bands, rows, threshold) = (hasher.bands, hasher.rows, options.threshold)
            measure = options.shingles == .characters ? "jaccard of character \(options.size)-grams" : "jaccard of \(options.size == 1 ? "words" : "\(options.size)-word shingles")"
        case .vectors(let vectors, let width):
            guard let cosine = options.cosine else {
                throw QualityError.invalid("'\(column)' holds vectors: give --cosine, the least cosine similarity of a pair (for example 0.95)")
            }
            guard cosine > 0, cosine <= 1 else { throw QualityError.invalid("--cosine is a similarity in (0, 1], not \(cosine)") }
            let hasher = HyperplaneHasher(width: width, cosine: cosine, bits: 256)
            _ = hasher.pairs(try await hasher.signatures(vectors), vectors, groups: groups)
            (bands, rows, measure, threshold) = (hasher.bands, hasher.rows, "cosine", cosine)
        }
        var clusters: [[UInt64]] = []
        for members in groups.sets() where members.count > 1 { clusters.append(members.map { ids[$0] }.sorted()) }
        clusters.sort { (a: [UInt64], b: [UInt64]) -> Bool in a.count > b.count || (a.count == b.count && a[0] < b[0]) }
        return Report(dataset: dataset, column: column, commit: commit, measure: measure, threshold: threshold, rows: ids.count, clusters: clusters,
                      duplicates: clusters.reduce(0) { $0 + $1.count - 1 }, bands: bands, rowsPerBand: rows)
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
        let a = try await self.column(train, column, at: ref), b = try await self.column(test, column, at: ref)
        guard case .texts(let trainTexts) = a.values, case .texts(let testTexts) = b.values else {
            throw QualityError.invalid("leakage compares text columns; '\(column)' holds vectors in \(train) or \(test)")
        }
        let hasher = MinHasher(options)
        let signatures = try await hasher.signatures(trainTexts + testTexts)
        var pairs: [Leak] = []
        for (i, j) in hasher.pairs(signatures) {
            let (low, high) = (min(i, j), max(i, j))
            guard low < a.ids.count, high >= a.ids.count else { continue }  // one from each side
            let t = high - a.ids.count
            pairs.append(Leak(test: b.ids[t], train: a.ids[low], exact: trainTexts[low] == testTexts[t], similarity: hasher.similarity(signatures, low, high)))
        }
        pairs.sort { ($0.test, $0.train) < ($1.test, $1.train) }
        return LeakageReport(train: train, test: test, column: column, exact: pairs.filter(\.exact).count, near: pairs.filter { !$0.exact }.count,
                             leakedTestRows: Set(pairs.map(\.test)).count, pairs: pairs)
    }
}

/// The banding of `length` signature values for a similarity threshold: `bands` bands of `rows` values
/// (b·r at most `length`) whose S-curve 1 − (1 − s^r)^b (Leskovec et al., 3.4) has the least false-positive
/// area below the threshold (from `floor`, the similarity of unrelated rows) plus four times the
/// false-negative area above it: every candidate is verified, so a false positive costs one check while a
/// false negative is a duplicate missed.
func banding(threshold: Double, length: Int, floor: Double = 0) -> (bands: Int, rows: Int) {
    func probability(_ s: Double, _ b: Int, _ r: Int) -> Double { 1 - pow(1 - pow(s, Double(r)), Double(b)) }
    func area(_ from: Double, _ to: Double, _ f: (Double) -> Double) -> Double {
        let steps = 100, h = (to - from) / Double(steps)
        return (0..<steps).reduce(0) { $0 + f(from + (Double($1) + 0.5) * h) * h }
    }
    var best = (bands: 1, rows: length, error: Double.infinity)
    for b in 1...length {
        for r in 1...(length / b) {
            let error = area(floor, threshold) { probability($0, b, r) } + 4 * area(threshold, 1) { 1 - probability($0, b, r) }
            if error < best.error { best = (b, r, error) }
        }
    }
    return (best.bands, best.rows)
}

/// Index pairs that share a bucket in some band (`key(row, band)`, a hash of the band's part of the row's
/// signature) and that `keep` accepts, each pair once. Rows of a bucket with the same whole signature
/// (`whole(row)`) are first tried against the first of them alone, so a thousand copies of one text cost a
/// thousand checks, not half a million. With `groups` (clustering, where only connectivity matters), a pair
/// already in one group is not checked, and kept pairs join their groups.
func bandedPairs(_ n: Int, bands: Int, key: (Int, Int) -> UInt64, whole: (Int) -> UInt64, keep: (Int, Int) -> Bool,
                 groups: UnionFind? = nil) -> [(Int, Int)] {
    var seen: [Int64: Bool] = [:], out: [(Int, Int)] = []  // each pair checked once, with its answer
    func consider(_ x: Int32, _ y: Int32) -> Bool {
        let (i, j) = (Int(min(x, y)), Int(max(x, y))), pair = Int64(i) << 32 | Int64(j)
        if let groups, groups.find(i) == groups.find(j) { return true }
        if let kept = seen[pair] { return kept }
        let kept = keep(i, j)
        seen[pair] = kept
        if kept {
            out.append((i, j))
            groups?.union(i, j)
        }
        return kept
    }
    let wholes = (0..<n).map(whole)
    var keyed = [(key: UInt64, row: Int32)](repeating: (0, 0), count: n)
    for band in 0..<bands {
        for i in 0..<n { keyed[i] = (key(i, band), Int32(i)) }
        keyed.sort { $0.key < $1.key }
        var start = 0
        while start < n {
            var end = start + 1
            while end < n, keyed[end].key == keyed[start].key { end += 1 }
            if end - start > 1 {
                var firsts: [UInt64: Int32] = [:], representatives: [Int32] = []
                for x in start..<end {
                    let row = keyed[x].row
                    if let first = firsts[wholes[Int(row)]], consider(first, row) { continue }
                    if firsts[wholes[Int(row)]] == nil { firsts[wholes[Int(row)]] = row }
                    representatives.append(row)
                }
                for x in representatives.indices { for y in (x + 1)..<representatives.count { _ = consider(representatives[x], representatives[y]) } }
            }
            start = end
        }
    }
    return out
}

/// Signatures for `count` rows in chunks on every core, concatenated in row order.
func signaturesInParallel(_ count: Int, length: Int, _ chunk: @escaping @Sendable (Range<Int>) -> [UInt64]) async throws -> [UInt64] {
    let size = 4096, chunks = (count + size - 1) / size
    var out: [UInt64] = []
    out.reserveCapacity(count * length)
    try await concurrentlyInOrder(chunks, produce: { k in chunk((k * size)..<min(count, (k + 1) * size)) }) { part in
        out += part
        return true
    }
    return out
}

/// MinHash signatures of texts and their LSH banding.
struct MinHasher: Sendable {
    static let prime: UInt64 = (1 << 61) - 1
    let options: NearDuplicates.Options
    let a: [UInt64], b: [UInt64]
    let bands: Int, rows: Int

    init(_ options: NearDuplicates.Options) {
        self.options = options
        var rng = SeededRandom(seed: 0x6C6F_616D)
        a = (0..<options.permutations).map { _ in rng.next() % (Self.prime - 1) + 1 }
        b = (0..<options.permutations).map { _ in rng.next() % Self.prime }
        (bands, rows) = banding(threshold: options.threshold, length: options.permutations)
    }

    /// (a·h + b) mod 2⁶¹ − 1 without overflow, for `h` already below 2⁶¹ − 1 (reduce it once, not per permutation).
    @inline(__always) static func permute(_ h: UInt64, _ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: h)
        // 2⁶⁴ ≡ 2³ (mod 2⁶¹ − 1)
        var x = (low & prime) &+ (low >> 61) &+ (high << 3)
        x = (x & prime) &+ (x >> 61)
        x = (x & prime) &+ (x >> 61)
        x = x &+ b
        x = (x & prime) &+ (x >> 61)
        return x >= prime ? x - prime : x
    }

    /// The hashes of a text's shingles (repeats kept: a minimum does not change for them).
    func shingles(_ text: String, into out: inout [UInt64]) {
        out.removeAll(keepingCapacity: true)
        switch options.shingles {
        case .characters:
            var lowered = text.lowercased()
            lowered.withUTF8 { bytes in
                var starts: [Int] = []  // where each character (Unicode scalar) begins
                starts.reserveCapacity(bytes.count + 1)
                for (i, byte) in bytes.enumerated() where byte & 0xC0 != 0x80 { starts.append(i) }
                starts.append(bytes.count)
                let characters = starts.count - 1, size = options.size
                let raw = UnsafeRawBufferPointer(bytes)
                if characters <= size {
                    out.append(XXHash64.hash(raw))
                } else {
                    for i in 0...(characters - size) { out.append(XXHash64.hash(UnsafeRawBufferPointer(rebasing: raw[starts[i]..<starts[i + size]]))) }
                }
            }
        case .words:
            let words = text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
            if words.count <= options.size { out.append(XXHash64.hash(Array(words.joined(separator: " ").utf8))) } else {
                for i in 0...(words.count - options.size) { out.append(XXHash64.hash(Array(words[i..<(i + options.size)].joined(separator: " ").utf8))) }
            }
        }
    }

    /// Every text's signature, `permutations` values a row, row after row.
    func signatures(_ texts: [String]) async throws -> [UInt64] {
        let permutations = options.permutations
        return try await signaturesInParallel(texts.count, length: permutations) { range in
            var out = [UInt64](repeating: .max, count: range.count * permutations), hashes: [UInt64] = []
            out.withUnsafeMutableBufferPointer { out in
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        for (row, t) in range.enumerated() {
                            shingles(texts[t], into: &hashes)
                            let signature = out.baseAddress! + row * permutations
                            for hash in hashes {
                                let h = hash % Self.prime
                                for k in 0..<permutations {
                                    let v = Self.permute(h, a[k], b[k])
                                    if v < signature[k] { signature[k] = v }
                                }
                            }
                        }
                    }
                }
            }
            return out
        }
    }

    /// The share of permutations on which rows `i` and `j` agree: their estimated Jaccard similarity.
    func similarity(_ signatures: [UInt64], _ i: Int, _ j: Int) -> Double {
        let p = options.permutations
        var same = 0
        for k in 0..<p where signatures[i * p + k] == signatures[j * p + k] { same += 1 }
        return Double(same) / Double(p)
    }

    /// Row pairs that share a band bucket and whose signatures agree on at least the threshold.
    func pairs(_ signatures: [UInt64], groups: UnionFind? = nil) -> [(Int, Int)] {
        let p = options.permutations, rows = self.rows
        return signatures.withUnsafeBytes { raw in
            bandedPairs(signatures.count / max(p, 1), bands: bands,
                        key: { i, band in XXHash64.hash(UnsafeRawBufferPointer(rebasing: raw[((i * p + band * rows) * 8)..<((i * p + (band + 1) * rows) * 8)])) },
                        whole: { i in XXHash64.hash(UnsafeRawBufferPointer(rebasing: raw[(i * p * 8)..<((i + 1) * p * 8)])) },
                        keep: { similarity(signatures, $0, $1) >= options.threshold }, groups: groups)
        }
    }
}

/// Random-hyperplane signatures of unit vectors: bit k is the sign of the projection on direction k; two
/// vectors at angle θ agree on a bit with probability 1 − θ/π. Bits are packed 64 to a word and banded
/// bit by bit as MinHash bands values; candidates are kept on their exact cosine.
struct HyperplaneHasher: Sendable {
    let width: Int, bits: Int, cosine: Double
    let directions: [Float]  // bits × width, Gaussian
    let bands: Int, rows: Int

    init(width: Int, cosine: Double, bits: Int) {
        (self.width, self.cosine, self.bits) = (width, cosine, bits)
        var rng = SeededRandom(seed: 0x6C6F_616E)
        directions = (0..<(bits * width)).map { _ in  // Box–Muller
            let u = max(Double(rng.next() >> 11) / Double(1 << 53), .leastNonzeroMagnitude), v = Double(rng.next() >> 11) / Double(1 << 53)
            return Float((-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v))
        }
        // Band over single bits, as MinHash bands over values: the threshold in bit agreement is 1 − arccos(cosine)/π,
        // and unrelated (orthogonal) vectors agree on half the bits.
        (bands, rows) = banding(threshold: 1 - Foundation.acos(min(1, cosine)) / Double.pi, length: bits, floor: 0.5)
    }

    var words: Int { (bits + 63) / 64 }

    /// Each vector's bits, packed `words` UInt64s a row, row after row.
    func signatures(_ vectors: [Float]) async throws -> [UInt64] {
        let (width, bits, words, directions) = (self.width, self.bits, self.words, self.directions)
        let count = width == 0 ? 0 : vectors.count / width
        return try await signaturesInParallel(count, length: words) { range in
            var out = [UInt64](repeating: 0, count: range.count * words)
            vectors.withUnsafeBufferPointer { v in
                directions.withUnsafeBufferPointer { d in
                    for (row, i) in range.enumerated() {
                        let x = v.baseAddress! + i * width
                        for k in 0..<bits {
                            let r = d.baseAddress! + k * width
                            var dot: Float = 0
                            for j in 0..<width { dot += x[j] * r[j] }
                            if dot >= 0 { out[row * words + k / 64] |= 1 << UInt64(k % 64) }
                        }
                    }
                }
            }
            return out
        }
    }

    func pairs(_ signatures: [UInt64], _ vectors: [Float], groups: UnionFind? = nil) -> [(Int, Int)] {
        let (words, rows, width) = (self.words, self.rows, self.width)
        func bit(_ i: Int, _ k: Int) -> UInt64 { (signatures[i * words + k / 64] >> UInt64(k % 64)) & 1 }
        return bandedPairs(signatures.count / max(words, 1), bands: bands,
                           key: { i, band in
                               var h: UInt64 = 0xcbf2_9ce4_8422_2325
                               for k in (band * rows)..<((band + 1) * rows) { h = (h ^ bit(i, k)) &* 0x100_0000_01b3 }
                               return h
                           },
                           whole: { i in (0..<words).reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ signatures[i * words + $1]) &* 0x100_0000_01b3 } },
                           keep: { i, j in
                               var dot = 0.0
                               for k in 0..<width { dot += Double(vectors[i * width + k]) * Double(vectors[j * width + k]) }
                               return dot >= cosine - 1e-6  // unit vectors in Float: a hair of slack for rounding
                           }, groups: groups)
    }
}

/// Disjoint sets of row indices (path compression; the smaller index is the root).
final class UnionFind {
    var parent: [Int]
    init(_ n: Int) { parent = Array(0..<n) }
    func find(_ x: Int) -> Int {
        var r = x
        while parent[r] != r { r = parent[r] }
        var y = x
        while parent[y] != r { (parent[y], y) = (r, parent[y]) }
        return r
    }
    func union(_ x: Int, _ y: Int) {
        let (a, b) = (find(x), find(y))
        if a != b { parent[max(a, b)] = min(a, b) }
    }
    func sets() -> [[Int]] {
        var groups: [Int: [Int]] = [:]
        for i in parent.indices { groups[find(i), default: []].append(i) }
        return Array(groups.values)
    }
}
