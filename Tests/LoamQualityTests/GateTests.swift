import Foundation
import Loam
import LoamFormat
import LoamQuery
@testable import LoamQuality
import LoamTable
import LoamTestSupport
import Testing

/// Gated expectations refuse a breaking write on every path — SQL insert and update, an append, an import,
/// a cleaning step, a merge, a transaction's COMMIT — and leave the repository as it was.
@Suite(.serialized) struct GateTests {
    static let gates = """
        [[expect]]
        kind = "not_null"
        column = "id"
        gate = true
        [[expect]]
        kind = "range"
        column = "score"
        min = 0
        max = 1
        gate = true
        [[expect]]
        kind = "unique"
        column = "id"
        gate = true
        [[expect]]
        kind = "rows"
        max = 1000
        gate = true
        [[expect]]
        kind = "in"
        column = "code"
        values = ["a", "b"]
        """  // the last is not a gate: breaking it is allowed

    static func setup(_ dir: URL) async throws -> Repository {
        QualityGates.install()
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let schema = Schema(fields: [Field(name: "id", type: .int64), Field(name: "score", type: .float64), Field(name: "code", type: .utf8)])
        let rows = 100
        let batch = RecordBatch(schema: schema, columns: [
            try ArrowArray.fromValues((0..<rows).map { .int(Int64($0)) }, type: .int64),
            try ArrowArray.fromValues((0..<rows).map { .float(Double($0) / 100) }, type: .float64),
            try ArrowArray.fromValues((0..<rows).map { .string($0 % 2 == 0 ? "a" : "b") }, type: .utf8),
        ])
        _ = try await repo.createDataset("t", schema: schema, batches: [batch], message: "t")
        try await Checker(repository: repo).setExpectations(gates, of: "t")
        return repo
    }

    /// `write` must fail with the gate's report naming `expected`, and the branch must not move.
    static func refused(_ repo: Repository, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation,
                        _ write: () async throws -> Void) async throws {
        let head = try await repo.resolve("HEAD")
        do {
            try await write()
            Issue.record("the write was accepted", sourceLocation: sourceLocation)
        } catch let error as QualityError {
            #expect(error.description.contains(expected) && error.description.contains("nothing was committed"), "\(error)", sourceLocation: sourceLocation)
        }
        #expect(try await repo.resolve("HEAD") == head, sourceLocation: sourceLocation)
        #expect(try await repo.dataset("t").rowCount == 100, sourceLocation: sourceLocation)
    }

    @Test func everyWritePathIsRefusedWhenItBreaksAGate() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Self.setup(dir)
        try await Self.refused(repo, "not_null(id)") { _ = try await repo.execute("INSERT INTO t (id, score, code) VALUES (NULL, 0.5, 'a')") }
        try await Self.refused(repo, "range(score)") { _ = try await repo.execute("UPDATE t SET score = 3 WHERE id = 7") }
        try await Self.refused(repo, "unique(id)") { _ = try await repo.execute("INSERT INTO t (id, score, code) VALUES (7, 0.5, 'a')") }
        let big = RecordBatch(schema: try await repo.dataset("t").schema, columns: [
            try ArrowArray.fromValues((1000..<2000).map { .int(Int64($0)) }, type: .int64),
            try ArrowArray.fromValues((0..<1000).map { _ in .float(0.5) }, type: .float64),
            try ArrowArray.fromValues((0..<1000).map { _ in .string("a") }, type: .utf8),
        ])
        try await Self.refused(repo, "rows <= 1000 (line 15): found 1100") { _ = try await repo.append(big, to: "t", message: "too many") }
        let csv = try TestEnvironment.write("id,score,code\n500,0.5,a\n501,1.5,b\n", to: "more.csv", in: dir)
        try await Self.refused(repo, "_rowid") { _ = try await repo.importData(from: csv, into: "t") }
        try await Self.refused(repo, "range(score)") { _ = try await repo.clean("t", .normalize(column: "score", .zscore)) }
        try await Self.refused(repo, "not_null(id)") {
            let transaction = try await repo.begin()
            _ = try await Repository.$transaction.withValue(transaction) { try await repo.execute("INSERT INTO t (id, score, code) VALUES (NULL, 0.1, 'a')") }
            _ = try await repo.commit(transaction)
        }
        // A merge brings a breaking branch's rows: refused too.
        _ = try await repo.createBranch("side")
        try await repo.switchBranch("side")
        CommitGates.remove("quality")  // written on the side without gates
        _ = try await repo.execute("UPDATE t SET score = -1 WHERE id = 3")
        QualityGates.install()
        try await repo.switchBranch("main")
        try await Self.refused(repo, "range(score)") { _ = try await repo.merge("side") }

