import ArgumentParser
import Foundation
import Loam
import LoamGovernance

struct Erase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erases rows from every version: the current branch, every commit, tag and branch in history.",
        discussion: """
            Rows the condition matches in any version of the datasets (deleted rows still on disk too), every copy of them \
            and their labels leave every fragment, manifest statistic, commit message, artifact, catalog cell and the SQL \
            history. Old commits keep their ids and read as before, less the erased rows (docs/FORMAT.md, "Erasure"). The \
            audit log records counts and hashes, never values.

              loam erase users --where "user_id = 42" --verify
              loam erase users orders --where "email = 'ada@example.com'" --dry-run
              loam erase --check 'ada@example.com' --check 'Ada Lovelace'
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The datasets to erase from (the condition is checked in each; their __labels datasets follow).") var datasets: [String] = []
    @Option(name: .customLong("where"), help: "A SQL condition, as after WHERE.") var condition: String?
    @Flag(help: "Report what would be erased; change nothing.") var dryRun = false
    @Flag(help: "Afterwards, search every byte of every file under .loam/ for the erased values (exit 1 if any is found).") var verify = false
    @Option(help: "Search every file under .loam/ for this value (repeatable); nothing is erased.") var check: [String] = []
    @Option(help: "Seconds to wait for writes in progress.") var wait: Double = 60
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            if !check.isEmpty {
                guard datasets.isEmpty, condition == nil else { throw ValidationError("--check searches for values; give it without datasets or --where") }
                try report(findings: try Eraser.scan(repo, for: check), values: check.count)
                return
            }
            guard !datasets.isEmpty, let condition else {
                throw ValidationError("name the datasets and the rows: loam erase users --where \"user_id = 42\"")
            }
            let (result, values) = try await Eraser.erase(repo, datasets: datasets, where: condition, dryRun: dryRun, wait: wait)
            if json && !verify { print(try JSONOutput.text(result)); return }
            if !json {
                let verb = dryRun ? "would erase" : "erased"
                print("\(verb) \(result.rows) rows (\(result.copies) copies in \(result.fragments) fragments) from \(result.datasets.joined(separator: ", "))")
                print("  \(result.manifests) versions rewritten, \(result.commits) commit messages, \(result.artifacts) artifacts, "
                      + "\(result.catalogCells) catalog cells, \(result.auditEntriesRedacted) audit details, \(result.historyLines) SQL history lines; "
                      + "\(result.values) distinct values" + (result.auditSeq.map { "; audit entry \($0)" } ?? "")
                      + String(format: " (%.2f s)", result.seconds))
            }
            if verify && !dryRun { try report(findings: try Eraser.scan(repo, for: values), values: values.count) }
        }
    }

    private func report(findings: [ErasureFinding], values: Int) throws {
        if json { print(try JSONOutput.text(findings)) } else {
            for finding in findings { print(finding) }
            print(findings.isEmpty ? "verified: none of the \(values) values is in any file under .loam/"
                                   : "\(findings.count) place(s) still hold a value: another dataset may hold a copy of the rows "
                                     + "(name it too: loam erase A B --where …), or an artifact or catalog entry written since")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}
