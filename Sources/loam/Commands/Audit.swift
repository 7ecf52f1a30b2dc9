import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamGovernance
import LoamStorage

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The tamper-evident audit log: every write (CLI, library, server) and every server read, chained by hash.",
        subcommands: [Log.self, Verify.self])

    static func log(_ options: RepositoryOptions) throws -> any AuditLog {
        guard let log = try options.open().meta as? any AuditLog else { throw ValidationError("this repository's catalog keeps no audit log") }
        return log
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists audit entries: who, when, what command or route, which refs and commits.")
        @OptionGroup var repository: RepositoryOptions
        @Option(help: "Only this user's entries.") var user: String?
        @Option(help: "Only entries naming this dataset or text.") var dataset: String?
        @Option(help: "Only entries since this time (ISO 8601, e.g. 2026-11-30T12:00:00Z).") var since: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                var from: Date?
                if let since {
                    guard let date = ISO8601DateFormatter().date(from: since) else { throw ValidationError("--since takes an ISO 8601 time, e.g. 2026-11-30T12:00:00Z") }
                    from = date
                }
                let entries = try await Audit.log(repository).auditEntries(user: user, since: from, containing: dataset)
                if json { print(try JSONOutput.text(entries)); return }
                let formatter = ISO8601DateFormatter()
                print(formatTable(header: ["seq", "time", "user", "action", "target", "command"],
                                  rows: entries.map { [String($0.seq), formatter.string(from: Date(timeIntervalSince1970: $0.time)), $0.user, $0.action, $0.target,
                                                       String($0.detail.prefix(80))] }), terminator: "")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Checks the hash chain and names any edited, deleted or reordered entry (exit 1 if any).",
            discussion: "Save the head it prints; `--head HASH` later also catches entries deleted from the end.")
        @OptionGroup var repository: RepositoryOptions
        @Option(help: "A head printed by an earlier verify.") var head: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let outcome = AuditVerifier.verify(try await Audit.log(repository).auditEntries(user: nil, since: nil, containing: nil), head: head)
                if json { print(try JSONOutput.text(outcome)) } else {
                    for problem in outcome.problems { print(problem) }
                    print("\(outcome.entries) entries, \(outcome.problems.isEmpty ? "chain intact" : "\(outcome.problems.count) problem(s)"); head \(outcome.head)")
                }
                if !outcome.problems.isEmpty { throw ExitCode(1) }
            }
        }
    }
}
