import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamTestSupport
import Testing

@Suite struct TransactionTests {
    func repository() async throws -> Repository {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-tx"))
        let file = repo.root.appendingPathComponent("t.csv")
        try Data("id,name\n1,a\n2,b\n3,c\n".utf8).write(to: file)
        try await repo.importData(from: file.path, into: "t")
        return repo
    }

    func ids(_ session: SQLSession) async throws -> [Value] {
        try await session.execute("SELECT id FROM t ORDER BY id").query!.batches.flatMap { $0.columns[0].values }
    }

    @Test func writesBetweenBeginAndCommitLandAsOneCommit() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let before = try await repo.log().count
        let session = SQLSession(repository: repo)
        _ = try await session.execute("BEGIN;")
        _ = try await session.execute("DELETE FROM t WHERE id = 1")
        _ = try await session.execute("INSERT INTO t VALUES (9, 'z')")
        _ = try await session.execute("ALTER TABLE t ADD COLUMN note string")
        _ = try await session.execute("UPDATE t SET note = 'new' WHERE id = 9")
        // Reads inside see the pending writes; others see nothing yet.
        #expect(try await ids(session) == [.int(2), .int(3), .int(9)])
        let outside = try await repo.dataset("t")
        #expect(outside.rowCount == 3 && outside.schema.fields.count == 2)
        #expect(try await repo.log().count == before)
        let done = try await session.execute("COMMIT")
        #expect(done.commit != nil)
        #expect(try await repo.log().count == before + 1)
        let message = try await repo.log(limit: 1)[0].commit.message
        #expect(message == "DELETE FROM t WHERE id = 1\nINSERT INTO t VALUES (9, 'z')\nALTER TABLE t ADD COLUMN note string\nUPDATE t SET note = 'new' WHERE id = 9")
        #expect(try await session.execute("SELECT note FROM t WHERE id = 9").query!.batches[0].columns[0].values == [.string("new")])
    }

    @Test func rollbackLeavesTheBranchAndAConcurrentWriteIsRebasedNotLost() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let head = try await repo.resolve("HEAD")
        let session = SQLSession(repository: repo)
        _ = try await session.execute("BEGIN")
        _ = try await session.execute("DELETE FROM t")
        _ = try await session.execute("ROLLBACK")
        #expect(try await repo.resolve("HEAD") == head)
        #expect(try await ids(session).count == 3)

        _ = try await session.execute("BEGIN")
        _ = try await session.execute("UPDATE t SET name = 'mine' WHERE id = 1")
        // Another writer lands meanwhile, on another row.
        _ = try await Repository.open(at: repo.root).execute("UPDATE t SET name = 'theirs' WHERE id = 3")
        _ = try await session.execute("COMMIT")
        let names = try await session.execute("SELECT name FROM t ORDER BY id").query!.batches.flatMap { $0.columns[0].values }
        #expect(names == [.string("mine"), .string("b"), .string("theirs")])

        await #expect(throws: SQLError.self) { _ = try await session.execute("COMMIT") }
        _ = try await session.execute("BEGIN")
        await #expect(throws: SQLError.self) { _ = try await session.execute("BEGIN") }
        #expect(try await session.execute("COMMIT").commit == nil, "an empty transaction committed something")
    }
}

@Suite struct TopKTests {
    /// Enough rows that the scan trims its candidates many times; the answer must equal a full sort's.
    @Test func orderByLimitOverManyRowsMatchesAFullSort() async throws {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-topk"))
        defer { try? FileManager.default.removeItem(at: repo.root) }
        var random = SeededRandom(seed: 11)
        var values: [(Int, Int?)] = []
        var csv = "id,x\n"
        for id in 0..<5000 {
            let x: Int? = Int.random(in: 0..<10, using: &random) == 0 ? nil : Int.random(in: 0..<2000, using: &random)
            values.append((id, x))
            csv += "\(id),\(x.map(String.init) ?? "")\n"
        }
        let file = repo.root.appendingPathComponent("t.csv")
        try Data(csv.utf8).write(to: file)
        var options = ImportOptions()
        options.fragmentRows = 700
        try await repo.importData(from: file.path, into: "t", options: options)
        let expected = values.sorted { a, b in
            switch (a.1, b.1) {
            case (nil, nil): return a.0 < b.0
            case (nil, _): return false            // NULLS LAST ascending
            case (_, nil): return true
            case (let x?, let y?): return x != y ? x < y : a.0 < b.0
            }
        }.dropFirst(5).prefix(20).map { Value.int(Int64($0.0)) }
        let result = try await repo.query("SELECT id FROM t ORDER BY x, id LIMIT 20 OFFSET 5")
        #expect(result.batches.flatMap { $0.columns[0].values } == Array(expected))
    }
}
