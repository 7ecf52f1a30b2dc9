import Foundation
import Loam
import LoamFormat
import LoamQuery
@testable import LoamQuality
import LoamTable
import LoamTestSupport
import Testing

/// A store that counts what it is asked, so a test sees which fragments a profile read.
final class CountingQualityStore: QualityStore, @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [String: FragmentProfile] = [:]
    private(set) var saved = 0

    func fragmentProfile(_ key: String) async throws -> FragmentProfile? { lock.withLock { kept[key] } }
    func saveFragmentProfile(_ profile: FragmentProfile, key: String) async throws {
        lock.withLock {
            kept[key] = profile
            saved += 1
        }
    }
    private var keys: [String: KeyHashes] = [:]
    func keyHashes(_ key: String) async throws -> KeyHashes? { lock.withLock { keys[key] } }
    func saveKeyHashes(_ hashes: KeyHashes, key: String) async throws { lock.withLock { keys[key] = hashes } }
}

@Suite struct SketchTests {
    @Test func momentsMergeExactlyInAnyGrouping() {
        var rng = SeededRandom(seed: 4)
        let values = (0..<10_000).map { _ in Double(rng.next() % 100_000) / 7 - 3000 }
        var whole = Moments()
        values.forEach { whole.add($0) }
        var parts = Moments()
        for chunk in stride(from: 0, to: values.count, by: 977) {
            var part = Moments()
            values[chunk..<min(chunk + 977, values.count)].forEach { part.add($0) }
            parts.merge(part)
        }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        #expect(parts.count == 10_000 && parts.min == values.min() && parts.max == values.max())
        #expect(abs(parts.mean - mean) < 1e-9 && abs(whole.mean - mean) < 1e-9)
        #expect(abs(parts.standardDeviation! - variance.squareRoot()) < 1e-9)
        #expect(Moments().standardDeviation == nil)
    }

    @Test func distinctIsExactUpToTheLimitThenWithinHyperLogLogsError() {
        var small = DistinctSketch(), other = DistinctSketch()
        for i in 0..<3000 { small.add(hash: ColumnProfile.hash(UInt64(i))) }
        for i in 2000..<4000 { other.add(hash: ColumnProfile.hash(UInt64(i))) }
        small.merge(other)
        #expect(small.isExact && small.estimate == 4000)
        var big = DistinctSketch()
        for i in 0..<200_000 { big.add(hash: ColumnProfile.hash(UInt64(i % 100_000))) }
        #expect(!big.isExact)
        #expect(abs(Double(big.estimate) - 100_000) / 100_000 < 0.05, "estimate \(big.estimate)")
    }

    @Test func quantilesStayWithinTheRankErrorAcrossMerges() {
        var rng = SeededRandom(seed: 9)
        let values = (0..<100_000).map { _ in Double(rng.next() % 1_000_000) }
        var merged = QuantileSketch()
        for chunk in stride(from: 0, to: values.count, by: 6_000) {
            var part = QuantileSketch()
            values[chunk..<min(chunk + 6_000, values.count)].forEach { part.add($0) }
            merged.merge(part)
        }
        let sorted = values.sorted()
        for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            let got = try! #require(merged.quantile(q))
            // Where the answer sits among the true values, as a fraction: within 2% of q.
            let rank = Double(sorted.firstIndex { $0 >= got }!) / Double(sorted.count)
            #expect(abs(rank - q) < 0.02, "q \(q): rank \(rank)")
        }
        var few = QuantileSketch()
        [5, 1, 4, 2, 3].forEach { few.add($0) }
        #expect(few.quantiles([0, 0.5, 1]) == [1, 3, 5])  // exact while small
        #expect(merged.count == 100_000)
    }
}

