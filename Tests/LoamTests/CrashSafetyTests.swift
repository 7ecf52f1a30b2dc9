import Foundation
import LoamTestSupport
import Testing

/// Kills `loam` with SIGKILL at every durable step of a write, and at random
/// moments, and checks that the repository is then exactly as before (or,
/// for a random kill after the branch moved, exactly as after).
@Suite(.serialized) struct CrashSafetyTests {
    /// What a user can see of a repository: its log and the dataset's rows.
    func visibleState(_ repo: URL) throws -> String {
        let log = try TestEnvironment.loam(["log", "--json"], repo: repo)
        let data = try TestEnvironment.loam(["export", "reviews", "--format", "csv", "-o", "-", "--rowid"], repo: repo)
        let datasets = try TestEnvironment.loam(["datasets", "--json"], repo: repo)
        #expect(log.status == 0 && data.status == 0 && datasets.status == 0, "repository unreadable: \(log.error) \(data.error)")
        return log.output + data.output + datasets.output
    }

    func csv(rows: Range<Int>) -> String {
        "id,text,label\n" + rows.map { "\($0),\"row \($0), quoted\",\($0 % 5)\n" }.joined()
    }

    func setUp() throws -> URL {
        let dir = try TestEnvironment.temporaryDirectory("loam-crash")
        #expect(try TestEnvironment.loam(["init", dir.path], repo: dir).status == 0)
        try TestEnvironment.write(csv(rows: 0..<40), to: "first.csv", in: dir)
        try TestEnvironment.write(csv(rows: 40..<100), to: "second.csv", in: dir)
        let first = try TestEnvironment.loam(["import", dir.appendingPathComponent("first.csv").path, "-d", "reviews", "--fragment-rows", "16"], repo: dir)
        #expect(first.status == 0, "\(first.error)")
        return dir
    }

