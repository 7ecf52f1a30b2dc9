import Foundation
import Loam
import LoamQuery
import LoamFormat
import LoamTestSupport
import Testing

/// Random sequences of non-conflicting writes on two branches, merged, equal
/// what a plain dictionary model of the same writes says.
@Suite struct MergePropertyTests {
    typealias Model = [Int64: [Value]]  // id → [name, score]

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func mergedRowsEqualTheModel(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let (repo, dir) = try await repository(rows: 40)
        defer { try? FileManager.default.removeItem(at: dir) }
        var model = try await table(repo)
        try await repo.createBranch("side")

        // main deletes ids ≡ 0 (mod 4) and renames ids ≡ 2, 3; side deletes ids ≡ 1 and rescores ids ≡ 2, 3.
        // Both touch rows ≡ 2, 3 — in different columns — so every change combines.
        var appended: Int64 = 0
        for (branch, deleteResidue, column) in [("main", Int64(0), 0), ("side", Int64(1), 1)] {
            try await repo.switchBranch(branch)
            for step in 0..<Int.random(in: 3...8, using: &random) {
                switch Int.random(in: 0..<3, using: &random) {
                case 0:
                    let candidates = model.keys.filter { $0 < 40 && $0 % 4 == deleteResidue }.sorted()
                    guard let id = candidates.randomElement(using: &random) else { continue }
                    try await repo.delete(from: "t", where: "id = \(id)")
                    model[id] = nil
                case 1:
                    let candidates = model.keys.filter { $0 < 40 && $0 % 4 >= 2 }.sorted()
                    guard let id = candidates.randomElement(using: &random) else { continue }
                    let value: Value = column == 0 ? .string("\(branch)-\(step)") : .float(Double(step) + 0.25)
                    let text = column == 0 ? "\(branch)-\(step)" : "\(Double(step) + 0.25)"
                    try await repo.update("t", set: [(column == 0 ? "name" : "score", text)], where: "id = \(id)")
                    model[id]?[column] = value
                default:
                    appended += 1
                    let id = (branch == "main" ? 1000 : 2000) + appended
                    let csv = "id,name,score\n\(id),\(branch),\(appended)\n"
                    try await repo.importData(from: try TestEnvironment.write(csv, to: "a\(id).csv", in: dir), into: "t")
                    model[id] = [.string(branch), .float(Double(appended))]
                }
            }
        }
        try await repo.switchBranch("main")
        let result = try await repo.merge("side")
        #expect(result.conflicts.isEmpty, "\(result.conflicts)")
        #expect(try await table(repo) == model, "seed \(seed)")
        #expect(try await repo.fsck().problems.isEmpty)
    }
}
