import Foundation
@testable import LoamGovernance
import Loam
import LoamFormat
import LoamQuery
import LoamStorage
import LoamTable
import LoamTestSupport
import Testing

/// Erasure through the library, on real repositories: deletion vectors of other rows survive the rewrite,
/// statistics forget the erased values, values other rows hold stay, a second erasure over the same
/// fragments chains through the replacement map, and every commit keeps its id and reads as before.
@Suite struct ErasureTests {
    /// 40 people in fragments of 8 rows; person 3 has the smallest email (so it is a fragment's min) and is
    /// updated; other rows of its fragment are deleted in a later version.
    static func repository() async throws -> Repository {
        let dir = try TestEnvironment.temporaryDirectory("erase")
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let csv = dir.appendingPathComponent("people.csv")
        var text = "id,email,city\n"
        for i in 0..<40 { text += "\(i),\(i == 3 ? "aaa.subject@x.example" : "person\(i)@x.example"),\(i % 2 == 0 ? "Paris" : "Lyon")\n" }
        try text.write(to: csv, atomically: true, encoding: .utf8)
        var options = ImportOptions()
        options.fragmentRows = 8
        try await repo.importData(from: csv.path, into: "people", options: options)
        _ = try await repo.tag("v1")
        try await repo.update("people", set: [(column: "city", value: "Oslo")], where: "id = 3")
        try await repo.delete(from: "people", where: "id IN (1, 6, 12)")
        _ = try await repo.tag("v2")
        return repo
    }

    /// Every commit any ref reaches, with each dataset's rows as sorted text.
    static func contents(_ repo: Repository) async throws -> [ObjectID: [String]] {
        var out: [ObjectID: [String]] = [:]
        for ref in try await repo.meta.refs(kind: nil) {
            for (id, _) in try await repo.tables.history(from: ref.commit) where out[id] == nil {
                var rows: [String] = []
                if try await repo.tables.commit(id).tree["people"] != nil {
                    for batch in try await repo.query("SELECT _rowid, id, email, city FROM people AT '\(id.hex)'").batches {
                        for r in 0..<batch.length {
                            guard case .int(let person) = batch.columns[1].value(at: r) else { continue }
                            rows.append("id:\(person);" + batch.columns.map { "\($0.value(at: r))" }.joined(separator: "|"))
                        }
                    }
                }
                out[id] = rows.sorted()
            }
        }
        return out
    }

    @Test func erasedRowsLeaveEveryVersionAndEverythingElseReadsAsBefore() async throws {
        let repo = try await Self.repository()
        let before = try await Self.contents(repo)
        let dry = try await Eraser.erase(repo, datasets: ["people"], where: "id = 3", dryRun: true)
        let unchanged = try await Self.contents(repo)
        #expect(dry.report.rows == 1 && dry.report.copies == 2 && unchanged == before)

        let (report, values) = try await Eraser.erase(repo, datasets: ["people"], where: "id = 3")
        #expect(report.rows == 1 && report.copies == 2 && report.fragments == 2)
        #expect(values == ["Oslo", "aaa.subject@x.example"])  // only the subject ever held "Oslo" (its update)
        #expect(!values.contains("Paris"))  // other rows hold it: not the subject's
        let after = try await Self.contents(repo)
        #expect(Set(after.keys) == Set(before.keys))  // commit ids stay valid
        for (id, rows) in before {
            #expect(after[id] == rows.filter { !$0.hasPrefix("id:3;") }, "commit \(id.short)")
        }
        // Rows 1, 6, 12 stay deleted in v2 and later: the deletion vectors were remapped, not dropped.
        let v2 = try await repo.query("SELECT count(*) FROM people AT 'v2'").batches[0].columns[0].value(at: 0)
        #expect(v2 == .int(36))
        // No manifest statistic keeps the erased email as a min.
        for ref in try await repo.meta.refs(kind: nil) {
            let manifest = try await repo.tables.manifest(try await repo.tables.commit(ref.commit).tree["people"]!)
            for fragment in manifest.fragments {
                for statistic in fragment.statistics.values { #expect(statistic.min != .string("aaa.subject@x.example")) }
            }
        }
        #expect(try Eraser.scan(repo, for: values).isEmpty)
        let fsck = try await repo.fsck()
        #expect(fsck.problems.isEmpty && fsck.checked > 0)
    }

    @Test func aSecondErasureOverTheSameFragmentsChainsThroughTheMap() async throws {
        let repo = try await Self.repository()
        let before = try await Self.contents(repo)
        _ = try await Eraser.erase(repo, datasets: ["people"], where: "id = 3")
        _ = try await Eraser.erase(repo, datasets: ["people"], where: "email = 'person5@x.example'")
        let after = try await Self.contents(repo)
        for (id, rows) in before { #expect(after[id] == rows.filter { !$0.hasPrefix("id:3;") && !$0.hasPrefix("id:5;") }) }
        // A fresh process sees the same (the map read from the catalog), and gc keeps every version readable.
        let reopened = try Repository.open(at: repo.root)
        #expect(try await Self.contents(reopened) == after)
        try await reopened.gc(grace: 0)
        #expect(try await Self.contents(reopened) == after)
        #expect(try Eraser.scan(repo, for: ["aaa.subject@x.example", "person5@x.example"]).isEmpty)
        // Writes after an erasure build on the rewritten versions.
        try await reopened.delete(from: "people", where: "id = 4")
        #expect(try await reopened.query("SELECT count(*) FROM people").batches[0].columns[0].value(at: 0) == .int(34))
    }

    @Test func badConditionsAndUnknownDatasetsChangeNothing() async throws {
        let repo = try await Self.repository()
        let before = try await Self.contents(repo)
        await #expect(throws: (any Error).self) { _ = try await Eraser.erase(repo, datasets: ["people"], where: "nope = 3") }
        await #expect(throws: (any Error).self) { _ = try await Eraser.erase(repo, datasets: ["ghosts"], where: "id = 3") }
        await #expect(throws: (any Error).self) { _ = try await Eraser.erase(repo, datasets: [], where: "id = 3") }
        #expect(try await Self.contents(repo) == before)
    }
}
