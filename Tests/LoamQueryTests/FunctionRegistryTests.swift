import Foundation
import Loam
import LoamFormat
import LoamGovernance
@testable import LoamQuery
import LoamTestSupport
import Testing

/// The function registry is the one list: every entry binds with its arity, evaluates to its
/// example's answer, and `docs/FUNCTIONS.md` is exactly what the registry writes.
@Suite struct FunctionRegistryTests {
    @Test func everyFunctionEvaluatesToItsDocumentedAnswer() async throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-functions")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        try await repo.importData(from: try TestEnvironment.write("x\n1\n", to: "one.csv", in: dir), into: "one")
        Anonymizer.registerSQLFunctions()  // the pii_* functions, as the CLI and server load them
        setenv("LOAM_HASH_KEY", "a test key of sixteen bytes", 1)
        var wrong: [String] = []
        for function in FunctionRegistry.all {
            let result = try await repo.query("SELECT \(function.example.call) FROM one")
            let batch = try #require(result.batches.first)
            let answer = ValueText.text(batch.columns[0].value(at: 0), result.schema.fields[0].type) ?? "NULL"
            if answer != function.example.answer { wrong.append("\(function.example.call) = \(answer), documented \(function.example.answer)") }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    @Test func arityAndArgumentKindsAreCheckedFromTheRegistry() async throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-functions")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        try await repo.importData(from: try TestEnvironment.write("x,s\n1,a\n", to: "one.csv", in: dir), into: "one")
        await #expect { try await repo.query("SELECT substr('a') FROM one") } throws: { ($0 as? SQLError)?.message == "substr() takes 2 to 3 argument(s), got 1" }
        await #expect { try await repo.query("SELECT avg(s) FROM one") } throws: { ($0 as? SQLError)?.message == "avg() needs numbers, not string" }
        await #expect { try await repo.query("SELECT lowr(s) FROM one") } throws: { ($0 as? SQLError)?.message == "unknown function lowr() (did you mean lower()?)" }
        #expect(Set(FunctionRegistry.all.map(\.name)).count == FunctionRegistry.all.count)
    }

    /// `LOAM_UPDATE_DOCS=1 swift test --filter FunctionRegistry` writes the page again after a registry change.
    @Test func theReferencePageIsWrittenFromTheRegistry() throws {
        let url = TestEnvironment.packageRoot.appendingPathComponent("docs/FUNCTIONS.md")
        if ProcessInfo.processInfo.environment["LOAM_UPDATE_DOCS"] == "1" { try FunctionRegistry.markdown.write(to: url, atomically: true, encoding: .utf8) }
        let page = try String(contentsOf: url, encoding: .utf8)
        #expect(page == FunctionRegistry.markdown, "docs/FUNCTIONS.md is stale: write it again from FunctionRegistry.markdown")
    }
}
