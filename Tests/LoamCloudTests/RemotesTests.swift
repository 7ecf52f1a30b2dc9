import Foundation
import Loam
import LoamCloud
import LoamStorage
import LoamTestSupport
import Testing

/// Clone, fetch and push between repositories: from the embedded default onto each backend pair, so a
/// repository moves to PostgreSQL + S3 with its whole history, and commits travel back and forth.
@Suite struct RemotesTests {
    init() throws {
        if BackendPair.available.contains(.servers) { for (name, value) in try BackendPair.s3Environment() { setenv(name, value, 1) } }
    }

    /// The dataset at `ref` as `loam export` writes it (CSV, with row ids).
    static func rows(_ repo: Repository, _ ref: String) async throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await repo.export("t", at: ref, format: .csv, to: file, includeRowID: true)
        return try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test(arguments: BackendPair.available)
    func cloneCarriesEveryVersionAndPushFetchMoveCommits(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try await Repository.initialize(at: dir.appendingPathComponent("local"))
        try await source.importData(from: TestEnvironment.write("id,text\n" + (0..<500).map { "\($0),rów \($0)" }.joined(separator: "\n") + "\n", to: "a.csv", in: dir),
                                    into: "t", options: { var o = ImportOptions(); o.fragmentRows = 100; return o }())
        _ = try await source.delete(from: "t", message: "drop some", matching: { entry, _ in Array(stride(from: 0, to: entry.rows, by: 7)) })
        try await source.meta.createRef(Ref(name: "v1", kind: .tag, commit: source.meta.ref(named: "main")!.commit))
        _ = try await source.createBranch("exp")

        let (copy, transfer) = try await Repository.clone(from: source, to: dir.appendingPathComponent("copy"), backends: try pair.backends())
        #expect(transfer.objects > 10)
        for ref in ["v1", "main", "HEAD~1", "exp"] { #expect(try await Self.rows(copy, ref) == Self.rows(source, ref), "\(ref)") }
        #expect(try await copy.fsck().problems.isEmpty)
        #expect(try await copy.meta.refs(kind: .tag).map(\.name) == ["v1"])

        // A commit here, pushed there: only the new objects travel, and the branch moves forward.
        try await source.importData(from: TestEnvironment.write("id,text\n1000,new\n", to: "b.csv", in: dir), into: "t")
        let pushed = try await source.push(to: copy, branch: "main")
        #expect(pushed.objects >= 3 && pushed.objects < transfer.objects)  // commit, manifest, fragment
        #expect(try await Self.rows(copy, "main") == Self.rows(source, "main"))
        #expect(try await source.push(to: copy, branch: "main").objects == 0)  // nothing left to send

        // A commit there makes a push from here a non-fast-forward: refused, unless forced.
        try await copy.importData(from: TestEnvironment.write("id,text\n2000,theirs\n", to: "c.csv", in: dir), into: "t")
        try await source.importData(from: TestEnvironment.write("id,text\n3000,ours\n", to: "d.csv", in: dir), into: "t")
        await #expect(throws: LoamError.self) { _ = try await source.push(to: copy, branch: "main") }
        // Fetch brings theirs here as origin/main, beside main.
        let fetched = try await source.fetch(from: copy)
        #expect(fetched.refs.contains { $0.name == "origin/main" })
        #expect(try await Self.rows(source, "origin/main") == Self.rows(copy, "main"))
        #expect(try await source.fsck().problems.isEmpty)
        _ = try await source.push(to: copy, branch: "main", force: true)
        #expect(try await Self.rows(copy, "main") == Self.rows(source, "main"))
    }
}
