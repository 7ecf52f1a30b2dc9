import Foundation
import Loam
import LoamQuery
import LoamTable
import LoamFormat
import LoamTestSupport
import Testing

@Suite struct TimeTravelTests {
    @Test func everyEarlierCommitReadsExactlyWhatItHeld() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = ImportOptions()
        options.fragmentRows = 3
        var snapshots: [(ref: String, rows: [[Value]])] = []
        func snapshot() async throws { snapshots.append((try await repo.resolve("HEAD").hex, try await rows(repo, "t", rowid: true))) }

        try await repo.importData(from: try TestEnvironment.write("id,name\n1,a\n2,b\n3,c\n4,d\n5,e\n", to: "a.csv", in: dir), into: "t", options: options)
        try await snapshot()
        try await repo.importData(from: try TestEnvironment.write("id,name\n6,f\n7,g\n", to: "b.csv", in: dir), into: "t", options: options)
        try await snapshot()
        let deleted = try await repo.delete(from: "t", where: "id = 2 OR name = 'f'")
        #expect(deleted.rows == 2)
        try await snapshot()
        let updated = try await repo.update("t", set: [("name", "Z")], where: "id >= 4 AND id < 7")
        #expect(updated.rows == 2)
        try await snapshot()
        try await repo.delete(from: "t", where: "id = 5")
        try await snapshot()

        #expect(snapshots[0].rows.map { $0[1] } == [1, 2, 3, 4, 5].map { Value.int($0) })
        #expect(snapshots[1].rows.count == 7)
        #expect(snapshots[2].rows.map { $0[1] } == [1, 3, 4, 5, 7].map { Value.int($0) })
        // Updated rows keep their _rowid.
        let before = Dictionary(uniqueKeysWithValues: snapshots[2].rows.map { ($0[0], $0) })
        let after = Dictionary(uniqueKeysWithValues: snapshots[3].rows.map { ($0[0], $0) })
        #expect(Set(before.keys) == Set(after.keys))
        #expect(after.values.filter { $0[2] == .string("Z") }.map { $0[1] }.sorted() == [.int(4), .int(5)])
        #expect(snapshots[4].rows.count == 4)

        for (back, expected) in snapshots.reversed().enumerated() {
            #expect(try await rows(repo, "t", at: "HEAD~\(back)", rowid: true) == expected.rows, "HEAD~\(back)")
            #expect(try await rows(repo, "t", at: expected.ref, rowid: true) == expected.rows)
            #expect(try await rows(repo, "t", at: String(expected.ref.prefix(7)), rowid: true) == expected.rows)
        }
        try await repo.tag("v1", at: "HEAD~4")
        #expect(try await rows(repo, "t", at: "v1", rowid: true) == snapshots[0].rows)
        #expect(try await repo.dataset("t", at: "v1").rowCount == 5)
        await #expect(throws: Error.self) { _ = try await repo.dataset("t", at: "HEAD~6") }
        let changes = try await repo.changes(in: try await repo.resolve("HEAD~2"))
        #expect(changes == [DatasetChange(dataset: "t", kind: .modified, rowsBefore: 7, rowsAfter: 5)])
    }

    @Test func schemaEvolutionRewritesNoFragment() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.importData(from: try TestEnvironment.write("id,name,junk\n1,a,x\n2,b,y\n", to: "a.csv", in: dir), into: "t")
        let fragments = try await repo.dataset("t").manifest.fragments
        try await repo.alter("t", .add(name: "score", type: .float64))
        try await repo.alter("t", .rename(from: "name", to: "label"))
        try await repo.alter("t", .drop("junk"))
        #expect(try await repo.dataset("t").manifest.fragments == fragments)
        #expect(try await repo.dataset("t").schema.fields.map(\.name) == ["id", "label", "score"])
        #expect(try await rows(repo, "t") == [[.int(1), .string("a"), .null], [.int(2), .string("b"), .null]])
        // New rows fill the new column; old commits keep the old schema.
        try await repo.importData(from: try TestEnvironment.write("id,label,score\n3,c,0.5\n", to: "b.csv", in: dir), into: "t")
        #expect(try await rows(repo, "t").last == [.int(3), .string("c"), .float(0.5)])
        #expect(try await repo.dataset("t", at: "HEAD~4").schema.fields.map(\.name) == ["id", "name", "junk"])
        #expect(try await rows(repo, "t", at: "HEAD~4") == [[.int(1), .string("a"), .string("x")], [.int(2), .string("b"), .string("y")]])
        // A renamed-away name is free again, a taken one is not.
        try await repo.alter("t", .add(name: "name", type: .utf8))
        await #expect(throws: Error.self) { try await repo.alter("t", .rename(from: "id", to: "label")) }
        await #expect(throws: Error.self) { try await repo.alter("t", .drop("nope")) }
        try await repo.dropDataset("t")
        #expect(try await repo.datasets().isEmpty)
        #expect(try await repo.datasets(at: "HEAD~1") == ["t"])
    }

    @Test func unknownNamesAreExplained() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.importData(from: try TestEnvironment.write("id\n1\n", to: "a.csv", in: dir), into: "t")
        await #expect { _ = try await repo.dataset("nope") } throws: { "\($0)".contains("unknown dataset 'nope'") && "\($0)".contains("datasets here: t") }
        await #expect { _ = try await repo.dataset("t", at: "nosuchref") } throws: { "\($0)".contains("unknown ref 'nosuchref'") }
        await #expect { try await repo.delete(from: "t", where: "idd = 1") } throws: { "\($0)".contains("unknown column 'idd' in dataset 't' (did you mean 'id'?)") }
    }
}

