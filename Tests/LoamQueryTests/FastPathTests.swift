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
        let aggregates = "count(*), count(x), sum(x), avg(x), min(x), max(x), sum(f), avg(f), min(f), max(f), min(d), max(d), count(k), count(s)"
        let general = aggregates.replacingOccurrences(of: "(x)", with: "(x + 0)").replacingOccurrences(of: "(f)", with: "(f + 0)")
            .replacingOccurrences(of: "count(s)", with: "count(s || '')")
        for filter in ["", "WHERE x > 0", "WHERE s = 'fig' AND f < 0", "WHERE false"] {
            for key in ["k", "d", "s", nil] as [String?] {
                let group = key.map { " GROUP BY \($0)" } ?? ""
                let order = key.map { " ORDER BY \($0) NULLS FIRST" } ?? ""
                let fastSQL = "SELECT \(key.map { "\($0), " } ?? "")\(aggregates) FROM t \(filter)\(group)\(order)"
                // A key expression the typed path does not take, with the same groups and order.
                let slowKey = key.map { $0 == "s" ? "CAST(s AS utf8)" : "CAST(\($0) AS int64)" }
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

    /// Nearest neighbours from the float buffers must be the rows a full sort puts first, for each distance and direction.
    @Test func vectorTopKMatchesAFullSort() async throws {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-knn"))
        defer { try? FileManager.default.removeItem(at: repo.root) }
        var random = SeededRandom(seed: 5)
        var csv = "id,emb,g\n"
        for id in 0..<3000 {
            let vector = (0..<20).map { _ in String(Double(Int.random(in: -100...100, using: &random)) / 16) }
            // Some NULL vectors, some zero vectors (cosine distance NULL) and some exact duplicates of row 7.
            let emb = id % 97 == 0 ? "" : id % 89 == 0 ? "\"[\(Array(repeating: "0", count: 20).joined(separator: ","))]\"" : "\"[\(vector.joined(separator: ","))]\""
            csv += "\(id),\(emb),\(id % 3)\n"
        }
        let file = repo.root.appendingPathComponent("v.csv")
        try Data(csv.utf8).write(to: file)
        var options = ImportOptions()
        options.fragmentRows = 256
        options.schema = "emb:fixed_size_list<float32, 20>"
        try await repo.importData(from: file.path, into: "v", options: options)
        let query = "[" + (0..<20).map { String(Double($0 % 7) - 3) }.joined(separator: ", ") + "]"
        for function in ["cosine_distance", "l2_distance", "dot"] {
            // About 60 rows have a NULL distance: DESC puts them first, so LIMIT 75 reaches past them.
            for (order, limit) in [("", 10), (" DESC NULLS LAST", 7), (" DESC", 75), (" NULLS FIRST", 70), ("", 1)] {
                for filter in ["", "WHERE g = 1"] {
                    let fast = try await Self.rows(repo, "SELECT id, \(function)(emb, \(query)) AS d FROM v \(filter) ORDER BY \(function)(emb, \(query))\(order) LIMIT \(limit)")
                    let full = try await Self.rows(repo, "SELECT id, \(function)(emb, \(query)) AS d FROM v \(filter) ORDER BY \(function)(emb, \(query))\(order)")
                    // Distances, not ids: rows that tie (the duplicates, the NULLs) may come in either order.
                    #expect(fast.map { $0[1] } == full.prefix(limit).map { $0[1] }, "\(function)\(order) \(filter) LIMIT \(limit)")
                }
            }
        }
        // Ties in distance may come in any order; the ids of a tie-free query must match too.
        let best = try await Self.rows(repo, "SELECT id FROM v ORDER BY cosine_distance(emb, \(query)) LIMIT 5")
        let sorted = try await Self.rows(repo, "SELECT id FROM v ORDER BY cosine_distance(emb, \(query)) + 0 LIMIT 5")
        #expect(best == sorted)
    }

    /// The columnar hash join (ON equalities only) must give the rows the row-at-a-time join gives
    /// (`AND true` makes a residual condition, which takes the row path).
    @Test func hashJoinMatchesTheRowJoin() async throws {
        let repo = try await Self.repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        // Keys 2 and 5 twice (fan-out), 7 once, a NULL key, and keys the big side lacks.
        let dimension = repo.root.appendingPathComponent("d.csv")
        try Data("k,name,s\n2,two,apple\n2,deux,pear\n5,five,fig\n5,cinq,\n7,seven,plum\n,nothing,apple\n99,none,kiwi\n".utf8).write(to: dimension)
        try await repo.importData(from: dimension.path, into: "d", options: ImportOptions(schema: "k:int32"))
        for (join, on) in [("JOIN", "t.k = d.k"), ("LEFT JOIN", "t.k = d.k"), ("JOIN", "d.s = t.s"), ("LEFT JOIN", "t.s = d.s AND t.k = d.k"),
                           ("JOIN", "t.x = d.k"), ("LEFT JOIN", "t.f = d.k")] {
            let select = "SELECT t.id, d.name, t.x FROM t \(join) d ON "
            let order = " ORDER BY t.id, d.name"
            // The WHERE conjunct on t alone is applied before the hash join; the row join filters after.
            let filter = " WHERE t.x > -20 AND t.f IS NOT NULL AND (d.name IS NULL OR d.name != 'cinq')"
            let fast = try await Self.rows(repo, select + on + filter + order)
            let rows = try await Self.rows(repo, select + "(\(on)) AND true" + filter + order)
            let same = fast == rows
            #expect(same, "\(join) ON \(on): \(fast.count) rows, the row join \(rows.count)")
            #expect(!fast.isEmpty)
        }
        let using = try await Self.rows(repo, "SELECT k, count(*), sum(x) FROM t JOIN d USING (k) GROUP BY k ORDER BY k")
        let row = try await Self.rows(repo, "SELECT t.k, count(*), sum(x) FROM t JOIN d ON t.k = d.k AND true GROUP BY t.k ORDER BY t.k")
        let same = using == row
        #expect(same && using.count == 3, "USING: \(using.count) groups")
    }

    /// Text keys of every length around the 4-, 8- and 16-byte loads, sharing prefixes and suffixes, group as the row path groups them.
    @Test func textKeysOfEveryLengthGroupApart() async throws {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-text-keys"))
        defer { try? FileManager.default.removeItem(at: repo.root) }
        var keys: [String] = []
        for length in 1...40 {
            keys.append(String(repeating: "a", count: length))
            keys.append(String(repeating: "a", count: length - 1) + "b")
            keys.append("b" + String(repeating: "a", count: length - 1))
            keys.append(String((0..<length).map { Character(UnicodeScalar(UInt8(97 + ($0 * 7) % 26))) }))
        }
        var seen = Set<String>()
        keys = keys.filter { seen.insert($0).inserted }
        var csv = "k,v\n"
        for (i, key) in (keys + keys.reversed() + keys).enumerated() { csv += "\(key),\(i)\n" }
        let file = repo.root.appendingPathComponent("k.csv")
        try Data(csv.utf8).write(to: file)
        var options = ImportOptions()
        options.fragmentRows = 97
        try await repo.importData(from: file.path, into: "k", options: options)
        let fast = try await Self.rows(repo, "SELECT k, count(*), sum(v) FROM k GROUP BY k ORDER BY k")
        let slow = try await Self.rows(repo, "SELECT CAST(k AS utf8), count(*), sum(v) FROM k GROUP BY CAST(k AS utf8) ORDER BY 1")
        let same = fast == slow
        #expect(same && fast.count == keys.count, "\(fast.count) groups, the row path \(slow.count), distinct keys \(keys.count)")
        #expect(fast.allSatisfy { $0[1] == .int(3) })
    }
}