/// A fragment's profile as the repository keeps it (JSON with packed arrays, in the object store, found through
/// the object index) comes back equal, awkward values included; one in an older format is computed again.
@Suite struct KeptProfileTests {
    @Test func aKeptProfileRoundTripsThroughTheRepository() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = RepositoryQualityStore(repository: try await Repository.initialize(at: dir.appendingPathComponent("repo")))
        var text = ColumnProfile(type: "string")
        let awkward = ["", "a,b", "zürich — 東京", "nul\u{0}inside", "\"quoted\"\n", String(repeating: "long ", count: 400), "🙂"]
        text.top = TopValues(counting: Dictionary(uniqueKeysWithValues: awkward.enumerated().map { ($1, $0 + 1) }))
        text.minText = ""
        text.maxText = "🙂"
        var numbers = ColumnProfile(type: "float64")
        var moments = Moments(), distinct = DistinctSketch(), quantiles = QuantileSketch()
        for x in [1.5, -0.0, 3e300, -7] {
            moments.add(x)
            distinct.add(hash: ColumnProfile.hash(x.bitPattern))
        }
        [1.5, -0.0, .infinity, -.infinity, 3e300].forEach { quantiles.add($0) }  // ±∞ travel as strings
        numbers.values = moments
        numbers.distinct = distinct
        numbers.quantiles = quantiles
        numbers.nans = 2
        let profile = FragmentProfile(columns: ["1": text, "2": numbers])
        try await store.saveFragmentProfile(profile, key: "f/none")
        let back = try #require(try await store.fragmentProfile("f/none"))
        #expect(back == profile, "the profile read back differs")
        #expect(back.columns["1"]?.top?.top(3).map(\.value) == ["🙂", String(repeating: "long ", count: 400), "\"quoted\"\n"])
        #expect(try await store.fragmentProfile("other/none") == nil)
        // Format 2 wrote the top values as a JSON array: such an object is not read, so it is computed again.
        let old = #"{"format":2,"columns":{"1":{"type":"string","rows":1,"nulls":0,"nans":0,"top":{"values":["a"],"counts":"AQAAAAAAAAA=","isExact":true}}}}"#
        let object = try await store.repository.objects.put(Array(old.utf8))
        try await store.repository.meta.indexObject(path: RepositoryQualityStore.path("g/none"), object: object, size: old.utf8.count)
        #expect(try await store.fragmentProfile("g/none") == nil)
    }

    @Test func packedStringsRejectATruncatedList() {
        let packed = Packed.string(["abc", "", "é"])
        #expect(Packed.strings(packed) == ["abc", "", "é"])
        var bytes = [UInt8](Data(base64Encoded: packed)!)
        bytes.removeLast()
        #expect(Packed.strings(Data(bytes).base64EncodedString()) == nil)
        #expect(Packed.strings("not base64!") == nil)
        #expect(Packed.strings("") == [])
    }
}

@Suite struct ProfilerTests {
    static func table(_ range: Range<Int>) throws -> (Schema, RecordBatch) {
        let fields = [Field(name: "n", type: .int64), Field(name: "x", type: .float64), Field(name: "s", type: .utf8)]
        let n = try ArrowArray.fromValues(range.map { $0 % 7 == 0 ? .null : .int(Int64($0 % 50)) }, type: .int64)
        let x = try ArrowArray.fromValues(range.map { $0 % 13 == 0 ? .float(.nan) : .float(Double($0) / 3) }, type: .float64)
        let s = try ArrowArray.fromValues(range.map { .string("v\($0 % 17) ü") }, type: .utf8)
        let schema = Schema(fields: fields)
        return (schema, RecordBatch(schema: schema, columns: [n, x, s]))
    }

    /// The same profile as one pass over every live row, whatever mix of appends and deletes made them;
    /// each profile reads only the fragments that are new or whose deletion vector changed.
    @Test func incrementalProfilesEqualARecomputationAfterAppendsAndDeletes() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let (schema, first) = try Self.table(0..<1000)
        _ = try await repo.createDataset("t", schema: schema, batches: [first], message: "first")
        let store = CountingQualityStore()
        let profiler = Profiler(repository: repo, store: store)
        #expect(try await profiler.profile("t").computed == 1)
        for k in 1...5 {
            let (_, batch) = try Self.table(k * 1000..<(k * 1000 + 700))
            _ = try await repo.append(batch, to: "t", message: "append \(k)")
            #expect(try await profiler.profile("t").computed == 1)  // the new fragment only
        }
        _ = try await repo.execute("DELETE FROM t WHERE n = 3 OR s = 'v5 ü'")
        let afterDelete = try await profiler.profile("t")
        #expect(afterDelete.computed == 6)  // every fragment lost rows
        #expect(try await profiler.profile("t").computed == 0)
        #expect(try await profiler.profile("t", at: "HEAD~1").computed == 0)  // the version before: kept too

