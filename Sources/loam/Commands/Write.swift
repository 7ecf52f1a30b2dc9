import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamQuery

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a dataset at a ref to a Parquet, Arrow IPC, CSV or JSONL file.")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "The file format.") var format: ExportFormat
    @Option(name: .short, help: "Output file ('-' for standard output).") var output: String
    @Option(help: "A branch, tag or commit (default: HEAD).") var ref = "HEAD"
    @Option(help: "Comma-separated columns (default: all).") var columns: String?
    @Flag(help: "Include the _rowid column.") var rowid = false
    @Option(help: "Compression: Parquet snappy (its default), zstd, gzip, lz4 or none; Arrow zstd or lz4 (default none).") var compression: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let chosen = columns?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            let rows = try await repository.open().export(dataset, at: ref, format: format, to: output,
                                                          columns: chosen, includeRowID: rowid, codec: try compression.map(Codec.init(named:)))
            if output == "-" { return }
            if json { print("{\"rows\":\(rows),\"file\":\(JSONText.quote(output))}") } else { writeError("Exported \(rows) rows to \(output)") }
        }
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete the rows matching --where, as one commit.")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(name: .long, help: "Which rows: a SQL condition, as after WHERE, e.g. \"label = 3 AND text LIKE '%refund%'\" (required; TRUE for all).") var `where`: String
    @Option(name: .shortAndLong, help: "The commit message.") var message: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let (commit, rows) = try await repository.open().delete(from: dataset, where: `where`, message: message)
            print(json ? "{\"commit\":\"\(commit.hex)\",\"rows\":\(rows)}" : "Deleted \(rows) rows from \(dataset) (commit \(commit.short))")
        }
    }
}

struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Set column values of the rows matching --where, as one commit.")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(name: .customLong("set"), help: "COLUMN=VALUE (repeatable; NULL for null, JSON for lists).") var assignments: [String]
    @Option(name: .long, help: "Which rows: a SQL condition, as after WHERE, e.g. \"id IN (7, 9)\" (TRUE for all).") var `where`: String
    @Option(name: .shortAndLong, help: "The commit message.") var message: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let pairs = try assignments.map { text -> (column: String, value: String) in
                guard let eq = text.firstIndex(of: "=") else { throw LoamError.invalidArgument("--set \(text): write COLUMN=VALUE") }
                return (String(text[..<eq]).trimmingCharacters(in: .whitespaces), String(text[text.index(after: eq)...]))
            }
            let (commit, rows) = try await repository.open().update(dataset, set: pairs, where: `where`, message: message)
            print(json ? "{\"commit\":\"\(commit.hex)\",\"rows\":\(rows)}" : "Updated \(rows) rows in \(dataset) (commit \(commit.short))")
        }
    }
}

struct Alter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change a dataset's columns without rewriting data.",
        discussion: """
            loam alter DATASET add-column NAME TYPE
            loam alter DATASET rename-column OLD NEW
            loam alter DATASET drop-column NAME
            """)

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Argument(help: "add-column, rename-column or drop-column.") var action: String
    @Argument(help: "The column (and the type or the new name).") var operands: [String]
    @Option(name: .shortAndLong, help: "The commit message.") var message: String?

    func run() async throws {
        try await reportingErrors {
            let change: ColumnChange
            switch (action, operands.count) {
            case ("add-column", 2): change = .add(name: operands[0], type: try SchemaSpec.parseType(operands[1]))
            case ("rename-column", 2): change = .rename(from: operands[0], to: operands[1])
            case ("drop-column", 1): change = .drop(operands[0])
            default:
                throw LoamError.invalidArgument("use: alter DATASET add-column NAME TYPE | rename-column OLD NEW | drop-column NAME")
            }
            let commit = try await repository.open().alter(dataset, change, message: message)
            print("Altered \(dataset) (commit \(commit.short))")
        }
    }
}

struct Drop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a dataset from the current branch (history keeps it).")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(name: .shortAndLong, help: "The commit message.") var message: String?

    func run() async throws {
        try await reportingErrors {
            let commit = try await repository.open().dropDataset(dataset, message: message)
            print("Dropped \(dataset) (commit \(commit.short))")
        }
    }
}
