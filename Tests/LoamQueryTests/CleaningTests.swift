import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamTestSupport
import Testing

@Suite struct CleaningTests {
    func repository(_ csv: String) async throws -> Repository {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-clean"))
        let file = repo.root.appendingPathComponent("d.csv")
        try Data(csv.utf8).write(to: file)
        try await repo.importData(from: file.path, into: "d", options: ImportOptions(schema: "x:float64"))
        return repo
    }

    func column(_ repo: Repository, _ sql: String) async throws -> [Value] {
        try await repo.query(sql).batches.flatMap { $0.columns[0].values }
    }

    @Test func everyOperationIsOneCommitThatHistoryCanUndo() async throws {
        let repo = try await repository("id,x,s\n1,1,\" A \"\n2,,b\n3,3,b\n3,3,b\n4,100,C\n5,,\n6,2,D\n7,4,e\n")
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let start = try await repo.resolve("HEAD")

        let dedupe = try await repo.clean("d", .dropDuplicates(columns: []))
        #expect(dedupe.rows == 1)
        #expect(try await column(repo, "SELECT count(*) FROM d") == [.int(7)])
        #expect(try await repo.clean("d", .dropDuplicates(columns: [])).commit == nil, "a second dedupe committed something")

        // Median of 1, 3, 100, 2, 4 is 3.
        #expect(try await repo.clean("d", .fillNulls(column: "x", with: .median)).rows == 2)
        #expect(try await column(repo, "SELECT x FROM d ORDER BY id") == [1, 3, 3, 100, 3, 2, 4].map { Value.float($0) })

        #expect(try await repo.clean("d", .trim(column: "s")).rows == 1)
        #expect(try await repo.clean("d", .lowercase(column: "s")).rows == 3)
        #expect(try await column(repo, "SELECT s FROM d ORDER BY id") == [.string("a"), .string("b"), .string("b"), .string("c"), .null, .string("d"), .string("e")])

        // Quartiles 2.5 and 3.5: values outside [1, 5] go, i.e. 100.
        #expect(try await repo.clean("d", .dropOutliers(column: "x", .iqr(1.5))).rows == 1)
        #expect(try await column(repo, "SELECT max(x) FROM d") == [.float(4)])

        #expect(try await repo.clean("d", .normalize(column: "x", .minmax)).rows == 6)
        #expect(try await column(repo, "SELECT x FROM d ORDER BY id") == [0, 2.0 / 3, 2.0 / 3, 2.0 / 3, 1.0 / 3, 1].map { Value.float($0) })

        #expect(try await repo.clean("d", .dropNulls(columns: ["s"])).rows == 1)
        let cast = try await repo.clean("d", .cast(column: "id", to: .utf8))
        #expect(cast.commit != nil)
        #expect(try await repo.dataset("d").schema.fields[0].type == .utf8)
        #expect(try await column(repo, "SELECT id FROM d ORDER BY id") == ["1", "2", "3", "6", "7"].map { Value.string($0) })

        // Every step was a commit; the original is still there.
        #expect(try await repo.log().count == 10)
        #expect(try await repo.dataset("d", at: start.hex).rowCount == 8)
        await #expect(throws: Error.self) { _ = try await repo.clean("d", .normalize(column: "nope", .zscore)) }
        await #expect { _ = try await repo.clean("d", .normalize(column: "s", .zscore)) } throws: { "\($0)".contains("cast it first") }
    }

    @Test func fillWithMeanModeOrValueAndZScores() async throws {
        let repo = try await repository("id,x,s\n1,2,a\n2,,a\n3,4,\n4,6,b\n")
        defer { try? FileManager.default.removeItem(at: repo.root) }
        #expect(try await repo.clean("d", .fillNulls(column: "x", with: .mean)).rows == 1)
        #expect(try await column(repo, "SELECT x FROM d WHERE id = 2") == [.float(4)])
        #expect(try await repo.clean("d", .fillNulls(column: "s", with: .mode)).rows == 1)
        #expect(try await column(repo, "SELECT s FROM d WHERE id = 3") == [.string("a")])
        #expect(try await repo.clean("d", .normalize(column: "x", .zscore)).rows == 4)
        let z = try await column(repo, "SELECT x FROM d ORDER BY id").compactMap(\.asDouble)
        #expect(abs(z.reduce(0, +)) < 1e-9 && abs(z[0] + 1.2247448713915890) < 1e-9)
        #expect(try await repo.clean("d", .fillNulls(column: "s", with: .value("z"))).commit == nil)  // no nulls left
    }
}
