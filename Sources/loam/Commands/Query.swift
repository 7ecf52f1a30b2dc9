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
            let outcome = try await repository.open().execute(sql, at: ref)
            guard let result = outcome.query else {
                print("\(outcome.verb) \(outcome.affected) (commit \(outcome.commit?.short ?? "none"))")
                return
            }
            if format == "arrow" {
                try Data(try IPCWriter.bytes(schema: result.schema, batches: result.batches)).write(to: URL(fileURLWithPath: output!))
                writeError("Wrote \(result.rowCount) rows to \(output!)")
                return
            }
            let text = render(result, format: format)
            if let output { try Data(text.utf8).write(to: URL(fileURLWithPath: output)) } else { print(text, terminator: "") }
        }
    }
}

/// A query result as an aligned table (with a row count), CSV or JSON lines.
func render(_ result: QueryResult, format: String) -> String {
    let fields = result.schema.fields
    var text = ""
    switch format {
    case "csv":
        text += fields.map { ValueText.csvField($0.name) }.joined(separator: ",") + "\n"
        for batch in result.batches {
            for r in 0..<batch.length {
                text += fields.indices.map { ValueText.csvField(ValueText.text(batch.columns[$0].value(at: r), fields[$0].type)) }.joined(separator: ",") + "\n"
            }
        }
    case "jsonl":
        for batch in result.batches {
            for r in 0..<batch.length {
                text += "{" + fields.indices.map { JSONText.quote(fields[$0].name) + ":" + ValueText.json(batch.columns[$0].value(at: r), fields[$0].type) }.joined(separator: ",") + "}\n"
            }
        }
    default:
        var rows: [[String]] = []
        for batch in result.batches {
            for r in 0..<batch.length { rows.append(fields.indices.map { ValueText.text(batch.columns[$0].value(at: r), fields[$0].type) ?? "NULL" }) }
        }
        text = formatTable(header: fields.map(\.name), rows: rows) + "(\(result.rowCount) row\(result.rowCount == 1 ? "" : "s"))\n"
    }
    return text
}
