import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamTestSupport
import Testing

/// Sort, DISTINCT, GROUP BY and hash joins over far more rows than a 256 KiB budget holds:
/// each spills to disk and answers exactly what it answers with room.
@Suite struct SpillTests {
    static let rows = 50_000
    static let budget = 256 << 10

    func repository() async throws -> Repository {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-spill"))
        let file = repo.root.appendingPathComponent("big.csv")
        var text = "id,k,s,v\n"
        for id in 0..<Self.rows {
            // k: 20,000 groups; s: 12,011 distinct unicode strings; v: a float, NULL one row in 13.
            text += "\(id),\(id * 7919 % 20_000),héllo-\(id % 12_011)-ø,\(id % 13 == 0 ? "" : String(Double(id % 977) / 8))\n"
        }
        try Data(text.utf8).write(to: file)
        try await repo.importData(from: file.path, into: "big", options: ImportOptions(schema: "id:int64,k:int64,s:utf8,v:float64"))
        return repo
    }

    func rows(_ repo: Repository, _ sql: String, limit: Int) async throws -> [[Value]] {
        let result = try await StatementLimit.run(timeout: nil, memoryLimit: limit) { try await repo.query(sql) }
        return result.batches.flatMap { b in (0..<b.length).map { b.row($0) } }
    }

    /// The answer within 256 KiB is the answer with 1 GiB (as a multiset when the order is not specified).
    func expectSame(_ repo: Repository, _ sql: String, ordered: Bool, atLeast: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let roomy = try await rows(repo, sql, limit: 1 << 30)
        let tight = try await rows(repo, sql, limit: Self.budget)
        #expect(roomy.count >= atLeast, "\(sql)", sourceLocation: sourceLocation)
        if ordered {
            #expect(tight == roomy, "\(sql)", sourceLocation: sourceLocation)
        } else {
            let key = { (row: [Value]) in row.map { $0.isNull ? "\u{0}" : "\($0)" }.joined(separator: "|") }
            #expect(tight.map(key).sorted() == roomy.map(key).sorted(), "\(sql)", sourceLocation: sourceLocation)
        }
    }

    @Test func orderBySpillsSortedRunsAndMergesThem() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        try await expectSame(repo, "SELECT id, s, v FROM big ORDER BY s DESC, id", ordered: true, atLeast: Self.rows)
        try await expectSame(repo, "SELECT id, v FROM big ORDER BY v NULLS FIRST, id DESC", ordered: true, atLeast: Self.rows)
        // OFFSET and LIMIT across the merged output's chunks.
        try await expectSame(repo, "SELECT s, id FROM big ORDER BY s, id LIMIT 30000 OFFSET 15000", ordered: true, atLeast: 30_000)
        let sorted = try await rows(repo, "SELECT k FROM big ORDER BY k", limit: Self.budget).map { $0[0] }
        #expect(sorted.count == Self.rows)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { !($1 < $0) })
    }

    @Test func distinctSpillsHashPartitions() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        try await expectSame(repo, "SELECT DISTINCT s FROM big ORDER BY s", ordered: true, atLeast: 12_011)
        try await expectSame(repo, "SELECT DISTINCT k % 1000 AS m, s FROM big", ordered: false, atLeast: 12_011)
        #expect(try await rows(repo, "SELECT DISTINCT s, v IS NULL FROM big", limit: Self.budget).count
            == Set(try await rows(repo, "SELECT s, v IS NULL FROM big", limit: 1 << 30).map { $0 }).count)
    }

    @Test func groupBySpillsHashPartitionsOfItsInput() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        // Typed aggregation (one integer key, numeric aggregates) and the general path (text aggregates, expressions, two keys).
        try await expectSame(repo, "SELECT k, count(*), sum(id), max(v) FROM big GROUP BY k ORDER BY k", ordered: true, atLeast: 20_000)
        try await expectSame(repo, "SELECT k, count(*), min(s), avg(v) FROM big WHERE id % 5 <> 0 GROUP BY k HAVING count(*) > 1", ordered: false,
                             atLeast: 5_000)
        try await expectSame(repo, "SELECT s, k % 7 AS m, count(*), sum(v) FROM big GROUP BY s, k % 7", ordered: false, atLeast: 12_011)
        let counts = try await rows(repo, "SELECT k, count(*) FROM big GROUP BY k", limit: Self.budget)
        #expect(counts.count == 20_000)
        #expect(counts.reduce(Int64(0)) { if case .int(let n) = $1[1] { return $0 + n } else { return $0 } } == Int64(Self.rows))
    }

    @Test func joinsSpillAsGraceHashJoins() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        try await expectSame(repo, "SELECT count(*), sum(a.id + b.k) FROM big AS a JOIN big AS b ON a.id = b.id", ordered: true)
        // A left join whose keys (integer against float) miss for most rows, NULLs on the right; a join on a text key.
        try await expectSame(repo, "SELECT a.id, b.id, b.s FROM big AS a LEFT JOIN big AS b ON a.k = b.v ORDER BY a.id, b.id",
                             ordered: true, atLeast: Self.rows)
        try await expectSame(repo, "SELECT a.s, count(*) FROM big AS a JOIN big AS b USING (s) WHERE a.id < 5000 GROUP BY a.s", ordered: false,
                             atLeast: 5000)
    }

    @Test func whenEvenSpillingCannotHelpTheErrorSaysSo() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        // Every right row has the same key: one partition holds them all, whatever the hash.
        let sql = "SELECT count(*) FROM (SELECT 0 AS z, id FROM big) AS a JOIN (SELECT 0 AS z, s FROM big) AS b ON a.z = b.z"
        do {
            _ = try await rows(repo, sql, limit: Self.budget)
            Issue.record("a join on one key answered within 256 KiB")
        } catch let error as StatementStopped {
            #expect("\(error)".contains("even spilling to disk"), "\(error)")
            #expect("\(error)".contains("partitions of a join's right side"), "\(error)")
        }
    }
}
