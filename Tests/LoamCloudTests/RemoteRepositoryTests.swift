import Foundation
import Loam
import LoamCloud
import LoamFormat
import LoamStorage
import LoamTestSupport
import Testing

/// A repository whose catalog is PostgreSQL and whose objects are in S3, opened from two folders as two
/// servers would: the second joins the first, both write at once, nothing is lost and fsck finds nothing.
@Suite(.enabled(if: BackendPair.available.contains(.servers), "needs the test servers (scripts/test-servers.sh)"))
struct RemoteRepositoryTests {
    init() throws {
        for (name, value) in try BackendPair.s3Environment() { setenv(name, value, 1) }
    }

    static func csv(_ rows: Range<Int>, in dir: URL, name: String) throws -> String {
        try TestEnvironment.write("id,text,score\n" + rows.map { "\($0),row \($0) ünïcode,\(Double($0) / 4)" }.joined(separator: "\n") + "\n", to: name, in: dir)
    }

    @Test func twoServersOverOneCatalogAndBucketLoseNothing() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let backends = try BackendPair.servers.backends()
        let first = try await Repository.initialize(at: dir.appendingPathComponent("node1"), backends: backends)
        try await first.importData(from: Self.csv(0..<1_000, in: dir, name: "base.csv"), into: "reviews")
        // The second folder joins the repository that is there (no new first commit).
        let second = try await Repository.initialize(at: dir.appendingPathComponent("node2"), backends: backends)
        #expect(try await second.meta.ref(named: "main")?.commit == first.meta.ref(named: "main")?.commit)
        #expect(try await second.dataset("reviews").rowCount == 1_000)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("node2/.loam/backends.json").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("node2/.loam/catalog.sqlite").path))
        await #expect(throws: LoamError.self) { _ = try await Repository.initialize(at: dir.appendingPathComponent("node2"), backends: backends) }

        // Six writers, three through each node, append ten rows each at once: every append lands.
        let files = try (0..<6).map { try Self.csv(10_000 + $0 * 10..<10_000 + $0 * 10 + 10, in: dir, name: "w\($0).csv") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, file) in files.enumerated() {
                let repo = n % 2 == 0 ? first : second
                group.addTask { try await repo.importData(from: file, into: "reviews") }
            }
            try await group.waitForAll()
        }
        let reopened = try Repository.open(at: dir.appendingPathComponent("node1"))
        let dataset = try await reopened.dataset("reviews")
        #expect(dataset.rowCount == 1_060)
        let log = try await reopened.meta.refLog(since: .distantPast).filter { $0.name == "main" }
        #expect(log.count == 8)  // the first commit, the import, six appends
        let (checked, problems) = try await reopened.fsck()
        #expect(problems.isEmpty, "\(problems)")
        #expect(checked > 10)
        // Every object the catalog's commits reach is in the bucket, under the repository's prefix.
        let s3 = try #require(reopened.objects as? S3ObjectStore ?? (reopened.objects as? ReplacingObjectStore)?.base as? S3ObjectStore)
        #expect(try await s3.list().count >= checked)
    }

    /// One column of wide fragments comes through ranged GETs (`IPCReader.sparse`): the same rows as a local copy.
    @Test func aFewColumnsOfWideFragmentsReadThroughRangedGets() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let remote = try await Repository.initialize(at: dir.appendingPathComponent("remote"), backends: try BackendPair.servers.backends())
        let local = try await Repository.initialize(at: dir.appendingPathComponent("local"))
        let csv = try TestEnvironment.write("id,text,score\n" + (0..<3000).map { "\($0),\(String(repeating: "wide ü \($0) ", count: 40)),\(Double($0) / 8)" }
            .joined(separator: "\n") + "\n", to: "wide.csv", in: dir)
        for repo in [remote, local] { try await repo.importData(from: csv, into: "wide") }
        var scanned: [[Value]] = [[], []]
        for (i, repo) in [remote, local].enumerated() {
            try await repo.dataset("wide").scan(columns: ["score", "id"], includeRowID: true) { batch in
                for r in 0..<batch.length { scanned[i].append(contentsOf: batch.columns.map { $0.value(at: r) }) }
            }
        }
        #expect(scanned[0].count == 3 * 3000 && scanned[0] == scanned[1])  // _rowid, score, id of every row
        let positions = [2999, 0, 1500, 7]
        let taken = try await remote.dataset("wide").take(positions, columns: ["score"])
        #expect(taken.columns[0].values == positions.map { .float(Double($0) / 8) })
    }

    @Test func wrongCredentialsAreRefusedWithAClearError() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try BackendPair.freshPrefix()
        let (bucket, prefix) = try S3ObjectStore.parse(url)
        let client = try S3Client(endpoint: S3Endpoint(url: try BackendPair.server("LOAM_TEST_S3_ENDPOINT"), region: "us-east-1"), bucket: bucket,
                                  credentials: S3Credentials(accessKey: try BackendPair.server("LOAM_TEST_S3_KEY"), secretKey: "not-the-secret"))
        let store = try S3ObjectStore(client: client, prefix: prefix, staging: dir)
        do {
            _ = try await store.put(Array("x".utf8))
            Issue.record("a wrong secret was accepted")
        } catch let error as CloudError {
            #expect(error.description.contains("403"))
            #expect(error.description.contains("AWS_SECRET_ACCESS_KEY"))
            #expect(!error.description.contains("not-the-secret"))
        }
        let missing = try S3ObjectStore(client: S3Client(endpoint: client.endpoint, bucket: "no-such-bucket-\(UUID().uuidString.prefix(6).lowercased())",
                                                        credentials: S3Credentials(accessKey: try BackendPair.server("LOAM_TEST_S3_KEY"),
                                                                                   secretKey: try BackendPair.server("LOAM_TEST_S3_SECRET"))),
                                        prefix: "", staging: dir)
        await #expect(throws: CloudError.self) { _ = try await missing.list() }
    }

    @Test func anUnreachableServerIsNamedAfterTheRetries() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let client = try S3Client(endpoint: S3Endpoint(url: "http://127.0.0.1:9", region: "us-east-1"), bucket: "loam-test",
                                  credentials: S3Credentials(accessKey: "k", secretKey: "s"), attempts: 2)
        let store = try S3ObjectStore(client: client, prefix: "", staging: dir)
        do {
            _ = try await store.contains(ObjectID(hex: String(repeating: "a", count: 64)))
            Issue.record("an unreachable endpoint answered")
        } catch let error as CloudError {
            #expect(error.description.contains("failed 2 times"))
            #expect(error.description.contains("http://127.0.0.1:9"))
        }
        let meta = try PostgresMetaStore(url: "postgres://loam@127.0.0.1:9/loam", connectSeconds: 2)
        do {
            _ = try await meta.ref(named: "main")
            Issue.record("an unreachable catalog answered")
        } catch let error as CloudError {
            #expect(error.description.contains("cannot reach the PostgreSQL catalog at postgres://loam@127.0.0.1:9/loam"))
        }
    }
}
