import Foundation
import Loam
import LoamFormat
import LoamQuery
@testable import LoamQuality
import LoamTable
import LoamTestSupport
import Testing

/// Every expectation kind, holding and broken, on a dataset whose breaking rows are known by construction.
@Suite struct ExpectationTests {
    /// 200 rows: id 0…199 (id 7 twice), code in A/B/C (row 13: "Z"), score id/200 (rows 5 and 6: null), email
    /// valid except rows 40 and 41, user in 0…9 (row 99: 77, no such user); users 0…9.
    static func repository(in dir: URL) async throws -> (Repository, [UInt64]) {
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let n = 200
        let fields = [Field(name: "id", type: .int64), Field(name: "code", type: .utf8), Field(name: "score", type: .float64),
                      Field(name: "email", type: .utf8), Field(name: "user", type: .int64)]
        let ids = try ArrowArray.fromValues((0..<n).map { .int(Int64($0 == 8 ? 7 : $0)) }, type: .int64)
        let codes = try ArrowArray.fromValues((0..<n).map { .string($0 == 13 ? "Z" : ["A", "B", "C"][$0 % 3]) }, type: .utf8)
        let scores = try ArrowArray.fromValues((0..<n).map { $0 == 5 || $0 == 6 ? .null : .float(Double($0) / 200) }, type: .float64)
        let emails = try ArrowArray.fromValues((0..<n).map { .string($0 == 40 || $0 == 41 ? "nobody" : "u\($0)@example.org") }, type: .utf8)
        let users = try ArrowArray.fromValues((0..<n).map { .int($0 == 99 ? 77 : Int64($0 % 10)) }, type: .int64)
        let schema = Schema(fields: fields)
        _ = try await repo.createDataset("t", schema: schema, batches: [RecordBatch(schema: schema, columns: [ids, codes, scores, emails, users])], message: "t")
        let userSchema = Schema(fields: [Field(name: "id", type: .int64)])
        _ = try await repo.createDataset("users", schema: userSchema,
                                         batches: [RecordBatch(schema: userSchema, columns: [try ArrowArray.fromValues((0..<10).map { .int(Int64($0)) }, type: .int64)])],
                                         message: "users")
        var rowIDs: [UInt64] = []
        try await repo.dataset("t").scan(columns: [], includeRowID: true) { b in for i in 0..<b.length { rowIDs.append(b.columns[0].buffers[1].load(i, as: UInt64.self)) } }
        return (repo, rowIDs)
    }

