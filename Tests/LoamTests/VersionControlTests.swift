import Foundation
@testable import Loam
import LoamQuery
import LoamFormat
import LoamStorage
import LoamTable
import LoamTestSupport
import Testing

/// A repository holding dataset `t` (id, name, score) with rows 0..<n, in fragments of `fragmentRows`.
func repository(rows n: Int, fragmentRows: Int = 4) async throws -> (Repository, URL) {
    let (repo, dir) = try await makeRepository()
    var options = ImportOptions()
    options.fragmentRows = fragmentRows
    let csv = "id,name,score\n" + (0..<n).map { "\($0),n\($0),\(Double($0) / 2)\n" }.joined()
    try await repo.importData(from: try TestEnvironment.write(csv, to: "t.csv", in: dir), into: "t", options: options)
    return (repo, dir)
}

/// Rows of `t` keyed by id, as [name, score].
func table(_ repo: Repository, at ref: String = "HEAD") async throws -> [Int64: [Value]] {
    var out: [Int64: [Value]] = [:]
    for row in try await rows(repo, "t", at: ref) {
        guard case .int(let id) = row[0] else { continue }
        out[id] = Array(row.dropFirst())
    }
    return out
}

@Suite struct BranchAndDiffTests {
    @Test func branchesAreRefsThatCopyNoData() async throws {
        let (repo, dir) = try await repository(rows: 10)
        defer { try? FileManager.default.removeItem(at: dir) }
        let objects = try FileManager.default.subpathsOfDirectory(atPath: dir.appendingPathComponent(".loam/objects").path).count
        try await repo.createBranch("exp")
        #expect(try FileManager.default.subpathsOfDirectory(atPath: dir.appendingPathComponent(".loam/objects").path).count == objects)
        try await repo.switchBranch("exp")
        try await repo.delete(from: "t", where: "id < 3")
        #expect(try await repo.dataset("t", at: "exp").rowCount == 7)
        #expect(try await repo.dataset("t", at: "main").rowCount == 10)
        try await repo.renameBranch("exp", to: "experiment")
        #expect(try await repo.currentBranch() == "experiment")
        await #expect(throws: LoamError.self) { try await repo.deleteBranch("experiment") }
        try await repo.switchBranch("main")
        try await repo.deleteBranch("experiment")
        #expect(try await repo.branches().map(\.name) == ["main"])
        await #expect(throws: Error.self) { try await repo.switchBranch("nope") }
    }

    @Test func diffFindsAddedRemovedAndModifiedRowsReadingOnlyChangedFragments() async throws {
        let (repo, dir) = try await repository(rows: 40)  // 10 fragments of 4
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.tag("v1")
        try await repo.update("t", set: [("score", "99")], where: "id = 5")
        try await repo.delete(from: "t", where: "id = 30")
        try await repo.importData(from: try TestEnvironment.write("id,name,score\n40,new,1\n", to: "a.csv", in: dir), into: "t")
        try await repo.alter("t", .rename(from: "name", to: "label"))
        let diffs = try await repo.diff("v1", "HEAD")
        #expect(diffs.count == 1)
        let diff = try #require(diffs.first)
        #expect(diff.added.map { $0.cells[1] } == [.int(40)])
        #expect(diff.removed.map { $0.cells[1] } == [.int(30)])
        #expect(diff.modified.count == 1)
        #expect(diff.modified.first?.changes == [CellChange(columnID: 3, old: .float(2.5), new: .float(99))])
        #expect(diff.schemaChanges == [.renamed(id: 2, from: "name", to: "label")])
        // Fragments 2 (id 5) and 8 (id 30) changed their deletions; the update's and the import's fragments are new.
        #expect(diff.fragmentsRead == 4, "read \(diff.fragmentsRead) fragments")
        #expect(try await repo.diff("v1", "v1").isEmpty)
        #expect(try await repo.diff("HEAD", "v1").first?.removed.map { $0.cells[1] } == [.int(40)])
    }
}

@Suite struct MergeTests {
    /// main and `side` diverge from a common base of 12 rows.
    func diverged() async throws -> (Repository, URL) {
        let (repo, dir) = try await repository(rows: 12)
        try await repo.createBranch("side")
        return (repo, dir)
    }

    func on(_ repo: Repository, _ branch: String, _ body: () async throws -> Void) async throws {
        let back = try await repo.currentBranch()
        try await repo.switchBranch(branch)
        try await body()
        try await repo.switchBranch(back)
    }

