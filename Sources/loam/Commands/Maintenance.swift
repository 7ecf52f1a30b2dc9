import ArgumentParser
import Foundation
import Loam
import LoamFormat

struct GC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete objects no branch, tag or recently referenced commit can reach.")

    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Only report what would be deleted.") var dryRun = false
    @Option(help: "Keep commits a ref pointed at within this many days.") var retentionDays: Double = 7
    @Option(help: "Keep unreachable objects written within this many minutes (0 is safe: gc waits for writers in flight).") var graceMinutes: Double = 60
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let report = try await repository.open().gc(retention: retentionDays * 86_400, grace: graceMinutes * 60, dryRun: dryRun)
            if json {
                print("{\"dry_run\":\(dryRun),\"reachable\":\(report.reachable),\"deleted\":\(report.deleted),\"deleted_bytes\":\(report.deletedBytes),\"kept_recent\":\(report.keptRecent)}")
            } else {
                let verb = dryRun ? "Would delete" : "Deleted"
                print("\(verb) \(report.deleted) objects (\(report.deletedBytes) bytes); \(report.reachable) reachable, \(report.keptRecent) unreachable but recent kept")
            }
        }
    }
}

struct Fsck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check every reachable object's presence and hash.")

    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let (checked, problems) = try await repository.open().fsck()
            if json {
                print("{\"checked\":\(checked),\"problems\":[" + problems.map { JSONText.quote($0.description) }.joined(separator: ",") + "]}")
            } else {
                for problem in problems { print(problem) }
                print(problems.isEmpty ? "ok: \(checked) objects checked" : "\(problems.count) problem(s) in \(checked) objects")
            }
            if !problems.isEmpty { throw ExitCode(1) }
        }
    }
}

struct Compact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rewrite small fragments and deleted rows into fewer fragments (one commit).")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "Rows per compacted fragment.") var targetRows = 65_536
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let (commit, before, after) = try await repository.open().compact(dataset, targetRows: targetRows)
            if json {
                print(try JSONOutput.text(Compacted(dataset: dataset, commit: commit.hex, fragments_before: before, fragments_after: after)))
            } else {
                print("Compacted \(dataset): \(before) → \(after) fragments (commit \(commit.short))")
            }
        }
    }
}

/// What `loam compact --json` prints.
struct Compacted: Encodable {
    let dataset: String, commit: String
    let fragments_before: Int, fragments_after: Int
}

struct Storage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bytes per dataset at each branch, shared with other branches or unique.")

    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let usage = try await repository.open().storageReport()
            if json {
                print("[" + usage.map { "{\"branch\":\(JSONText.quote($0.branch)),\"dataset\":\(JSONText.quote($0.dataset)),\"bytes\":\($0.bytes),\"unique\":\($0.unique),\"shared\":\($0.shared)}" }.joined(separator: ",") + "]")
            } else {
                printTable(header: ["branch", "dataset", "bytes", "unique", "shared"],
                           rows: usage.map { [$0.branch, $0.dataset, String($0.bytes), String($0.unique), String($0.shared)] })
            }
        }
    }
}
