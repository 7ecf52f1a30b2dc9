import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamGovernance

struct PII: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pii", abstract: "Personal data: find it (anonymization, risk reports and erasure come next).",
        subcommands: [Scan.self])

    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reports, per column, the kinds of personal data found, how many rows hold each, and sample row ids — never the values.",
            discussion: """
                Kinds: email, phone (international and common national formats), credit_card (network prefix and Luhn), iban (country
                length and mod-97), ssn, ipv4, ipv6, date_of_birth (a date in a column named for birth, or after "born", "DOB",
                "date of birth"), person_name (the shipped lists of given names and surnames).
                  loam pii scan customers
                  loam pii scan customers --ref v1 --columns notes,email --json
                """)
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The dataset.") var dataset: String
        @Option(help: "The ref to read.") var ref = "HEAD"
        @Option(help: "Only these columns (comma-separated).") var columns: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let wanted = columns.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                let report = try await PIIScanner(repository: try repository.open()).scan(dataset, at: ref, columns: wanted)
                if json { print(try JSONOutput.text(report)); return }
                let mb = Double(report.bytes) / 1_048_576
                print("\(report.rows) rows, \(String(format: "%.1f", mb)) MB of text in \(String(format: "%.2f", report.seconds)) s")
                if report.columns.isEmpty { print("no personal data found"); return }
                var rows: [[String]] = []
                for column in report.columns {
                    for kind in column.kinds {
                        rows.append([column.column, kind.kind, String(kind.rows), kind.sampleRowIDs.map(String.init).joined(separator: ", ")])
                    }
                }
                print(formatTable(header: ["column", "kind", "rows", "sample _rowid"], rows: rows), terminator: "")
            }
        }
    }
}
