import Foundation
@testable import Loam
import LoamFormat
import LoamQuery
import LoamStorage
import LoamTable
import LoamTestSupport
import Testing

/// Writers racing for one branch, and `gc` racing writers: nothing acknowledged is lost.
@Suite(.serialized) struct WriteRaceTests {
    func counterRepository() async throws -> (URL, Repository) {
        let dir = try TestEnvironment.temporaryDirectory("loam-race")
        let repo = try await Repository.initialize(at: dir)
        try TestEnvironment.write("id,n\n0,0\n1,0\n", to: "c.csv", in: dir)
        try await repo.importData(from: dir.appendingPathComponent("c.csv").path, into: "c")
        return (dir, repo)
    }

    func counter(_ repo: Repository, id: Int = 0) async throws -> Value {
        try await repo.query("SELECT n FROM c WHERE id = \(id)").batches[0].row(0)[0]
    }

    /// Four `loam sql` processes, 25 increments each: every one is counted (it was near 77 of 100).
    @Test func incrementsFromFourProcessesAreAllCounted() async throws {
        let (dir, repo) = try await counterRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = String(repeating: "UPDATE c SET n = n + 1 WHERE id = 0;\n", count: 25)
        let results = try await withThrowingTaskGroup(of: TestEnvironment.ProcessResult.self) { group in
            for _ in 0..<4 { group.addTask { try TestEnvironment.loam(["sql"], repo: dir, input: script) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for result in results { #expect(result.status == 0, "\(result.error)") }
        #expect(try await counter(repo) == .int(100))
        #expect(try await counter(repo, id: 1) == .int(0))
        let log = try TestEnvironment.loam(["log", "--oneline"], repo: dir)
        #expect(log.output.split(separator: "\n").count == 2 + 100, "each statement is one commit")
    }

    /// The same in one process: statements re-run against the new head, never merged.
    @Test func incrementsFromConcurrentTasksAreAllCounted() async throws {
        let (dir, repo) = try await counterRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for _ in 0..<10 {
                        // Two writers that set the same new value must not pass as one (a three-way merge saw "no conflict").
                        let done = try await repo.execute("UPDATE c SET n = n + 1 WHERE id = \(writer % 2)")
                        #expect(done.affected == 1)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await counter(repo) == .int(40))
        #expect(try await counter(repo, id: 1) == .int(40))
    }

    /// Transactions are first-writer-wins on the rows they change; disjoint ones both land.
    @Test func aTransactionOverTakenDataFailsWholeAndADisjointOneLands() async throws {
        let (dir, repo) = try await counterRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.execute("CREATE TABLE other AS SELECT 1 AS x")
        let first = SQLSession(repository: repo), second = SQLSession(repository: repo), third = SQLSession(repository: repo)
        for session in [first, second, third] { _ = try await session.execute("BEGIN") }
        _ = try await first.execute("UPDATE c SET n = n + 1 WHERE id = 0")
        _ = try await second.execute("UPDATE c SET n = n + 1 WHERE id = 0")
        _ = try await third.execute("UPDATE other SET x = 2")
        _ = try await first.execute("COMMIT")
        await #expect(throws: LoamError.self) { _ = try await second.execute("COMMIT") }
        do {
            let session = SQLSession(repository: repo)
            _ = try await session.execute("BEGIN")
            _ = try await session.execute("UPDATE c SET n = 7 WHERE id = 1")
            try await repo.execute("UPDATE c SET n = 5 WHERE id = 1")
            _ = try await session.execute("COMMIT")
            Issue.record("a transaction over rows changed since it began committed")
        } catch let error as LoamError {
            #expect(error.description.contains("run the transaction again") && error.description.contains(": row written on both sides"), "\(error)")
        }
        #expect(try await third.execute("COMMIT").commit != nil)
        #expect(try await counter(repo) == .int(1))
        #expect(try await counter(repo, id: 1) == .int(5))
        #expect(try await repo.query("SELECT x FROM other").batches[0].row(0)[0] == .int(2))
    }

    /// Eight concurrent appenders: none fails for contention, no row is lost.
    @Test func eightConcurrentImportsAllLand() async throws {
        let (dir, repo) = try await counterRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        for i in 0..<8 {
            try TestEnvironment.write("id,n\n" + (0..<200).map { "\(1000 * (i + 1) + $0),\(i)\n" }.joined(), to: "w\(i).csv", in: dir)
        }
        for _ in 0..<3 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        var options = ImportOptions()
                        options.fragmentRows = 50
                        try await repo.importData(from: dir.appendingPathComponent("w\(i).csv").path, into: "c", options: options)
                    }
                }
                try await group.waitForAll()
            }
        }
        let counts = try await repo.query("SELECT n, count(*) FROM c GROUP BY n ORDER BY n").batches.flatMap { b in (0..<b.length).map { b.row($0) } }
        #expect(counts.map { $0[1] } == [.int(2 + 600)] + Array(repeating: .int(600), count: 7))
    }

    /// gc with no retention and no grace, looping while a writer re-creates old unreachable
    /// objects byte for byte and commits them: every commit the writer made stays whole.
    @Test func gcNeverDeletesAnObjectAWriterReused() async throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-gc-race")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.initialize(at: dir)
        let empty = try await repo.resolve("HEAD")
        try TestEnvironment.write("id,n\n" + (0..<300).map { "\($0),\($0 % 7)\n" }.joined(), to: "c.csv", in: dir)
        var options = ImportOptions()
        options.fragmentRows = 100
        try await repo.importData(from: dir.appendingPathComponent("c.csv").path, into: "c", options: options)
        let versionA = try await repo.tables.commit(try await repo.resolve("HEAD")).tree["c"]!
        try await repo.execute("UPDATE c SET n = n + 100 WHERE id % 3 = 0")
        let versionB = try await repo.tables.commit(try await repo.resolve("HEAD")).tree["c"]!
        var saved: [[UInt8]] = []
        for info in try await repo.objects.list() { saved.append(Array(try await repo.objects.get(info.id).bytes)) }
        let objects = saved
        let stop = ManagedFlag()
        let collector = Task {
            var runs = 0, deleted = 0
            while !stop.value {
                deleted += try await repo.gc(retention: 0, grace: 0).deleted
                runs += 1
                try await Task.sleep(nanoseconds: 2_000_000)  // a gc loop with no pause would hold writers off for good
            }
            return (runs, deleted)
        }
        var failures = 0
        for round in 0..<120 {
            // Back to the empty commit: everything written so far is unreachable garbage...
            try await repo.moveBranch("main", from: try await repo.resolve("main"), to: empty)
            // ...and is then written again, byte for byte, and committed.
            let version = round % 2 == 0 ? versionA : versionB
            try await repo.commit(message: "round \(round)") { tree in
                for bytes in objects { _ = try await repo.objects.put(bytes) }
                tree["c"] = version
            }
            do {
                let sum = try await repo.query("SELECT sum(n) FROM c").batches[0].row(0)[0]
                #expect(sum == .int(round % 2 == 0 ? 897 : 897 + 100 * 100), "round \(round)")
            } catch {
                failures += 1
                Issue.record("round \(round): the commit just made does not read: \(error)")
                if failures > 3 { break }
            }
        }
        stop.value = true
        let (runs, deleted) = try await collector.value
        #expect(runs > 5 && deleted > 0, "gc ran \(runs) times and deleted \(deleted) objects: the race was not exercised")
        let (_, problems) = try await repo.fsck()
        #expect(problems.isEmpty, "\(problems)")
    }
}