    @Test func fastForwardAndUpToDate() async throws {
        let (repo, dir) = try await diverged()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try await repo.merge("side").kind == .upToDate)
        try await on(repo, "side") { try await repo.delete(from: "t", where: "id = 1") }
        let result = try await repo.merge("side")
        #expect(result.kind == .fastForward)
        #expect(try await repo.resolve("main") == repo.resolve("side"))
    }

    @Test func disjointRowsAndDifferentColumnsOfOneRowCombine() async throws {
        let (repo, dir) = try await diverged()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.update("t", set: [("name", "ours")], where: "id = 2")
        try await repo.delete(from: "t", where: "id = 9")
        try await repo.importData(from: try TestEnvironment.write("id,name,score\n100,main-new,1\n", to: "m.csv", in: dir), into: "t")
        try await on(repo, "side") {
            try await repo.update("t", set: [("score", "-1")], where: "id = 2")
            try await repo.update("t", set: [("name", "theirs")], where: "id = 3")
            try await repo.delete(from: "t", where: "id = 10")
            try await repo.importData(from: try TestEnvironment.write("id,name,score\n200,side-new,2\n", to: "s.csv", in: dir), into: "t")
        }
        let result = try await repo.merge("side")
        #expect(result.kind == .merged && result.conflicts.isEmpty)
        let merged = try await table(repo)
        #expect(merged[2] == [.string("ours"), .float(-1)])
        #expect(merged[3] == [.string("theirs"), .float(1.5)])
        #expect(merged[9] == nil && merged[10] == nil)
        #expect(merged[100] != nil && merged[200] != nil)
        #expect(merged.count == 12)
        let commit = try await repo.tables.commit(try #require(result.commit))
        #expect(commit.parents.count == 2)
    }

    @Test func sameCellConflictsAndIsResolvedPerConflictOrWholesale() async throws {
        let (repo, dir) = try await diverged()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.update("t", set: [("name", "ours")], where: "id = 4")
        try await on(repo, "side") { try await repo.update("t", set: [("name", "theirs")], where: "id = 4") }
        let head = try await repo.resolve("HEAD")
        let conflicted = try await repo.merge("side")
        #expect(conflicted.kind == .conflicted && conflicted.commit == nil)
        let conflict = try #require(conflicted.conflicts.first)
        #expect(conflict.kind == .cell && conflict.column == "name")
        #expect(conflict.base == .string("n4") && conflict.ours == .string("ours") && conflict.theirs == .string("theirs"))
        #expect(conflict.key == "t:4:name")
        #expect(try await repo.resolve("HEAD") == head, "a conflicted merge committed something")

        let perConflict = try await repo.merge("side", resolution: MergeResolution(conflicts: ["t:4:name": .theirs]))
        #expect(perConflict.kind == .merged && perConflict.resolved == 1)
        #expect(try await table(repo)[4]?.first == .string("theirs"))
        try await repo.reset(to: "HEAD~1", force: true)
        #expect(try await repo.merge("side", resolution: MergeResolution(all: .ours)).kind == .merged)
        #expect(try await table(repo)[4]?.first == .string("ours"))
    }

    @Test func deleteAgainstModifyIsAConflict() async throws {
        let (repo, dir) = try await diverged()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.delete(from: "t", where: "id = 6")
        try await repo.update("t", set: [("score", "7")], where: "id = 7")
        try await on(repo, "side") {
            try await repo.update("t", set: [("score", "0")], where: "id = 6")
            try await repo.delete(from: "t", where: "id = 7")
        }
        let result = try await repo.merge("side")
        #expect(Set(result.conflicts.map(\.kind)) == [.deletedByOursModifiedByTheirs, .modifiedByOursDeletedByTheirs])
        let resolved = try await repo.merge("side", resolution: MergeResolution(datasets: ["t": .theirs]))
        #expect(resolved.kind == .merged)
        let merged = try await table(repo)
        #expect(merged[6] == [.string("n6"), .float(0)])
        #expect(merged[7] == nil)
    }

    @Test func schemaChangesMergeWhenCompatibleAndConflictWhenNot() async throws {
        let (repo, dir) = try await diverged()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.alter("t", .add(name: "note", type: .utf8))
        try await repo.update("t", set: [("note", "checked")], where: "id = 1")
        try await on(repo, "side") {
            try await repo.alter("t", .rename(from: "score", to: "weight"))
            try await repo.alter("t", .add(name: "source", type: .utf8))
            try await repo.update("t", set: [("source", "web")], where: "id = 2")
        }
        let result = try await repo.merge("side")
        #expect(result.kind == .merged, "\(result.conflicts)")
        let ds = try await repo.dataset("t")
        #expect(ds.schema.fields.map(\.name) == ["id", "name", "weight", "note", "source"])
        let merged = try await table(repo)
        #expect(merged[1] == [.string("n1"), .float(0.5), .string("checked"), .null])
        #expect(merged[2] == [.string("n2"), .float(1), .null, .string("web")])

        try await repo.alter("t", .rename(from: "name", to: "title"))
        try await on(repo, "side") { try await repo.alter("t", .rename(from: "name", to: "caption")) }
        let clash = try await repo.merge("side")
        #expect(clash.conflicts.map(\.kind) == [.schema])
    }

    @Test func revertUndoesOneCommitAndResetNamesWhatWouldBeLost() async throws {
        let (repo, dir) = try await repository(rows: 8)
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = try await table(repo)
        try await repo.update("t", set: [("name", "x")], where: "id < 3")
        try await repo.delete(from: "t", where: "id = 7")
        #expect(try await repo.revert("HEAD~1").kind == .merged)
        var expected = before
        expected[7] = nil
        #expect(try await table(repo) == expected)
        #expect(try await repo.revert("HEAD~1").kind == .merged)  // revert the delete
        #expect(try await table(repo) == before)

        let lost = try await repo.commitsLostByReset(to: "HEAD~2")
        #expect(lost.count == 2)
        await #expect { try await repo.reset(to: "HEAD~2") } throws: { "\($0)".contains("would leave 2 commit(s) on no branch or tag") }
        try await repo.tag("keep")
        #expect(try await repo.reset(to: "HEAD~2") == repo.resolve("keep~2"))
    }
}