    /// The objects under `.loam/objects`, by path.
    func objects(_ repo: URL) -> Set<String> {
        let root = repo.appendingPathComponent(".loam/objects")
        return Set((FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String] ?? []).filter { !$0.hasSuffix("/") && $0.count > 20 })
    }

    /// An import that fails on row 90 of 100 has written five fragments by then: it deletes them itself,
    /// so the object folder is exactly as before (no waiting for gc), and nothing is committed.
    @Test func aFailedImportRemovesItsOwnObjectsAtOnce() throws {
        let repo = try setUp()
        defer { try? FileManager.default.removeItem(at: repo) }
        let before = (try visibleState(repo), objects(repo))
        try TestEnvironment.write(csv(rows: 100..<190) + "oops,\"not a number\",x\n" + csv(rows: 191..<200).dropFirst(14), to: "bad.csv", in: repo)
        let result = try TestEnvironment.loam(["import", repo.appendingPathComponent("bad.csv").path, "-d", "reviews", "--fragment-rows", "16"], repo: repo)
        #expect(result.status != 0)
        #expect(result.error.contains("bad.csv:92"), "\(result.error)")
        #expect(try visibleState(repo) == before.0)
        #expect(objects(repo) == before.1)
        let tmp = repo.appendingPathComponent(".loam/tmp")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] == [])
    }

    /// Runs `arguments` killed at failpoint hit 1, 2, … until it completes; each kill must change nothing.
    func killAtEveryPoint(_ arguments: [String], in repo: URL) throws -> Int {
        let before = try visibleState(repo)
        var point = 1
        while true {
            let result = try TestEnvironment.loam(arguments, repo: repo, environment: ["LOAM_FAILPOINT": "any:\(point)"])
            if result.status == 0 { break }
            #expect(result.status == 9, "expected SIGKILL at point \(point), got status \(result.status): \(result.error)")
            // Once the branch has moved the write has landed whole; before that it must be invisible.
            if result.error.contains("failpoint after-ref-swap") { break }
            #expect(try visibleState(repo) == before, "killed at point \(point) (\(result.error)), the repository changed")
            point += 1
            if point > 200 { Issue.record("the write never completed"); break }
        }
        #expect(try visibleState(repo) != before, "the completed write changed nothing")
        return point - 1
    }

    @Test func killedImportsDeletesAndUpdatesLeaveNoTrace() throws {
        let repo = try setUp()
        defer { try? FileManager.default.removeItem(at: repo) }
        // 4 fragments × (sealed, published, counted) + manifest + commit + ref steps.
        let importPoints = try killAtEveryPoint(["import", repo.appendingPathComponent("second.csv").path, "-d", "reviews", "--fragment-rows", "16"], in: repo)
        #expect(importPoints >= 14)
        let deletePoints = try killAtEveryPoint(["delete", "reviews", "--where", "label = 1"], in: repo)
        #expect(deletePoints >= 5)
        let updatePoints = try killAtEveryPoint(["update", "reviews", "--set", "text=changed", "--where", "label = 2"], in: repo)
        #expect(updatePoints >= 6)
        _ = try killAtEveryPoint(["alter", "reviews", "add-column", "note", "string"], in: repo)
        let count = try TestEnvironment.loam(["count", "reviews"], repo: repo)
        #expect(count.output.trimmingCharacters(in: .whitespacesAndNewlines) == "80")
    }

    @Test func killsAtRandomMomentsLeaveEitherTheOldOrTheNewState() throws {
        let repo = try setUp()
        defer { try? FileManager.default.removeItem(at: repo) }
        try TestEnvironment.write(csv(rows: 100..<300_100), to: "big.csv", in: repo)
        // Time one whole import (into a scratch repository) so the kills land inside one.
        let scratch = try TestEnvironment.temporaryDirectory("loam-crash-timing")
        defer { try? FileManager.default.removeItem(at: scratch) }
        #expect(try TestEnvironment.loam(["init", scratch.path], repo: scratch).status == 0)
        let started = Date()
        let timed = try TestEnvironment.loam(["import", repo.appendingPathComponent("big.csv").path, "-d", "reviews", "--fragment-rows", "2000", "-q"], repo: scratch)
        #expect(timed.status == 0, "\(timed.error)")
        let duration = Date().timeIntervalSince(started)
        var before = try visibleState(repo)
        var expectedRows = 40
        var generator = SystemRandomNumberGenerator()
        var outcomes = Set<String>()
        for _ in 0..<8 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestEnvironment.loamBinary)
            process.arguments = ["import", repo.appendingPathComponent("big.csv").path, "-d", "reviews", "--fragment-rows", "2000", "-q"]
            process.environment = ProcessInfo.processInfo.environment.merging(["LOAM_REPO": repo.path]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32(duration * Double.random(in: 0.02...0.6, using: &generator) * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let after = try visibleState(repo)
            if after == before {
                outcomes.insert("unchanged")
            } else {
                // It finished before the kill: the import must be whole. That state is the next baseline.
                expectedRows += 300_000
                let count = try TestEnvironment.loam(["count", "reviews"], repo: repo)
                #expect(count.output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(expectedRows)")
                outcomes.insert("complete")
                before = after
            }
            if outcomes.contains("unchanged") && outcomes.count == 2 { break }
        }
        #expect(outcomes.contains("unchanged"), "no kill landed mid-import; the test proved nothing")
    }

    @Test func concurrentWritersNeverLoseAnUpdate() throws {
        let repo = try setUp()
        defer { try? FileManager.default.removeItem(at: repo) }
        for i in 0..<4 { try TestEnvironment.write(csv(rows: (1000 * (i + 1))..<(1000 * (i + 1) + 500)), to: "w\(i).csv", in: repo) }
        var landed = 0
        for _ in 0..<3 {
            let processes = try (0..<4).map { i -> (Process, Pipe) in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: TestEnvironment.loamBinary)
                process.arguments = ["import", repo.appendingPathComponent("w\(i).csv").path, "-d", "reviews", "--fragment-rows", "100"]
                process.environment = ProcessInfo.processInfo.environment.merging(["LOAM_REPO": repo.path]) { $1 }
                let err = Pipe()
                process.standardOutput = FileHandle.nullDevice
                process.standardError = err
                try process.run()
                return (process, err)
            }
            for (process, err) in processes {
                let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                // Disjoint appends rebase onto each other: every one lands.
                #expect(process.terminationStatus == 0, "\(message)")
                if process.terminationStatus == 0 { landed += 1 }
            }
        }
        #expect(landed == 12)
        let count = try TestEnvironment.loam(["count", "reviews"], repo: repo)
        #expect(count.output == "\(40 + 500 * landed)\n")
        let log = try TestEnvironment.loam(["log", "--oneline"], repo: repo)
        #expect(log.output.split(separator: "\n").count == 2 + landed)
        let rows = try TestEnvironment.loam(["export", "reviews", "--format", "csv", "-o", "-"], repo: repo).output
        let lines = rows.split(separator: "\n").dropFirst()
        #expect(lines.count == 40 + 500 * landed)
        #expect(Set(lines).count == 40 + 500 * 4, "a file's rows were lost")  // each round imported the same four files
    }

    @Test func killedMergesAndCollectionsLeaveFsckCleanAndEveryRefReadable() throws {
        let repo = try setUp()
        defer { try? FileManager.default.removeItem(at: repo) }
        func loam(_ args: String...) throws -> TestEnvironment.ProcessResult { try TestEnvironment.loam(args, repo: repo) }
        #expect(try loam("branch", "side").status == 0)
        #expect(try loam("update", "reviews", "--set", "text=ours", "--where", "id < 5").status == 0)
        #expect(try loam("switch", "side").status == 0)
        #expect(try loam("update", "reviews", "--set", "label=9", "--where", "id < 10").status == 0)
        #expect(try loam("import", repo.appendingPathComponent("second.csv").path, "-d", "reviews").status == 0)
        #expect(try loam("switch", "main").status == 0)

        func everyRefReads() throws {
            let fsck = try loam("fsck")
            #expect(fsck.status == 0, "fsck: \(fsck.output)")
            for ref in ["main", "side", "HEAD~1"] {
                #expect(try loam("count", "reviews", "--ref", ref).status == 0, "\(ref) does not read")
            }
        }
        let mergePoints = try killAtEveryPoint(["merge", "side"], in: repo)
        #expect(mergePoints >= 5)
        try everyRefReads()
        let merged = try loam("export", "reviews", "--format", "csv", "-o", "-")
        #expect(merged.output.contains(",ours,9"), "the merged rows lack one side's change")

        // Garbage: a deleted branch's commits, collected with no retention or grace, killed after each deletion.
        #expect(try loam("branch", "scratch").status == 0)
        #expect(try loam("switch", "scratch").status == 0)
        #expect(try loam("delete", "reviews", "--where", "label = 1").status == 0)
        #expect(try loam("switch", "main").status == 0)
        #expect(try loam("branch", "-d", "scratch").status == 0)
        let dry = try loam("gc", "--retention-days", "0", "--grace-minutes", "0", "--dry-run", "--json")
        let garbage = (try JSONSerialization.jsonObject(with: Data(dry.output.utf8)) as? [String: Any])?["deleted"] as? Int ?? 0
        #expect(garbage > 0)
        // Each run is killed right after its first deletion, so the kills land after every one of them in turn.
        var kills = 0
        while kills <= garbage {
            let killed = try TestEnvironment.loam(["gc", "--retention-days", "0", "--grace-minutes", "0"], repo: repo,
                                                  environment: ["LOAM_FAILPOINT": "gc-deleted:1"])
            try everyRefReads()
            if killed.status != 9 { break }
            kills += 1
        }
        #expect(kills == garbage, "expected one kill per garbage object")
        let after = try loam("gc", "--retention-days", "0", "--grace-minutes", "0", "--json")
        #expect((try JSONSerialization.jsonObject(with: Data(after.output.utf8)) as? [String: Any])?["deleted"] as? Int == 0)
        try everyRefReads()
    }
}
