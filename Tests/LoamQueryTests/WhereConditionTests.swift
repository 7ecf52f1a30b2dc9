import Foundation
import Loam
import LoamFormat
@testable import LoamQuery
import LoamTestSupport
import Testing

/// `--where` (`Repository.delete(from:where:)`, `update(_:set:where:)`) is a SQL condition, parsed and
/// bound by the SQL engine: whatever a WHERE clause accepts, with SQL's NULL semantics.
@Suite struct WhereConditionTests {
    func repository() async throws -> (Repository, URL) {
        let dir = try TestEnvironment.temporaryDirectory("loam-where")
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let csv = "id,i,f,s,b\n0,1,0.5,a,true\n1,,2,b,false\n2,3,,,\n3,-4,-1,c,true\n"
        try await repo.importData(from: try TestEnvironment.write(csv, to: "t.csv", in: dir), into: "t")
        return (repo, dir)
    }

    /// The ids a delete with `condition` would remove, inside a transaction that is never committed.
    func matched(_ repo: Repository, _ condition: String) async throws -> [Int64] {
        let transaction = try await repo.begin()
        return try await Repository.$transaction.withValue(transaction) {
            let before = try await repo.query("SELECT id FROM t ORDER BY id").batches.flatMap { b in (0..<b.length).map { b.columns[0].value(at: $0) } }
            try await repo.delete(from: "t", where: condition)
            let after = Set(try await repo.query("SELECT id FROM t").batches.flatMap { b in (0..<b.length).map { b.columns[0].value(at: $0) } })
            return before.filter { !after.contains($0) }.compactMap { if case .int(let v) = $0 { v } else { nil } }
        }
    }

    @Test func conditionsFollowSQLNullSemanticsAcrossTypes() async throws {
        let (repo, dir) = try await repository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, [Int64])] = [
            ("i = 1", [0]), ("i != 1", [2, 3]),                       // NULL is neither equal nor unequal
            ("i > 0.5", [0, 2]), ("f >= 0.5 AND i IS NOT NULL", [0]), ("f < 1 OR s = 'c'", [0, 3]), ("s > 'a'", [1, 3]),
            ("b = true", [0, 3]), ("NOT i = 1", [2, 3]),              // NOT (NULL = 1) is unknown, not true
            ("NOT (i = 1 AND f = 2)", [0, 2, 3]),                      // row 2: NOT (false AND unknown) = true
            ("i = 1 OR f = 2", [0, 1]), ("i IS NULL OR f IS NULL", [1, 2]), ("i = NULL", []), ("TRUE", [0, 1, 2, 3]),
        ]
        for (condition, expected) in cases {
            #expect(try await matched(repo, condition) == expected, "\(condition)")
        }
        // Nothing was committed by the transactions above.
        #expect(try await repo.dataset("t").rowCount == 4)
    }

    /// Regression: `--where` once had a parser of its own without LIKE, IN or functions.
    @Test func likeInAndFunctionsWorkAsInAWhereClause() async throws {
        let (repo, dir) = try await repository()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try await matched(repo, "s LIKE 'a%' OR s ILIKE 'C'") == [0, 3])
        #expect(try await matched(repo, "id IN (1, 2)") == [1, 2])
        #expect(try await matched(repo, "abs(i) > 2 AND s IS NULL") == [2])
        let updated = try await repo.update("t", set: [("s", "z")], where: "id IN (0, 3) AND s NOT LIKE 'c%'")
        #expect(updated.rows == 1)
        #expect(try await repo.query("SELECT id FROM t WHERE s = 'z'").batches.flatMap { b in (0..<b.length).map { b.columns[0].value(at: $0) } } == [.int(0)])
    }

    @Test func badConditionsNameThePlace() async throws {
        let (repo, dir) = try await repository()
        defer { try? FileManager.default.removeItem(at: dir) }
        await #expect { try await repo.delete(from: "t", where: "id = ") } throws: { error in
            guard let e = error as? SQLError else { return false }
            return e.sql == "id = " && e.position == 5
        }
        await #expect { try await repo.delete(from: "t", where: "(id = 1") } throws: { ($0 as? SQLError)?.message.contains("')'") == true }
        await #expect { try await repo.delete(from: "t", where: "id = 1; DROP TABLE t") } throws: { ($0 as? SQLError)?.message.contains("after the end of the condition") == true }
        await #expect { try await repo.delete(from: "t", where: "idd = 1") } throws: { "\($0)".contains("unknown column 'idd' in dataset 't' (did you mean 'id'?)") }
        await #expect { try await repo.delete(from: "t", where: "i + 1") } throws: { "\($0)".contains("boolean") }
        #expect(try await repo.dataset("t").rowCount == 4)
    }
}