@Suite struct ConcurrentWriteTests {
    /// Merges land through the same commit step as every write: a merge commit whose branch moved
    /// meanwhile is rebased onto the new head and keeps its second parent.
    @Test func aMergeCommitRebasesOverAWriteThatLandedMeanwhile() async throws {
        let (repo, dir) = try await repository(rows: 8)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.createBranch("side")
        try await repo.switchBranch("side")
        try await repo.update("t", set: [("name", "side")], where: "id = 3")
        try await repo.switchBranch("main")
        try await repo.update("t", set: [("name", "main")], where: "id = 6")
        let head = try await repo.resolve("main"), theirs = try await repo.resolve("side")
        let base = try #require(try await repo.tables.mergeBase(head, theirs))
        let merged = try #require(try await repo.mergedTree(base: base, ours: head, theirs: theirs, resolution: MergeResolution()).tree)
        // Another process lands a write on main before the merge commit does.
        try await Repository.open(at: dir).update("t", set: [("name", "other")], where: "id = 1")
        let id = try await repo.land(merged, on: head, extraParents: [theirs], branch: "main", message: "Merge side")
        let commit = try await repo.tables.commit(id)
        #expect(commit.parents == [try await repo.resolve("HEAD~1"), theirs])
        #expect(try await repo.resolve("main") == id)
        let now = try await table(repo)
        #expect(now[1]?.first == .string("other") && now[3]?.first == .string("side") && now[6]?.first == .string("main"))
    }

    @Test func aWriteMadeForAUserNamesThemAsAuthor() async throws {
        let (repo, dir) = try await repository(rows: 4)
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = try await Repository.$actingUser.withValue("ada") { try await repo.delete(from: "t", where: "id = 1").commit }
        #expect(try await repo.tables.commit(id).author == "ada")
        let next = try await repo.delete(from: "t", where: "id = 2").commit
        #expect(try await repo.tables.commit(next).author == repo.author)
    }

    @Test func aStatementThatLostTheRaceRunsAgainOnTheNewHead() async throws {
        let (repo, dir) = try await repository(rows: 8)
        defer { try? FileManager.default.removeItem(at: dir) }
        let other = try Repository.open(at: dir)
        var runs = 0
        let id = try await repo.commit(message: "ours") { tree in
            runs += 1
            // Another writer lands first, touching the same row: this body then runs again on its commit.
            if runs == 1 { try await other.update("t", set: [("name", "other")], where: "id = 1") }
            var manifest = try await repo.tables.manifest(tree["t"]!)
            guard case .string(let before)? = try await table(repo)[1]?.first else { throw TestSetupError("row 1 has no name") }
            manifest = try await ManifestEditor(objects: repo.objects).apply(to: manifest, deleting: [], upserting: [
                DiffRow(rowID: 1, cells: [1: .int(1), 2: .string("ours after \(before)"), 3: .float(1)]),
            ])
            tree["t"] = try await repo.tables.save(manifest)
        }
        #expect(runs == 2)
        let commit = try await repo.tables.commit(id)
        #expect(commit.parents == [try await repo.resolve("HEAD~1")])
        #expect(try await repo.tables.commit(commit.parents[0]).message.hasPrefix("Update t"))
        #expect(try await table(repo)[1]?.first == .string("ours after other"))
    }

    /// A merge is not re-run: it is rebased by a three-way merge, and a true conflict fails naming the other commit.
    @Test func aMergeOverATrueConflictFailsNamingTheOtherCommit() async throws {
        let (repo, dir) = try await repository(rows: 8)
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = try await repo.resolve("HEAD")
        var tree = try await repo.tables.commit(head).tree
        let manifest = try await ManifestEditor(objects: repo.objects).apply(to: try await repo.tables.manifest(tree["t"]!), deleting: [], upserting: [
            DiffRow(rowID: 1, cells: [1: .int(1), 2: .string("ours"), 3: .float(0.5)]),
        ])
        tree["t"] = try await repo.tables.save(manifest)
        try await Repository.open(at: dir).update("t", set: [("name", "other")], where: "id = 1")
        await #expect {
            try await repo.land(tree, on: head, branch: "main", message: "ours")
        } throws: { error in
            "\(error)".contains("conflicts with commit") && "\(error)".contains("Update t set name=other") && "\(error)".contains("t:1:name")
        }
        #expect(try await repo.resolve("HEAD~1") == head)
        #expect(try await table(repo)[1]?.first == .string("other"))
    }
}
