import Foundation
import Loam
import LoamFormat
@testable import LoamQuery
import LoamStorage
import LoamTestSupport
import Testing

/// EXPLAIN plans without running: with every fragment of the data gone from the object store,
/// the plan of a query with WITH, a join, an IN subquery, a sample and UNION ALL still prints
/// (only manifests are read), while running the same query fails on the missing data.
@Suite struct ExplainTests {
    @Test func explainReadsNoFragmentEvenForJoinsSubqueriesAndSamples() async throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-explain")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        try await repo.importData(from: try TestEnvironment.write("id,label,score\n1,1,0.5\n2,2,0.7\n3,1,0.1\n", to: "t.csv", in: dir), into: "t")
        try await repo.importData(from: try TestEnvironment.write("label,name\n1,one\n2,two\n", to: "l.csv", in: dir), into: "labels")
        let sql = """
            WITH hi AS (SELECT id, label FROM t WHERE score > 0.3)
            SELECT h.id, l.name FROM hi h JOIN labels l USING (label) WHERE h.id IN (SELECT id FROM t USING SAMPLE 2 ROWS REPEATABLE (1))
            UNION ALL SELECT id, 'x' FROM (SELECT id FROM t) s ORDER BY 1 LIMIT 5
            """
        #expect(try await repo.query(sql).rowCount > 0)  // it runs while the data is there

        // Every fragment object of both datasets is removed.
        for name in ["t", "labels"] {
            for entry in try await repo.dataset(name).manifest.fragments { try FileManager.default.removeItem(at: try #require(repo.objects.file(entry.object))) }
        }
        await #expect { try await repo.query(sql) } throws: { "\($0)".contains("missing") }

        let plan = try await repo.query("EXPLAIN " + sql)
        let lines = plan.batches.flatMap { b in (0..<b.length).compactMap { if case .string(let s) = b.columns[0].value(at: $0) { s } else { nil } } }
        let text = lines.joined(separator: "\n")
        #expect(lines.first == "With hi (run once, held in memory)")
        #expect(lines.contains("Limit 5 offset 0") && lines.contains("  Sort by 1") && lines.contains("    Union all of 2 parts, in order"))
        #expect(text.contains("HashJoin (columnar: the right side hashed once, the left probing in parallel) inner on (h.label = l.label)"))
        #expect(text.contains("Scan hi (WITH, run once above) columns [id, label]"))
        #expect(text.contains("Subquery (IN) at character"))
        #expect(text.contains("Sample 2 rows (reservoir, seed 1)"))
        #expect(text.contains("Scan s (built first, in memory) columns [id]"))
        // Streaming EXPLAIN (the CLI's --format paths) prints the same plan.
        var streamed: [String] = []
        try await repo.query("EXPLAIN " + sql) { batch in
            streamed += (0..<batch.length).compactMap { if case .string(let s) = batch.columns[0].value(at: $0) { s } else { nil } }
        }
        #expect(streamed == lines)
    }

    @Test func aStatementIsParsedOnceAndItsKindDecidesTheRole() async throws {
        #expect(try SQLStatement("EXPLAIN SELECT 1 FROM t").isQuery)
        #expect(try SQLStatement("WITH a AS (SELECT 1 FROM t) SELECT * FROM a").isQuery)
        #expect(try !SQLStatement("DELETE FROM t WHERE id = 1").isQuery)
        #expect(throws: SQLError.self) { try SQLStatement("SELEC 1") }
    }
}
