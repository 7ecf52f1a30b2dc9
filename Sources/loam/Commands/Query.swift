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
            SELECT [DISTINCT] … [FROM dataset [AT 'ref'] [AS alias] [[LEFT|RIGHT|FULL|CROSS] JOIN …]] [WHERE …] \
            [GROUP BY …] [HAVING …] [QUALIFY …] [ORDER BY … [ASC|DESC] [NULLS FIRST|LAST]] [LIMIT n] [OFFSET n]; \
            WITH, UNION [ALL], EXCEPT, INTERSECT, IN / EXISTS / scalar subqueries, window functions (… OVER (PARTITION BY … \
            ORDER BY … ROWS BETWEEN …)), USING SAMPLE, EXPLAIN; COPY (query) TO 'file' [(FORMAT csv|jsonl|arrow)]. Expressions: arithmetic, comparisons, AND/OR/NOT, IS [NOT] NULL, BETWEEN, IN (…), \
            [I]LIKE, CASE, CAST / ::, ||. Writes: DELETE FROM d WHERE …; UPDATE d SET col = expr, … WHERE … (rows keep \
            their _rowid); INSERT INTO d [(cols)] VALUES (…); CREATE TABLE … AS SELECT; ALTER TABLE; DROP TABLE.

            """ + FunctionRegistry.helpText)

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The SQL statement.") var sql: String
    @Option(help: "The ref to read when FROM has no AT (default HEAD).") var ref = "HEAD"
    @Option(help: "How to print rows.") var format = QueryFormat.table
    @Option(name: .short, help: "Write to this file instead of standard output (required for arrow).") var output: String?
    @Flag(help: "Print JSON: rows as JSON lines (like --format jsonl), a write as {verb, affected, commit}.") var json = false
    @Option(help: "Stop the statement after this many seconds (nothing is changed).") var timeout: Double?
    @Option(help: "Memory the statement may hold to sort, join, group or deduplicate, e.g. 2GB (default: half the machine's).")
    var memoryLimit: String?

    func budget() throws -> Int {
        guard let memoryLimit else { return MemoryBudget.defaultLimit }
        guard let bytes = MemoryBudget.parse(memoryLimit) else { throw ValidationError("--memory-limit takes a size such as 2GB or 512MB") }
        return bytes
    }

    func validate() throws {
        if format == .arrow && output == nil { throw ValidationError("--format arrow needs -o FILE") }
        if json && format != .table && format != .jsonl { throw ValidationError("--json prints JSON lines; leave out --format \(format.rawValue)") }
    }

    func run() async throws {
        try await reportingErrors { try await StatementLimit.run(timeout: timeout, memoryLimit: try budget()) {
            let repo = try repository.open()
            // COPY (query) TO 'file' [(FORMAT …)]: the rows stream into the file, as --format … -o FILE would write them.
            if let copy = try CopyStatement.parse(sql) {
                guard let format = ExportFormat(rawValue: copy.format) else { throw ValidationError("COPY cannot write \(copy.format)") }
                let writer = try BatchWriter(format: format, path: copy.path)
                let outcome: StatementResult
                do { outcome = try await repo.execute(copy.query, at: ref) { try writer.write($0) } } catch {
                    writer.abandon()
                    throw error
                }
                guard let result = outcome.query else {
                    writer.abandon()
                    throw ValidationError("COPY takes a query (SELECT …), not a write")
                }
                print("COPY \(try writer.finish(schema: result.schema)) rows to \(copy.path)")
                return
            }
            let format = json ? .jsonl : self.format
            if format != .table {  // rows stream to the output as the scan produces them
                let writer = try BatchWriter(format: ExportFormat(rawValue: format.rawValue)!, path: output ?? "-")
                let outcome: StatementResult
                do { outcome = try await repo.execute(sql, at: ref) { try writer.write($0) } } catch {
                    writer.abandon()
                    throw error
                }
                guard let result = outcome.query else {
                    writer.abandon()
                    print(json ? try JSONOutput.text(WriteOutcome(outcome)) : "\(outcome.verb) \(outcome.affected) (commit \(outcome.commit?.short ?? "none"))")
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
            // A plan prints as the indented tree it is, not as a table.
            let text = sql.trimmingCharacters(in: .whitespacesAndNewlines).uppercased().hasPrefix("EXPLAIN")
                ? result.batches.flatMap { b in (0..<b.length).map { ValueText.text(b.columns[0].value(at: $0), .utf8) ?? "" } }.joined(separator: "\n") + "\n"
                : render(result)
            if let output { try Data(text.utf8).write(to: URL(fileURLWithPath: output)) } else { print(text, terminator: "") }
        } }
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
