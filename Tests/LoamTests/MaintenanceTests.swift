import Foundation
import Loam
import LoamQuery
import LoamFormat
import LoamStorage
import LoamTable
import LoamTestSupport
import Testing

@Suite struct MaintenanceTests {
    func objectCount(_ dir: URL) throws -> Int {
        try FileManager.default.subpathsOfDirectory(atPath: dir.appendingPathComponent(".loam/objects").path)
            .filter { $0.contains("/") }.count
    }

    @Test func gcDeletesOnlyWhatNoRefRetentionOrGraceKeeps() async throws {
        let (repo, dir) = try await repository(rows: 20)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.createBranch("doomed")
        try await repo.switchBranch("doomed")
        try await repo.importData(from: try TestEnvironment.write("id,name,score\n500,x,1\n", to: "d.csv", in: dir), into: "t")
        let doomed = try await repo.resolve("doomed").hex
        try await repo.switchBranch("main")
        try await repo.deleteBranch("doomed")
        try await repo.update("t", set: [("name", "kept")], where: "id = 1")
        let before = try objectCount(dir)

        // Within the grace period nothing unreachable goes; within retention the deleted branch's commit is a root.
        #expect(try await repo.gc(dryRun: true).deleted == 0)
        #expect(try await repo.gc(retention: 0, dryRun: true).keptRecent > 0)
        #expect(try await repo.gc(grace: 0).deleted == 0)
        #expect(try await repo.dataset("t", at: doomed).rowCount == 21, "a commit inside the retention window was collected")

        let dry = try await repo.gc(retention: 0, grace: 0, dryRun: true)
        #expect(dry.deleted > 0 && dry.deletedBytes > 0)
        #expect(try objectCount(dir) == before, "a dry run deleted something")
        let real = try await repo.gc(retention: 0, grace: 0)
        #expect(real.deleted == dry.deleted)
        #expect(try objectCount(dir) == before - real.deleted)
        // Everything any ref reaches still reads, and fsck is clean.
        #expect(try await repo.fsck().problems.isEmpty)
        #expect(try await table(repo)[1]?.first == .string("kept"))
        #expect(try await table(repo, at: "HEAD~1")[1]?.first == .string("n1"))
        await #expect(throws: Error.self) { _ = try await repo.dataset("t", at: doomed) }
    }

    @Test func fsckReportsMissingAndCorruptObjectsWithTheirRefs() async throws {
        let (repo, dir) = try await repository(rows: 8)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.tag("v1")
        let (checked, clean) = try await repo.fsck()
        #expect(clean.isEmpty && checked >= 5)
        let fragments = try await repo.dataset("t").manifest.fragments
        func path(_ id: ObjectID) -> URL { dir.appendingPathComponent(".loam/objects/\(id.hex.prefix(2))/\(id.hex.dropFirst(2))") }
        try FileManager.default.removeItem(at: path(fragments[0].object))
        var bytes = try Data(contentsOf: path(fragments[1].object))
        bytes[bytes.count / 2] ^= 0xFF
        try FileManager.default.removeItem(at: path(fragments[1].object))
        try bytes.write(to: path(fragments[1].object))
        let problems = try await repo.fsck().problems
        #expect(problems.count == 2)
        #expect(problems.contains { $0.object == fragments[0].object && $0.problem == "missing" && $0.kind == "fragment" })
        #expect(problems.contains { $0.object == fragments[1].object && $0.problem.hasPrefix("corrupt") })
        #expect(problems.allSatisfy { $0.ref == "main" || $0.ref == "v1" })
        // gc refuses to run over a broken repository rather than guess.
        await #expect(throws: TableError.self) { try await repo.gc(retention: 0, grace: 0) }
    }

    @Test func compactionKeepsRowIDsOrderAndHistory() async throws {
        let (repo, dir) = try await repository(rows: 30, fragmentRows: 3)  // 10 small fragments
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.delete(from: "t", where: "id = 4 OR id = 17")
        let before = try await rows(repo, "t", rowid: true)
        let (_, fragmentsBefore, fragmentsAfter) = try await repo.compact("t", targetRows: 16)
        #expect(fragmentsBefore == 10 && fragmentsAfter == 2)
        let after = try await repo.dataset("t")
        #expect(after.manifest.fragments.allSatisfy { $0.deletedRows == 0 })
        #expect(try await rows(repo, "t", rowid: true) == before)
        #expect(try await repo.dataset("t", at: "HEAD~1").manifest.fragments.count == 10)
        #expect(try await repo.diff("HEAD~1", "HEAD").isEmpty, "compaction changed rows")
    }

    @Test func storageReportSplitsSharedAndUniqueBytes() async throws {
        let (repo, dir) = try await repository(rows: 12)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.createBranch("exp")
        var usage = try await repo.storageReport()
        #expect(usage.count == 2 && usage.allSatisfy { $0.unique == 0 && $0.bytes > 0 })
        try await repo.switchBranch("exp")
        try await repo.importData(from: try TestEnvironment.write("id,name,score\n99,x,1\n", to: "x.csv", in: dir), into: "t")
        usage = try await repo.storageReport()
        let exp = try #require(usage.first { $0.branch == "exp" })
        let main = try #require(usage.first { $0.branch == "main" })
        #expect(exp.unique > 0 && exp.shared == main.bytes && main.unique == 0)
    }
}
