import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamStorage

struct Query: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a SQL query, or a write (DELETE, UPDATE, INSERT) as one commit.",
        discussion: """
            SELECT [DISTINCT] … FROM dataset [AT 'ref'] [AS alias] [WHERE …] [GROUP BY …] [HAVING …] \
            [ORDER BY … [ASC|DESC] [NULLS FIRST|LAST]] [LIMIT n] [OFFSET n]. Expressions: arithmetic, comparisons, \
            AND/OR/NOT, IS [NOT] NULL, BETWEEN, IN (…), [I]LIKE, CASE, CAST / ::, ||; functions lower, upper, length, \
            trim, substr, replace, concat, abs, round, floor, ceil, sqrt, coalesce, nullif; aggregates count \
            (also count(*) and count(DISTINCT …)), sum, avg, min, max. Writes: DELETE FROM d WHERE …;             UPDATE d SET col = expr, … WHERE … (rows keep their _rowid); INSERT INTO d [(cols)] VALUES (…), (…).
            """)

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The SQL statement.") var sql: String
    @Option(help: "The ref to read when FROM has no AT (default HEAD).") var ref = "HEAD"
    @Option(help: "table, csv, jsonl or arrow.") var format = "table"
    @Option(name: .short, help: "Write to this file instead of standard output (required for arrow).") var output: String?

    func validate() throws {
        guard ["table", "csv", "jsonl", "arrow"].contains(format) else { throw ValidationError("--format must be table, csv, jsonl or arrow") }
        if format == "arrow" && output == nil { throw ValidationError("--format arrow needs -o FILE") }
    }

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            if format != "table" {  // rows stream to the output as the scan produces them
                let writer = try BatchWriter(format: ExportFormat(rawValue: format)!, path: output ?? "-")
                let outcome: StatementResult
                do { outcome = try await repo.execute(sql, at: ref) { try writer.write($0) } } catch {
                    writer.abandon()
                    throw error
                }
                guard let result = outcome.query else {
                    writer.abandon()
                    print("\(outcome.verb) \(outcome.affected) (commit \(outcome.commit?.short ?? "none"))")
                    return
                }
                let rows = try writer.finish(schema: result.schema)
                if output != nil { writeError("Wrote \(rows) rows to \(output!)") }
                return
            }
            let outcome = try await repo.execute(sql, at: ref)
            guard let result = outcome.query else {
                print("\(outcome.verb) \(outcome.affected) (commit \(outcome.commit?.short ?? "none"))")
                return
            }
            let text = render(result)
            if let output { try Data(text.utf8).write(to: URL(fileURLWithPath: output)) } else { print(text, terminator: "") }
        }
    }
}

/// A query result as an aligned table, with a row count.
func render(_ result: QueryResult) -> String {
    let fields = result.schema.fields
    var rows: [[String]] = []
    for batch in result.batches {
        for r in 0..<batch.length { rows.append(fields.indices.map { ValueText.text(batch.columns[$0].value(at: r), fields[$0].type) ?? "NULL" }) }
    }
    return formatTable(header: fields.map(\.name), rows: rows) + "(\(result.rowCount) row\(result.rowCount == 1 ? "" : "s"))\n"
}
