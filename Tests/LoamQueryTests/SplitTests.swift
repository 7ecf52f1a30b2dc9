import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamTestSupport
import Testing

/// `split_bucket` and split reads: a row's split depends on its `_rowid` and the seed only.
@Suite struct SplitTests {
    /// A fresh repository with dataset `t` imported from this CSV text.
    func repository(_ csv: String) async throws -> Repository {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-split"))
        let file = repo.root.appendingPathComponent("t.csv")
        try Data(csv.utf8).write(to: file)
        try await repo.importData(from: file.path, into: "t")
        return repo
    }

    func splits(_ repo: Repository) async throws -> [UInt64: String] {
        let result = try await repo.query("SELECT _rowid, split_bucket(_rowid, 42, 0.8, 0.1, 0.1) FROM t")
        var out: [UInt64: String] = [:]
        for batch in result.batches {
            for r in 0..<batch.length {
                guard case .uint(let id) = batch.columns[0].value(at: r), case .string(let s) = batch.columns[1].value(at: r) else {
                    Issue.record("row \(r): \(batch.row(r))")
                    continue
                }
                out[id] = s
            }
        }
        return out
    }

    @Test func aRowKeepsItsSplitWhenRowsAreAppendedOrDeleted() async throws {
        let csv = "id\n" + (0..<3000).map(String.init).joined(separator: "\n") + "\n"
        let repo = try await repository(csv)
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let before = try await splits(repo)
        #expect(before.count == 3000)
        // The proportions are those asked for (within sampling noise: ±3 standard deviations).
        let train = Double(before.values.filter { $0 == "train" }.count) / 3000
        #expect(abs(train - 0.8) < 3 * (0.8 * 0.2 / 3000).squareRoot())
        #expect(Set(before.values) == ["train", "val", "test"])

        try await repo.importData(bytes: Array(csv.utf8).withUnsafeBytes { ByteStorage(copying: $0) }, named: "more.csv", format: .csv, into: "t")  // 3,000 more rows
        try await repo.delete(from: "t", where: "id % 3 = 0")
        let after = try await splits(repo)
        #expect(after.count == 4000)
        for (id, split) in after where before[id] != nil { #expect(before[id] == split, "row \(id) moved from \(before[id]!) to \(split)") }

        // An epoch over one split reads exactly that split's rows.
        let ds = try await repo.dataset("t")
        var read = EpochRead(columns: ["id"], batchSize: 100, shuffle: true, seed: 7)
        read.split = SplitRead(name: "val", seed: 42, fractions: [0.8, 0.1, 0.1])
        var ids: [UInt64] = []
        try await ds.epochBatches(read, includeRowID: true) { _, batch in
            for r in 0..<batch.length { if case .uint(let id) = batch.columns[0].value(at: r) { ids.append(id) } }
        }
        #expect(ids.count == Set(ids).count)
        #expect(Set(ids) == Set(after.filter { $0.value == "val" }.keys))
        // Lineage keeps the split: it survives the round trip through the run-input record.
        let decoded = try JSONDecoder().decode(EpochRead.self, from: try JSONEncoder().encode(read))
        #expect(decoded.split == read.split)
    }

    @Test func badSplitsAreErrorsThatNameTheChoices() async throws {
        let repo = try await repository("id\n1\n")
        defer { try? FileManager.default.removeItem(at: repo.root) }
        await #expect(throws: SQLError.self) { _ = try await repo.query("SELECT split_bucket(_rowid, 1, 0.8, 0.5) FROM t") }
        await #expect(throws: SQLError.self) { _ = try await repo.query("SELECT split_bucket(_rowid, 'x', 0.8) FROM t") }
        var read = EpochRead()
        read.split = SplitRead(name: "validation", seed: 0, fractions: [0.8, 0.1, 0.1])
        do {
            try await repo.dataset("t").epochBatches(read) { _, _ in }
            Issue.record("an unknown split name was accepted")
        } catch {
            #expect("\(error)".contains("splits: train, val, test"))
        }
    }
}