@Suite struct RandomAccessTests {
    @Test func takeReturnsRowsByPositionAcrossFragmentsAndDeletions() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = ImportOptions()
        options.fragmentRows = 4
        let csv = "id,v\n" + (0..<10).map { "\($0),\"[\($0), \($0 + 1)]\"\n" }.joined()
        options.schema = "v:fixed_size_list<float32, 2>"
        try await repo.importData(from: try TestEnvironment.write(csv, to: "a.csv", in: dir), into: "t", options: options)
        try await repo.delete(from: "t", where: "id = 1 OR id = 6")
        let ds = try await repo.dataset("t")
        let all = try await rows(repo, "t")
        let positions = [7, 0, 3, 3, 5, 1]
        let batch = try await ds.take(positions)
        #expect((0..<batch.length).map { batch.row($0) } == positions.map { all[$0] })
        #expect(try await ds.take([2], columns: ["v"]).row(0) == [.list([.float(3), .float(4)])])
        await #expect(throws: Error.self) { _ = try await ds.take([8]) }
    }
}

@Suite struct ZoneMapTests {
    @Test func statisticsRuleOutFragmentsOnlyWhenNoRowCanMatch() throws {
        let stats: (String) -> (min: Value?, max: Value?, nullCount: Int)? = { name in
            name == "id" ? (.int(10), .int(20), 0) : name == "s" ? (.string("b"), .string("d"), 2) : nil
        }
        func id(_ op: PruningPredicate.Op, _ n: Value) -> PruningPredicate { .compare("id", op, n) }
        let cases: [(String, PruningPredicate, Bool)] = [
            ("id = 15", id(.eq, .int(15)), true), ("id = 9", id(.eq, .int(9)), false), ("id < 10", id(.lt, .int(10)), false),
            ("id <= 10", id(.le, .int(10)), true), ("id > 20", id(.gt, .int(20)), false), ("id >= 20", id(.ge, .int(20)), true),
            ("id != 15", id(.ne, .int(15)), true), ("id = 25 OR id = 12", .or(id(.eq, .int(25)), id(.eq, .int(12))), true),
            ("id = 25 AND other = 1", .and(id(.eq, .int(25)), .compare("other", .eq, .int(1))), false),
            ("other = 1", .compare("other", .eq, .int(1)), true), ("s = 'a'", .compare("s", .eq, .string("a")), false),
            ("s = 'c'", .compare("s", .eq, .string("c")), true), ("s IS NULL", .isNull("s", negated: false), true),
            ("id IS NULL", .isNull("id", negated: false), false), ("NOT id = 9", .not(id(.eq, .int(9))), true),
            ("id = 12.5", id(.eq, .float(12.5)), true),
        ]
        for (text, predicate, expected) in cases {
            #expect(predicate.mayMatch(rows: 100, stats) == expected, "\(text)")
        }
    }
}

@Suite struct ZoneMapDeletionTests {
    /// Regression: a fragment whose deleted rows were the null ones still holds live non-null rows.
    @Test func nullCountsAreComparedWithPhysicalRows() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.importData(from: try TestEnvironment.write("id,x\n1,\n2,\n3,5\n", to: "a.csv", in: dir), into: "t")
        try await repo.delete(from: "t", where: "id = 1 OR id = 2")
        let entry = try #require(try await repo.dataset("t").manifest.fragments.first)
        #expect(entry.liveRows == 1 && entry.statistics["2"]?.nullCount == 2)
        let schema = try await repo.dataset("t").manifest.schema
        #expect(PruningPredicate.isNull("x", negated: true).mayMatch(entry, schema: schema))
        #expect(try await repo.update("t", set: [("x", "6")], where: "x IS NOT NULL").rows == 1)
    }
}