final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}

/// A flipped bit in a stored fragment is an error naming the object, never a wrong answer.
@Suite struct BitRotTests {
    @Test func aCorruptedColumnChunkFailsItsChecksum() async throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-bitrot")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.initialize(at: dir)
        let marker = 987_654.321 + Double(UInt32.random(in: 0...1_000_000))  // unique bytes: no other test shares the object
        try TestEnvironment.write("id,score\n" + (0..<100).map { "\($0),\($0 == 42 ? marker : Double($0))\n" }.joined(), to: "s.csv", in: dir)
        try await repo.importData(from: dir.appendingPathComponent("s.csv").path, into: "s")
        let entry = try await repo.dataset("s").manifest.fragments[0]
        #expect(entry.checksums.keys.sorted() == ["1", "2", "_rowid"])
        // Flip the lowest bit of the marker value in the fragment file, as bit rot would.
        let path = try #require(repo.objects.file(entry.object)).path
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let pattern = withUnsafeBytes(of: marker.bitPattern.littleEndian, Array.init)
        let at = try #require((0...(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == pattern })
        bytes[at] ^= 1
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            let sum = try await repo.query("SELECT sum(score) FROM s").batches[0].row(0)[0]
            Issue.record("a corrupted fragment answered \(sum)")
        } catch {
            #expect("\(error)".contains(entry.object.hex) && "\(error)".contains("column 'score'") && "\(error)".contains("checksum"), "\(error)")
        }
        // Columns that are intact still read.
        #expect(try await repo.query("SELECT count(*) FROM s WHERE id >= 0").batches[0].row(0)[0] == .int(100))
        #expect(try await repo.fsck().problems.count == 1)
    }
}
