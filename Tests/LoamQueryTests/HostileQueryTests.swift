import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamTestSupport
import Testing

/// Statements built to crash a server: each answers or fails with a clear error, and the
/// process lives (a trap or a stack overflow here would end the whole test run).
@Suite struct HostileQueryTests {
    func repository() async throws -> Repository {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-hostile"))
        let file = repo.root.appendingPathComponent("t.csv")
        try Data(("id,d\n" + (0..<50).map { "\($0),19\(50 + $0)-0\($0 % 9 + 1)-1\($0 % 9)\n" }.joined()).utf8).write(to: file)
        try await repo.importData(from: file.path, into: "t", options: ImportOptions(schema: "d:date32"))
        return repo
    }

    func values(_ repo: Repository, _ sql: String) async throws -> [Value] {
        try await repo.query(sql).batches.flatMap { $0.columns[0].values }
    }

    func expectError(_ repo: Repository, _ sql: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            _ = try await repo.query(sql)
            Issue.record("expected an error containing '\(message)'", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(message), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func longFlatBooleanChainsAnswer() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        // 20,000 OR terms (about 230 KB of SQL): balanced, so a few levels deep.
        let or = (0..<20_000).map { "id = \($0 * 7)" }.joined(separator: " OR ")
        #expect(try await values(repo, "SELECT id FROM t WHERE \(or) ORDER BY id") == stride(from: 0, to: 50, by: 7).map { .int(Int64($0)) })
        let and = (0..<5_000).map { "id <> \($0 + 3)" }.joined(separator: " AND ")
        #expect(try await values(repo, "SELECT count(*) FROM t WHERE \(and)") == [.int(3)])
        let flags = (0..<5_000).map { "id = \($0 + 45)" }.joined(separator: " OR ")
        #expect(try await values(repo, "SELECT \(flags) FROM t ORDER BY id").filter { $0 == .bool(true) }.count == 5)
    }

    @Test func deepAndLongArithmeticIsRefusedBeforeItCanOverflowTheStack() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        #expect(try await values(repo, "SELECT \(Array(repeating: "1", count: 150).joined(separator: " + "))") == [.int(150)])
        await expectError(repo, "SELECT \(Array(repeating: "1", count: 5_000).joined(separator: " + "))", "nested more than 200 levels")
        await expectError(repo, "SELECT \(Array(repeating: "2", count: 5_000).joined(separator: " * "))", "nested more than 200 levels")
        await expectError(repo, "SELECT " + String(repeating: "(", count: 5_000) + "1" + String(repeating: ")", count: 5_000), "nested more than")
        await expectError(repo, "SELECT " + String(repeating: "abs(", count: 5_000) + "1" + String(repeating: ")", count: 5_000), "nested more than")
        await expectError(repo, "SELECT " + String(repeating: "NOT ", count: 5_000) + "true", "nested more than")
        await expectError(repo, "SELECT " + String(repeating: "- ", count: 5_000) + "1", "nested more than")
        await expectError(repo, "SELECT " + String(repeating: "[", count: 5_000) + "1" + String(repeating: "]", count: 5_000), "nested more than")
    }

