import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamStorage
import LoamTable

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the commit history, newest first.")

    @OptionGroup var repository: RepositoryOptions
    @Option(name: .short, help: "At most N commits.") var n: Int?
    @Option(help: "Start from this ref (default: HEAD).") var ref = "HEAD"
    @Flag(help: "One line per commit.") var oneline = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            let history = try await repo.log(from: ref, limit: n ?? .max)
            var labels: [ObjectID: [String]] = [:]
            for ref in try await repo.branches() + repo.tags() { labels[ref.commit, default: []].append(ref.kind == .tag ? "tag: \(ref.name)" : ref.name) }
            if json {
                print(try JSONOutput.text(history.map { CommitView(id: $0.id, commit: $0.commit) }))
                return
            }
            for (id, commit) in history {
                let decoration = labels[id].map { " (" + $0.joined(separator: ", ") + ")" } ?? ""
                if oneline {
                    let first = commit.message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
                    print("\(id.short)\(decoration) \(first)\(commit.message.contains("\n") ? " …" : "")")
                } else {
                    print("commit \(id.hex)\(decoration)")
                    print("Author: \(commit.author)")
                    print("Date:   \(CommitView(id: id, commit: commit).time)")
                    print("")
                    for line in commit.message.split(separator: "\n", omittingEmptySubsequences: false) { print("    \(line)") }
                    print("")
                }
            }
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a commit: metadata and what it changed per dataset.")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The commit (any ref).") var commit: String = "HEAD"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let view = try await repository.open().commitView(commit, changes: true)
            if json {
                print(try JSONOutput.text(view))
                return
            }
            let changes = view.changes ?? []
            print("commit \(view.id)")
            if !view.parents.isEmpty { print("Parents: \(view.parents.map { String($0.prefix(12)) }.joined(separator: " "))") }
            print("Author: \(view.author)")
            print("Date:   \(view.time)")
            print("")
            for line in view.message.split(separator: "\n", omittingEmptySubsequences: false) { print("    \(line)") }
            print("")
            for change in changes {
                let delta = change.rowsAfter - change.rowsBefore
                print("  \(change.kind.padding(toLength: 9, withPad: " ", startingAt: 0)) \(change.dataset): \(change.rowsBefore) → \(change.rowsAfter) rows (\(delta >= 0 ? "+" : "")\(delta))")
            }
            if changes.isEmpty { print("  (no dataset changed)") }
        }
    }
}

struct Tag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Name a commit with a tag.")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The tag name.") var name: String
    @Argument(help: "What to tag (default: HEAD).") var ref = "HEAD"

    func run() async throws {
        try await reportingErrors {
            let id = try await repository.open().tag(name, at: ref)
            print("Tagged \(id.short) as \(name)")
        }
    }
}

struct Tags: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List tags.")

    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let tags = try await repository.open().tags()
            if json {
                print(try JSONOutput.text(tags.map(RefView.init)))
            } else {
                for tag in tags { print("\(tag.name)\t\(tag.commit.short)") }
            }
        }
    }
}