        // The reference: one profile of all live rows at once.
        var rows: [[Value]] = []
        try await repo.dataset("t").scan { b in for i in 0..<b.length { rows.append(b.row(i)) } }
        #expect(afterDelete.rows == rows.count)
        for (c, column) in afterDelete.columns.enumerated() {
            let array = try ArrowArray.fromValues(rows.map { $0[c] }, type: schema.fields[c].type)
            let whole = ColumnProfile.compute(array, rows: nil)
            let got = column.profile
            #expect(got.rows == whole.rows && got.nulls == whole.nulls && got.nans == whole.nans, "\(column.name)")
            #expect(got.distinct?.estimate == whole.distinct?.estimate, "\(column.name)")
            #expect(got.values?.count == whole.values?.count && got.values?.min == whole.values?.min && got.values?.max == whole.values?.max)
            if let a = got.values, let b = whole.values {
                #expect(abs(a.mean - b.mean) < 1e-9 && abs(a.standardDeviation! - b.standardDeviation!) < 1e-9, "\(column.name)")
            }
            #expect(got.top?.top(20) == whole.top?.top(20), "\(column.name)")
            #expect(got.minText == whole.minText && got.maxText == whole.maxText, "\(column.name)")
            #expect(got.lengths?.count == whole.lengths?.count && got.lengths?.min == whole.lengths?.min && got.lengths?.max == whole.lengths?.max)
            if let a = got.lengths, let b = whole.lengths { #expect(abs(a.mean - b.mean) < 1e-9) }
        }
        let report = afterDelete.report
        let n = try #require(report.columns.first { $0.name == "n" })
        #expect(n.top?.contains { $0.value == "3" } == false)  // deleted everywhere
        #expect(n.quantiles?["p0"] == 0 && n.quantiles?["p100"] == 49)
        #expect(n.histogram?.reduce(0) { $0 + $1.count } == rows.count - n.nulls)
        #expect(report.text.contains("n  int64"))
    }

    @Test func aColumnAddedLaterCountsAsNullsInOlderFragments() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let (schema, first) = try Self.table(0..<100)
        _ = try await repo.createDataset("t", schema: schema, batches: [first], message: "first")
        _ = try await repo.execute("ALTER TABLE t ADD COLUMN later DOUBLE")
        let profile = try await Profiler(repository: repo).profile("t")
        let later = try #require(profile.columns.first { $0.name == "later" })
        #expect(later.profile.rows == 100 && later.profile.nulls == 100)
        await #expect(throws: (any Error).self) { _ = try await Profiler(repository: repo).profile("nope") }
    }
}

@Suite struct DriftStatisticsTests {
    /// Values scipy 1.17 gives (special.gammaincc, stats.kstwobign.sf), and closed forms.
    @Test func theDistributionsAgreeWithTheirKnownValues() {
        #expect(abs(DriftStatistics.upperGamma(1, 2) - exp(-2)) < 1e-14)                    // Q(1, x) = e^−x
        #expect(abs(DriftStatistics.upperGamma(2.5, 1.5) - 0.6999858358786276) < 1e-13)      // gammaincc(2.5, 1.5)
        #expect(abs(DriftStatistics.upperGamma(10, 30) - 7.121750862815593e-06) < 1e-17) // gammaincc(10, 30)
        #expect(abs(DriftStatistics.kolmogorovSurvival(1.0) - 0.26999967167735456) < 1e-12) // kstwobign.sf(1)
        #expect(abs(DriftStatistics.kolmogorovSurvival(0.5) - 0.9639452436648751) < 1e-12)
        let chi = DriftStatistics.chiSquare([10, 20, 30], [30, 20, 10])
        #expect(abs(chi.statistic - 20) < 1e-12 && chi.dof == 2 && abs(chi.p - exp(-10)) < 1e-15)  // χ²₂ survival is e^(−x/2)
        #expect(DriftStatistics.ksStatistic([1, 2, 3, 4], [1, 2, 3, 4]) == 0)
        #expect(DriftStatistics.ksStatistic([1, 2, 3, 4], [5, 6, 7]) == 1)
        #expect(DriftStatistics.psi(reference: Array(0..<1000).map(Double.init), Array(0..<1000).map(Double.init)) == 0)
    }
}
