import Foundation
import Loam
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
        let deleted = try await repo.delete(from: "t", where: try RowFilter.parse("id = 2 OR name = 'f'"))
        #expect(deleted.rows == 2)
        try await snapshot()
        let updated = try await repo.update("t", set: [("name", "Z")], where: try RowFilter.parse("id >= 4 AND id < 7"))
        #expect(updated.rows == 2)
        try await snapshot()
        try await repo.delete(from: "t", where: try RowFilter.parse("id = 5"))
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
        await #expect { try await repo.delete(from: "t", where: try RowFilter.parse("idd = 1")) } throws: { "\($0)".contains("no column 'idd'") }
        #expect(throws: LoamError.self) { _ = try RowFilter.parse("id = ") }
        #expect(throws: LoamError.self) { _ = try RowFilter.parse("(id = 1") }
        #expect(try RowFilter.parse("a = 'it''s' and not b is null") == .and(.compare("a", .eq, .string("it's")), .not(.isNull("b", negated: false))))
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
        try await repo.delete(from: "t", where: try RowFilter.parse("id = 1 OR id = 6"))
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
        let cases: [(String, Bool)] = [
            ("id = 15", true), ("id = 9", false), ("id < 10", false), ("id <= 10", true), ("id > 20", false), ("id >= 20", true),
            ("id != 15", true), ("id = 25 OR id = 12", true), ("id = 25 AND other = 1", false), ("other = 1", true),
            ("s = 'a'", false), ("s = 'c'", true), ("s IS NULL", true), ("id IS NULL", false), ("NOT id = 9", true), ("id = 12.5", true),
        ]
        for (text, expected) in cases {
            #expect(try RowFilter.parse(text).mayMatch(rows: 100, stats) == expected, "\(text)")
        }
    }
}

@Suite struct RowFilterMaskTests {
    @Test func masksFollowSQLNullSemanticsAcrossTypes() throws {
        let columns: [String: ArrowArray] = [
            "i": try .fromValues([.int(1), .null, .int(3), .int(-4)], type: .int32),
            "f": try .fromValues([.float(0.5), .float(2), .null, .float(-1)], type: .float64),
            "s": try .fromValues([.string("a"), .string("b"), .null, .string("c")], type: .utf8),
            "b": try .fromValues([.bool(true), .bool(false), .null, .bool(true)], type: .bool),
        ]
        let all = [0, 1, 2, 3]
        func rows(_ text: String) throws -> [Int] {
            let filter = try RowFilter.parse(text)
            return zip(all, filter.mask(columns, all)).compactMap { $1 ? $0 : nil }
        }
        #expect(try rows("i = 1") == [0])
        #expect(try rows("i != 1") == [2, 3])            // NULL is neither equal nor unequal
        #expect(try rows("i > 0.5") == [0, 2])           // int column, float literal
        #expect(try rows("f >= 0.5 AND i IS NOT NULL") == [0])
        #expect(try rows("f < 1 OR s = 'c'") == [0, 3])
        #expect(try rows("s > 'a'") == [1, 3])
        #expect(try rows("b = true") == [0, 3])
        #expect(try rows("NOT i = 1") == [2, 3])         // NOT (NULL = 1) is unknown, not true
        #expect(try rows("NOT (i = 1 AND f = 2)") == [0, 2, 3])  // row 2: NOT (false AND unknown) = true
        #expect(try rows("i = 1 OR f = 2") == [0, 1])
        #expect(try rows("i IS NULL OR f IS NULL") == [1, 2])
        #expect(try rows("i = NULL") == [])
    }
}

@Suite struct ZoneMapDeletionTests {
    /// Regression: a fragment whose deleted rows were the null ones still holds live non-null rows.
    @Test func nullCountsAreComparedWithPhysicalRows() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.importData(from: try TestEnvironment.write("id,x\n1,\n2,\n3,5\n", to: "a.csv", in: dir), into: "t")
        try await repo.delete(from: "t", where: try RowFilter.parse("id = 1 OR id = 2"))
        let entry = try #require(try await repo.dataset("t").manifest.fragments.first)
        #expect(entry.liveRows == 1 && entry.statistics["2"]?.nullCount == 2)
        let schema = try await repo.dataset("t").manifest.schema
        #expect(try RowFilter.parse("x IS NOT NULL").mayMatch(entry, schema: schema))
        #expect(try await repo.update("t", set: [("x", "6")], where: try RowFilter.parse("x IS NOT NULL")).rows == 1)
    }
}