        // Writes that keep every gate land — breaking a non-gated expectation is fine — and the check says so.
        _ = try await repo.execute("INSERT INTO t (id, score, code) VALUES (100, 0.5, 'z')")
        #expect(try await repo.dataset("t").rowCount == 101)
        let report = try await Checker(repository: repo).check("t")
        #expect(report.results.filter(\.gate).allSatisfy(\.passed) && !report.passed)
    }

    /// A unique gate on an append looks only between the new keys' least and greatest (the parent held it), and
    /// still finds a duplicate of an old row or among the new ones.
    @Test func aUniqueGateOnAnAppendFindsDuplicatesOldAndNew() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        QualityGates.install()
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let schema = Schema(fields: [Field(name: "k", type: .utf8)])
        func batch(_ keys: [String]) throws -> RecordBatch {
            RecordBatch(schema: schema, columns: [try ArrowArray.fromValues(keys.map { .string($0) }, type: .utf8)])
        }
        _ = try await repo.createDataset("u", schema: schema, batches: [try batch((0..<100).map { "k\($0)" })], message: "u")
        try await Checker(repository: repo).setExpectations("[[expect]]\nkind = \"unique\"\ncolumn = \"k\"\ngate = true\n", of: "u")
        let head = try await repo.resolve("HEAD")
        for keys in [["k5"], ["zz", "k50", "zz"], ["a", "k99"]] {
            await #expect(throws: QualityError.self, "\(keys)") { _ = try await repo.append(try batch(keys), to: "u", message: "dup") }
        }
        #expect(try await repo.resolve("HEAD") == head)
        _ = try await repo.append(try batch(["k100", "k101", "a"]), to: "u", message: "new keys")
        #expect(try await repo.dataset("u").rowCount == 103)
    }

    /// The key index never changes a unique gate's answer: for each append, the gate accepts it exactly when SQL
    /// finds no repeated key among the same rows (another dataset, no gate, no index) — over two columns, with −0 and 0, NaNs,
    /// NULL keys, a duplicate among the new rows, random keys over several fragments, and a deleted key re-added.
    @Test func theKeyIndexAgreesWithAFullCheckOnEveryAppend() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        QualityGates.install()
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let schema = Schema(fields: [Field(name: "a", type: .float64), Field(name: "b", type: .utf8)])
        func batch(_ rows: [(Value, Value)]) throws -> RecordBatch {
            RecordBatch(schema: schema, columns: [try ArrowArray.fromValues(rows.map(\.0), type: .float64),
                                                  try ArrowArray.fromValues(rows.map(\.1), type: .utf8)])
        }
        var rng = SeededRandom(seed: 18)
        func random(_ n: Int) -> [(Value, Value)] { (0..<n).map { _ in (.float(Double(rng.next() % 1_000_000) / 8), .string("r\(rng.next() % 1000)")) } }
        var rows: [(Value, Value)] = [(.float(1.5), .string("x")), (.float(-0.0), .string("y")), (.float(.nan), .string("z")),
                                      (.null, .string("x")), (.float(2), .null), (.float(3.25), .string("del"))] + random(200)
        _ = try await repo.createDataset("w", schema: schema, batches: [try batch(Array(rows[0..<100]))], message: "w")
        _ = try await repo.append(try batch(Array(rows[100...])), to: "w", message: "more")
        let unique = "[[expect]]\nkind = \"unique\"\ncolumns = [\"a\", \"b\"]\n"
        try await Checker(repository: repo).setExpectations(unique + "gate = true\n", of: "w")
        try await repo.execute("DELETE FROM w WHERE b = 'del'")
        rows.remove(at: 5)
        let candidates: [[(Value, Value)]] = [
            [(.float(0), .string("y"))], [(.float(.nan), .string("z"))], [(.null, .string("x"))], [(.float(2), .null)],
            [(.float(1.5), .string("x"))], [(.float(1.5), .string("X"))], [(.float(7), .string("q")), (.float(7), .string("q"))],
            random(50), [rows[150]], [(.float(3.25), .string("del"))], [(.float(-0.0), .string("y2")), (.float(0), .string("y2"))],
        ]
        for (i, candidate) in candidates.enumerated() {
            let twin = "twin\(i)"
            _ = try await repo.createDataset(twin, schema: schema, batches: [try batch(rows + candidate)], message: twin)
            let groups = try await repo.query("SELECT count(*) FROM (SELECT a, b FROM \(twin) WHERE a IS NOT NULL AND b IS NOT NULL GROUP BY a, b HAVING count(*) > 1) d")
            let expected = groups.batches.first { $0.length > 0 }?.columns[0].value(at: 0) == .int(0)
            let accepted: Bool
            do {
                _ = try await repo.append(try batch(candidate), to: "w", message: "candidate \(i)")
                accepted = true
                rows += candidate
            } catch is QualityError {
                accepted = false
            }
            #expect(accepted == expected, "candidate \(i): the gate \(accepted ? "accepted" : "refused") what a full check \(expected ? "passes" : "fails")")
        }
        #expect(try await Checker(repository: repo).check("w").passed)
        // The gates kept an index for each of w's fragments as it stood.
        let kept = try await repo.meta.indexedPaths(under: "quality/keys/")
        #expect(kept.count >= (try await repo.dataset("w").manifest.fragments.count))
    }

    /// A full check of `unique` merges every fragment's key index and reads only the fragments that share a hash:
    /// its count and sample of breaking rows equal SQL's over every row — duplicates within a fragment, across two,
    /// a key three times across three — and a delete that leaves one of each clears it.
    @Test func aFullUniqueCheckThroughTheKeyIndexEqualsSQL() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let schema = Schema(fields: [Field(name: "k", type: .int64)])
        var rng = SeededRandom(seed: 7)
        var parts: [[Int64]] = []
        for p in 0..<5 {
            var keys: [Int64] = []
            for i in 0..<300 { keys.append(Int64(p * 1_000_000 + i * 3) + Int64(rng.next() % 3)) }
            parts.append(keys)
        }
        parts[1][10] = parts[4][20]        // across two fragments
        parts[2][5] = parts[2][6]          // within one
        parts[0][1] = 77; parts[2][9] = 77; parts[3][2] = 77  // three times across three
        func batch(_ keys: [Int64]) throws -> RecordBatch { RecordBatch(schema: schema, columns: [try ArrowArray.fromValues(keys.map { .int($0) }, type: .int64)]) }
        _ = try await repo.createDataset("u", schema: schema, batches: [try batch(parts[0])], message: "u")
        for part in parts.dropFirst() { _ = try await repo.append(try batch(part), to: "u", message: "part") }
        try await Checker(repository: repo).setExpectations("[[expect]]\nkind = \"unique\"\ncolumn = \"k\"\n", of: "u")
        func sql() async throws -> (Int, [UInt64]) {
            let count = try await repo.query("SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM u GROUP BY k HAVING count(*) > 1) d")
            let ids = try await repo.query("SELECT _rowid FROM u QUALIFY count(*) OVER (PARTITION BY k) > 1 ORDER BY _rowid LIMIT 10")
            guard case .int(let n) = count.batches.first(where: { $0.length > 0 })!.columns[0].value(at: 0) else { return (-1, []) }
            return (Int(n), ids.batches.flatMap { b in (0..<b.length).compactMap { i -> UInt64? in if case .uint(let id) = b.columns[0].value(at: i) { id } else { nil } } })
        }
        let (failing, sample) = try await sql()
        #expect(failing == 7)
        let result = try #require(try await Checker(repository: repo).check("u").results.first)
        #expect(result.failing == failing && result.sampleRowIDs == sample && !result.passed)
        #expect(try await repo.meta.indexedPaths(under: "quality/keys/").count == 5)
        try await repo.execute("DELETE FROM u WHERE k IN (\(parts[4][20]), \(parts[2][6]), 77)")
        let after = try #require(try await Checker(repository: repo).check("u").results.first)
        #expect(after.passed && after.failing == 0)
        #expect(try await sql().0 == 0)
    }

    /// A gated mean on an append merges the parent's kept sketches with the new rows' sketch of that column alone,
    /// and keeps nothing: an append that pulls the mean out of bounds is refused, one that keeps it is accepted.
    @Test func aMeanGateOnAnAppendSketchesOnlyItsColumnAndKeepsNothing() async throws {
        let repo = try await Self.setup(try TestEnvironment.temporaryDirectory())
        defer { try? FileManager.default.removeItem(at: repo.root.deletingLastPathComponent()) }
        try await Checker(repository: repo).setExpectations("[[expect]]\nkind = \"mean\"\ncolumn = \"score\"\nmin = 0.4\nmax = 0.6\ngate = true\n", of: "t")
        _ = try await Profiler(repository: repo).profile("t")  // the parent's sketches, kept
        let kept = try await repo.meta.indexedPaths(under: "quality/").count
        func rows(_ score: Double, from: Int) throws -> RecordBatch {
            let schema = Schema(fields: [Field(name: "id", type: .int64), Field(name: "score", type: .float64), Field(name: "code", type: .utf8)])
            return RecordBatch(schema: schema, columns: [
                try ArrowArray.fromValues((from..<(from + 100)).map { .int(Int64($0)) }, type: .int64),
                try ArrowArray.fromValues(Array(repeating: .float(score), count: 100), type: .float64),
                try ArrowArray.fromValues(Array(repeating: .string("a"), count: 100), type: .utf8)])
        }
        // 100 rows of mean 0.495, then 100 of 0: a mean of 0.2475.
        try await Self.refused(repo, "mean(score)") { _ = try await repo.append(try rows(0, from: 100), to: "t", message: "zeros") }
        _ = try await repo.append(try rows(0.5, from: 100), to: "t", message: "halves")
        #expect(try await repo.meta.indexedPaths(under: "quality/").count == kept)
        let mean = try #require(try await Profiler(repository: repo).profile("t").columns.first { $0.name == "score" }?.profile.values?.mean)
        #expect(abs(mean - (0.495 * 100 + 0.5 * 100) / 200) < 1e-12)
    }

    /// A gated foreign key guards the referenced dataset too: deleting or renaming the keys it points at is
    /// refused, whichever dataset the write touched; appending keys, or deleting unreferenced ones, is not.
    @Test func aForeignKeyGateRefusesWritesToTheDatasetItReferences() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Self.setup(dir)
        let schema = Schema(fields: [Field(name: "order", type: .int64), Field(name: "user", type: .int64)])
        let orders = RecordBatch(schema: schema, columns: [
            try ArrowArray.fromValues((0..<20).map { .int(Int64($0)) }, type: .int64),
            try ArrowArray.fromValues((0..<20).map { .int(Int64($0 % 10)) }, type: .int64),  // users 0…9 of t's 0…99
        ])
        _ = try await repo.createDataset("orders", schema: schema, batches: [orders], message: "orders")
        try await Checker(repository: repo).setExpectations("""
            [[expect]]
            kind = "foreign_key"
            column = "user"
            references = "t.id"
            gate = true
            """, of: "orders")
        try await Self.refused(repo, "orders: foreign_key(user)") { _ = try await repo.execute("DELETE FROM t WHERE id = 3") }
        try await Self.refused(repo, "orders: foreign_key(user)") { _ = try await repo.execute("UPDATE t SET id = id + 1000 WHERE id < 5") }
        try await Self.refused(repo, "t has no column id (columns: key, score, code): 20 rows") { _ = try await repo.execute("ALTER TABLE t RENAME COLUMN id TO key") }
        // Keys nothing references may go; new keys may come.
        _ = try await repo.execute("DELETE FROM t WHERE id = 50")
        _ = try await repo.execute("INSERT INTO t (id, score, code) VALUES (500, 0.5, 'a')")
        #expect(try await repo.dataset("t").rowCount == 100)
        #expect(try await Checker(repository: repo).check("orders").passed)
    }

    /// The gate's check of an append looks at the new fragments only, through row-id pruning: a row-id range
    /// outside every fragment reads none of them.
    @Test func rowIDBoundsPruneFragmentsForTheGatesIncrementalCheck() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Self.setup(dir)
        let commit = try await repo.resolve("HEAD")
        let manifest = try await repo.dataset("t").manifest
        let plan = try await repo.query("EXPLAIN SELECT count(*) FROM t WHERE _rowid BETWEEN \(manifest.fragments[0].maxRowID + 1) AND \(manifest.fragments[0].maxRowID + 10)")
        let text = plan.batches.flatMap { b in (0..<b.length).map { b.columns[0].string(at: $0) } }.joined(separator: "\n")
        #expect(text.contains("fragments 0 of 1"), "\(text)")
        _ = try await repo.execute("INSERT INTO t (id, score, code) VALUES (200, 0.2, 'a')")
        #expect(try await repo.resolve("HEAD") != commit)
    }
}