    @Test func eachKindHoldsOrNamesTheRowsThatBreakIt() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (repo, rows) = try await Self.repository(in: dir)
        let file = """
            [[expect]]
            kind = "not_null"
            column = "id"
            [[expect]]
            kind = "not_null"
            column = "score"   # rows 5, 6
            [[expect]]
            kind = "unique"
            columns = ["id"]   # rows 7, 8 share id 7
            [[expect]]
            kind = "unique"
            columns = ["id", "code"]
            [[expect]]
            kind = "range"
            column = "score"
            min = 0
            max = 0.99
            [[expect]]
            kind = "range"
            column = "score"
            max = 0.5          # rows 101…199
            name = "low scores"
            [[expect]]
            kind = "in"
            column = "code"
            values = ["A", "B", "C"]   # row 13
            [[expect]]
            kind = "regex"
            column = "email"
            pattern = '^[^@]+@[^@]+$'  # rows 40, 41
            [[expect]]
            kind = "length"
            column = "email"
            min = 7
            [[expect]]
            kind = "rows"
            min = 200
            max = 200
            [[expect]]
            kind = "rows"
            min = 500
            [[expect]]
            kind = "foreign_key"
            column = "user"
            references = "users.id"    # row 99
            [[expect]]
            kind = "sql"
            where = "score IS NULL OR score < 0.9"   # rows 180…199
            [[expect]]
            kind = "no_rows"
            query = "SELECT _rowid FROM t WHERE code = 'Z'"   # row 13
            [[expect]]
            kind = "mean"
            column = "score"
            min = 0.49
            max = 0.51
            [[expect]]
            kind = "quantile"
            column = "score"
            q = 0.5
            max = 0.3
            [[expect]]
            kind = "share"
            column = "code"
            value = "A"
            min = 0.3
            max = 0.4
            """
        try await Checker(repository: repo).setExpectations(file, of: "t")
        let report = try await Checker(repository: repo).check("t", samples: 5)
        let byName = Dictionary(uniqueKeysWithValues: report.results.map { ($0.name, $0) })
        func expect(_ name: String, failing: Int, rows expected: [Int]? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
            guard let r = byName[name] else { Issue.record("no result \(name) in \(byName.keys.sorted())", sourceLocation: sourceLocation); return }
            #expect(r.failing == failing && r.passed == (failing == 0), "\(name): \(r.failing)", sourceLocation: sourceLocation)
            if let expected { #expect(r.sampleRowIDs == expected.map { rows[$0] }, "\(name)", sourceLocation: sourceLocation) }
        }
        expect("not_null(id)", failing: 0)
        expect("not_null(score)", failing: 2, rows: [5, 6])
        expect("unique(id)", failing: 2, rows: [7, 8])
        expect("unique(id, code)", failing: 0)  // rows 7 and 8 differ in code
        expect("range(score) >= 0, <= 0.99", failing: 1, rows: [199])
        expect("low scores", failing: 99, rows: [101, 102, 103, 104, 105])
        expect("in(code)", failing: 1, rows: [13])
        expect("regex(email)", failing: 2, rows: [40, 41])
        expect("length(email) >= 7", failing: 2, rows: [40, 41])
        expect("rows >= 200, <= 200", failing: 0)
        expect("rows >= 500", failing: 1)
        expect("foreign_key(user)", failing: 1, rows: [99])
        expect("where score IS NULL OR score < 0.9", failing: 20, rows: [180, 181, 182, 183, 184])
        expect("no rows from SELECT _rowid FROM t WHERE code = 'Z'", failing: 1, rows: [13])
        expect("mean(score) >= 0.49, <= 0.51", failing: 0)
        expect("quantile(score, 0.5) <= 0.3", failing: 1)
        expect("share(code = A) >= 0.3, <= 0.4", failing: 0)
        #expect(abs((byName["share(code = A) >= 0.3, <= 0.4"]?.observed ?? 0) - 67.0 / 200) < 1e-12)  // rows 0, 3, …, 198
        #expect(!report.passed && report.rows == 200)
        #expect(report.text.contains("✗ in(code)  — 1 row, _rowid \(rows[13])"))
        // The expectations are versioned: the commit before them has none.
        await #expect(throws: QualityError.self) { _ = try await Checker(repository: repo).check("t", at: "HEAD~1") }
    }

    @Test func aBadFileIsRefusedWithItsLineAndNothingIsCommitted() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (repo, _) = try await Self.repository(in: dir)
        let head = try await repo.resolve("HEAD")
        let cases: [(String, String)] = [
            ("[[expect]]\nkind = \"rnage\"\ncolumn = \"id\"\n", "line 1: unknown kind \"rnage\""),
            ("[[expect]]\nkind = \"range\"\ncolumn = \"id\"\n", "line 1: range needs min or max"),
            ("[[expect]]\nkind = \"range\"\ncolumn = \"id\"\nmin = 5\nmax = 1\n", "min 5.0 is above max 1.0"),
            ("[[expect]]\nkind = \"not_null\"\ncolumn = \"nope\"\n", "'t' has no column 'nope'"),
            ("[[expect]]\nkind = \"not_null\"\ncolumn = \"id\"\npattern = \"x\"\n", "not_null takes no pattern"),
            ("kind = \"not_null\"\n", "line 1: kind = … comes before the first [[expect]]"),
            ("[[expect]]\nkind = \"regex\"\ncolumn = \"email\"\npattern = \"(\"\n", "is not a regular expression"),
            ("[[expect]]\nkind = \"in\"\ncolumn = \"code\"\nvalues = [\"A\", \"B\"\n", "line 4: an array's items"),
            ("[other]\n", "only [[expect]] tables"),
        ]
        for (text, message) in cases {
            do {
                try await Checker(repository: repo).setExpectations(text, of: "t")
                Issue.record("accepted: \(text)")
            } catch let error as QualityError {
                #expect(error.description.contains(message), "\(error) — wanted \(message)")
            }
        }
        #expect(try await repo.resolve("HEAD") == head)
    }
}
