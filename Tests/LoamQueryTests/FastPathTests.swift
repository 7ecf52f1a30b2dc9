import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamTestSupport
import Testing

/// The buffer kernels (WHERE masks, typed GROUP BY) and the parallel fragment
/// scan must give exactly what the general, row-at-a-time evaluator gives.
/// `(cond) = true` and `key + 0` are spellings the kernels do not compile, so
/// each query runs both ways over the same rows.
@Suite struct FastPathTests {
    static func repository() async throws -> Repository {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-fast"))
        var random = SeededRandom(seed: 29)
        var csv = "id,k,x,f,s,b,d\n"
        func maybe(_ text: String) -> String { Int.random(in: 0..<8, using: &random) == 0 ? "" : text }
        for id in 0..<6000 {
            let k = maybe(String(Int.random(in: -3..<12, using: &random) * (id % 500 == 0 ? 1_000_003 : 1)))
            let x = maybe(String(Int.random(in: -50..<50, using: &random)))
            let f = maybe(String(Double(Int.random(in: -1000..<1000, using: &random)) / 8))
            let s = maybe(["apple", "pear", "plum", "fig", ""].randomElement(using: &random)!)
            let b = maybe(Bool.random(using: &random) ? "true" : "false")
            let d = maybe("2024-0\(Int.random(in: 1...9, using: &random))-1\(Int.random(in: 0...9, using: &random))")
            csv += "\(id),\(k),\(x),\(f),\(s),\(b),\(d)\n"
        }
        let file = repo.root.appendingPathComponent("t.csv")
        try Data(csv.utf8).write(to: file)
        var options = ImportOptions()
        options.fragmentRows = 500
        options.schema = "id:int64,k:int32,x:int64,f:float64,s:utf8,b:bool,d:date32"
        try await repo.importData(from: file.path, into: "t", options: options)
        _ = try await repo.execute("DELETE FROM t WHERE id % 7 = 3")
        return repo
    }

    static func rows(_ repo: Repository, _ sql: String) async throws -> [[Value]] {
        let result = try await repo.query(sql)
        return result.batches.flatMap { batch in (0..<batch.length).map { batch.row($0) } }
    }

    @Test func whereKernelsMatchTheGeneralEvaluator() async throws {
        let repo = try await Self.repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let conditions = [
            "x > 10", "x <= -3", "x = 0", "x != 5", "10 < x", "k >= 2 AND f < 0", "k = 3 OR x IS NULL", "NOT (x > 0)",
            "NOT (x > 0 AND f > 0)", "NOT (k = 1 OR s = 'fig')", "f > 2.5", "x < 3.5", "f = 0", "s = 'apple'", "s != 'pear'",
            "s < 'fig'", "s >= 'pear'", "b", "NOT b", "b AND x > 0", "x IS NOT NULL AND f IS NULL", "x IN (1, 2, 3, 40)",
            "x NOT IN (1, 2)", "s IN ('fig', 'plum')", "x BETWEEN -5 AND 5", "x NOT BETWEEN -5 AND 5", "d > '2024-05-01'",
            "d = '2024-03-11'", "k > 1000000", "true", "false", "NOT (NOT (x = 1))",
        ]
        for condition in conditions {
            let fast = try await Self.rows(repo, "SELECT id FROM t WHERE \(condition) ORDER BY id")
            let general = try await Self.rows(repo, "SELECT id FROM t WHERE (\(condition)) = true ORDER BY id")
            #expect(fast == general, "WHERE \(condition): \(fast.count) rows, the general evaluator \(general.count)")
            #expect(!general.isEmpty || ["false", "k > 1000000"].contains(condition) || condition.hasPrefix("d ="),
                    "WHERE \(condition) matched nothing; the data should exercise it")
        }
    }

    @Test func typedAggregationMatchesTheGeneralAccumulators() async throws {
        let repo = try await Self.repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let aggregates = "count(*), count(x), sum(x), avg(x), min(x), max(x), sum(f), avg(f), min(f), max(f), min(d), max(d), count(k)"
        let general = aggregates.replacingOccurrences(of: "(x)", with: "(x + 0)").replacingOccurrences(of: "(f)", with: "(f + 0)")
        for filter in ["", "WHERE x > 0", "WHERE s = 'fig' AND f < 0", "WHERE false"] {
            for key in ["k", "d", nil] as [String?] {
                let group = key.map { " GROUP BY \($0)" } ?? ""
                let order = key.map { " ORDER BY \($0) NULLS FIRST" } ?? ""
                let fastSQL = "SELECT \(key.map { "\($0), " } ?? "")\(aggregates) FROM t \(filter)\(group)\(order)"
                // A key expression the typed path does not take, with the same groups and order.
                let slowKey = key.map { "CAST(\($0) AS int64)" }
                let generalSQL = "SELECT \(slowKey.map { "\($0), " } ?? "")\(general) FROM t \(filter)" + (slowKey.map { " GROUP BY \($0)" } ?? "")
                    + (slowKey.map { " ORDER BY \($0) NULLS FIRST" } ?? "")
                let fast = try await Self.rows(repo, fastSQL), slow = try await Self.rows(repo, generalSQL)
                #expect(fast.count == slow.count, "\(fastSQL)")
                for (a, b) in zip(fast, slow) {
                    // Float sums may add in another order across fragments: equal to a relative 1e-12.
                    let same = zip(a.dropFirst(key == nil ? 0 : 1), b.dropFirst(key == nil ? 0 : 1)).allSatisfy { p, q in
                        if case .float(let u) = p, case .float(let v) = q { return abs(u - v) <= 1e-12 * max(1, abs(u)) }
                        return p == q
                    }
                    #expect(same, "\(fastSQL): \(a) against \(b)")
                }
            }
        }
    }

    @Test func aStreamingQueryStopsAtItsLimitAndKeepsFragmentOrder() async throws {
        let repo = try await Self.repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let all = try await Self.rows(repo, "SELECT id FROM t WHERE x > 0")
        let ids = all.map { if case .int(let v) = $0[0] { return v } else { return -1 } }
        #expect(ids == ids.sorted(), "a parallel scan must keep dataset order")
        let window = try await Self.rows(repo, "SELECT id, x * 2 FROM t WHERE x > 0 LIMIT 30 OFFSET 1200")
        #expect(window.map { $0[0] } == all[1200..<1230].map { $0[0] })
        #expect(window.allSatisfy { row in if case .int(let doubled) = row[1], doubled > 0, doubled % 2 == 0 { return true } else { return false } })
        var batches = 0
        let schema = try await repo.query("SELECT id, s FROM t WHERE b") { _ in batches += 1 }
        #expect(schema.fields.map(\.name) == ["id", "s"])
        #expect(batches > 1, "the result should arrive a fragment at a time, not as one batch")
    }
}