    @Test func deeplyNestedSubqueriesAreRefused() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        func from(_ n: Int) -> String { "SELECT count(*) FROM " + String(repeating: "(SELECT * FROM ", count: n) + "t" + String(repeating: ")", count: n) }
        #expect(try await values(repo, from(100)) == [.int(50)])
        await expectError(repo, from(3_000), "nested more than")
        func inside(_ n: Int) -> String { "SELECT id FROM t WHERE id IN " + String(repeating: "(SELECT id FROM t WHERE id IN ", count: n) + "(SELECT 1)" + String(repeating: ")", count: n) }
        #expect(try await values(repo, inside(20)) == [.int(1)])
        await expectError(repo, inside(2_000), "nested more than")
        let exists = "SELECT count(*) FROM t WHERE EXISTS " + String(repeating: "(SELECT 1 FROM t AS u WHERE EXISTS ", count: 2_000) + "(SELECT 1)" + String(repeating: ")", count: 2_000)
        await expectError(repo, exists, "nested more than")
    }

    @Test func datesAtTheLimitsOfTheirTypesAreErrorsNotTraps() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        await expectError(repo, "SELECT date_trunc('year', CAST(-9223372036854775807 AS TIMESTAMP))", "before the first one its unit holds")
        await expectError(repo, "SELECT date_trunc('month', CAST(-2147483648 AS DATE))", "before the first date a date32 holds")
        await expectError(repo, "SELECT CAST(CAST(2147483647 AS DATE) AS TIMESTAMP)", "out of range as a timestamp")
        // A cast between dates and timestamps rescales days and ticks (it used to relabel them).
        #expect(try await values(repo, "SELECT CAST(CAST('2024-03-01' AS DATE) AS TIMESTAMP)")
            == [.int(Int64(CalendarMath.days(year: 2024, month: 3, day: 1)) * 86_400_000_000)])
        #expect(try await values(repo, "SELECT CAST(CAST('1969-12-31 23:00:00' AS TIMESTAMP) AS DATE)") == [.int(-1)])
        #expect(try await values(repo, "SELECT count(*) FROM t WHERE CAST(CAST(d AS TIMESTAMP) AS DATE) = d") == [.int(50)])
    }

    @Test func deeplyNestedTypesInASchemaAreRefused() async throws {
        #expect(throws: LoamError.self) { try SchemaSpec.parse("x:" + String(repeating: "list<", count: 5_000) + "int64" + String(repeating: ">", count: 5_000)) }
        #expect(try SchemaSpec.parse("x:list<list<int64>>").count == 1)
    }

    @Test func aStatementStopsAtItsDeadlineAndSetChangesIt() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let heavy = "SELECT count(*) FROM t AS a, " + (0..<12).map { "t AS x\($0)" }.joined(separator: ", ")  // 50^13 rows
        await #expect(throws: StatementStopped.timedOut(seconds: 0.3)) { try await StatementLimit.run(timeout: 0.3) { try await repo.query(heavy) } }
        let session = SQLSession(repository: repo)
        #expect(try await session.execute("SET statement_timeout = '200ms'").verb == "SET")
        #expect(session.statementTimeout == 0.2)
        await #expect(throws: StatementStopped.timedOut(seconds: 0.2)) { _ = try await session.execute(heavy) }
        _ = try await session.execute("SET statement_timeout TO 1500")  // milliseconds, as in PostgreSQL
        #expect(session.statementTimeout == 1.5)
        _ = try await session.execute("SET statement_timeout = 0")
        #expect(session.statementTimeout == nil)
        await #expect(throws: SQLError.self) { _ = try await session.execute("SET statement_timeout = 'soon'") }
        // A statement stopped mid-write changes nothing.
        let before = try await repo.resolve("HEAD")
        await #expect(throws: StatementStopped.self) {
            try await StatementLimit.run(timeout: 0.3) { try await repo.execute("CREATE TABLE big AS \(heavy)") }
        }
        #expect(try await repo.resolve("HEAD") == before)
    }

    @Test func aBacktrackingRegularExpressionIsStoppedNotRunForMinutes() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        // Outside the automaton's subset (a lookahead), or on a text it hands to ICU (a line terminator), ICU runs under the guard;
        let xs = String(repeating: "x", count: 40)
        await expectError(repo, "SELECT regexp_matches('\(xs)', '(x+x+)+(?=y)')", "backtracked for more than 0.25 s")
        await expectError(repo, "SELECT regexp_matches('\(xs)\n', '(x+x+)+y')", "backtracked for more than 0.25 s")
        // inside it, the same pattern answers at once.
        #expect(try await values(repo, "SELECT regexp_matches('\(xs)', '(x+x+)+y')") == [.bool(false)])
        #expect(try await values(repo, "SELECT regexp_matches('\(xs)y', '(x+x+)+y')") == [.bool(true)])
        #expect(try await values(repo, "SELECT regexp_replace('a1b22c333', '([0-9]+)', '<$1>')") == [.string("a<1>b<22>c<333>")])
        #expect(try await values(repo, "SELECT regexp_replace('héllo wörld ö', 'ö', 'o')") == [.string("héllo world o")])
    }

    /// A nested-loop join (no equality to hash on) holds its rows in memory: past the budget it stops with a
    /// clear error, whatever sorts, groups or deduplicates its output (those spill: `SpillTests`).
    @Test func operatorsThatHoldRowsStopAtTheMemoryLimit() async throws {
        let repo = try await repository()
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let big = "(SELECT a.id * 10000 + b.id * 100 + c.id AS k, 'row ' || a.id AS s FROM t AS a, t AS b, t AS c)"  // 125,000 rows
        for (sql, what) in [("SELECT k FROM \(big) AS x ORDER BY s DESC, k", "ORDER BY"),
                            ("SELECT DISTINCT k, s FROM \(big) AS x", "DISTINCT"),
                            ("SELECT k, count(*) FROM \(big) AS x GROUP BY k", "GROUP BY"),
                            ("SELECT count(*) FROM t AS a JOIN t AS b ON a.id <= b.id JOIN t AS c ON b.id <= c.id", "join")] {
            do {
                _ = try await StatementLimit.run(timeout: nil, memoryLimit: 1 << 20) { try await repo.query(sql) }
                Issue.record("\(what): answered within 1 MiB")
            } catch let error as StatementStopped {
                #expect("\(error)".contains("memory_limit of 1.0 MiB"), "\(what): \(error)")
            }
            // The same statement with room answers.
            #expect(try await StatementLimit.run(timeout: nil, memoryLimit: 1 << 30) { try await repo.query(sql) }.rowCount > 0, "\(what)")
        }
        let session = SQLSession(repository: repo)
        _ = try await session.execute("SET memory_limit = '64MB'")
        #expect(session.memoryLimit == 64_000_000)
        _ = try await session.execute("SET memory_limit TO '1.5GiB'")
        #expect(session.memoryLimit == 1_610_612_736)
        await #expect(throws: SQLError.self) { _ = try await session.execute("SET memory_limit = 'lots'") }
    }
}
