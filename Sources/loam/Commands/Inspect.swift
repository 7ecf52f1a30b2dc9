import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamTable

struct Datasets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the datasets at a ref, with row counts.")

    @OptionGroup var repository: RepositoryOptions
    @Option(help: "A branch, tag or commit (default: HEAD).") var ref = "HEAD"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let summaries = try await repository.open().datasetSummaries(at: ref)
            if json {
                print(try JSONOutput.text(summaries))
            } else if summaries.isEmpty {
                print("No datasets at \(ref). Import one with: loam import FILE --dataset NAME")
            } else {
                printTable(header: ["dataset", "rows", "columns", "fragments"],
                           rows: summaries.map { [$0.name, String($0.rows), String($0.columns.count), String($0.fragments)] })
            }
        }
    }
}

struct Schema: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a dataset's columns and types.")

    @OptionGroup var target: DatasetAtRef
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let ds = try await target.open()
            if json {
                print(try JSONOutput.text(DatasetView(ds)))
            } else {
                printTable(header: ["column", "type", "nullable"],
                           rows: ds.schema.fields.map { [$0.name, $0.type.name, $0.nullable ? "yes" : "no"] })
            }
        }
    }
}

struct Head: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the first rows of a dataset.")

    @OptionGroup var target: DatasetAtRef
    @Option(name: .short, help: "How many rows.") var n = 10
    @Option(help: "Comma-separated columns to show (default: all).") var columns: String?
    @Flag(help: "Show the _rowid pseudo-column.") var rowid = false
    @Flag(help: "Print one JSON object per row.") var json = false

    func validate() throws { if n < 0 { throw ValidationError("-n must be 0 or more") } }

    func run() async throws {
        try await reportingErrors {
            let ds = try await target.open()
            let chosen = columns?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            let batches = try await ds.head(n, columns: chosen, includeRowID: rowid)
            let fields = batches.first?.schema.fields ?? []
            if json {
                for batch in batches {
                    for row in 0..<batch.length {
                        let members = fields.enumerated().map { JSONText.quote($1.name) + ":" + ValueText.json(batch.columns[$0].value(at: row), $1.type) }
                        print("{" + members.joined(separator: ",") + "}")
                    }
                }
                return
            }
            var rows: [[String]] = []
            for batch in batches {
                for row in 0..<batch.length {
                    rows.append(fields.enumerated().map { ValueText.text(batch.columns[$0].value(at: row), $1.type) ?? "NULL" })
                }
            }
            printTable(header: fields.map(\.name), rows: rows)
            print("(\(rows.count) of \(ds.rowCount) rows)")
        }
    }
}

struct Count: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a dataset's row count.")

    @OptionGroup var target: DatasetAtRef
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let ds = try await target.open()
            print(json ? "{\"dataset\":\(JSONText.quote(target.dataset)),\"rows\":\(ds.rowCount)}" : String(ds.rowCount))
        }
    }
}

/// Prints rows as an aligned text table, cutting long cells.
func printTable(header: [String], rows: [[String]]) {
    print(formatTable(header: header, rows: rows), terminator: "")
}

/// Rows as an aligned text table (cells over 40 characters cut), one line each.
func formatTable(header: [String], rows: [[String]]) -> String {
    let cut = { (s: String) -> String in
        let flat = TerminalText.escaped(s.replacingOccurrences(of: "\n", with: "\\n"))
        return flat.count > 40 ? String(flat.prefix(39)) + "…" : flat
    }
    let cells = rows.map { $0.map(cut) }
    var widths = header.map(\.count)
    for row in cells { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ values: [String]) -> String {
        values.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    var text = line(header) + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
    for row in cells { text += line(row) + "\n" }
    return text
}
