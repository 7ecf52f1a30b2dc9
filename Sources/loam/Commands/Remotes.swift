import ArgumentParser
import Foundation
import Loam
import LoamCloud

/// How a transfer reads in the terminal: objects and bytes copied, then each ref moved.
private func report(_ transfer: Repository.Transfer) {
    print("copied \(transfer.objects) object\(transfer.objects == 1 ? "" : "s") (\(transfer.bytes) bytes)")
    for ref in transfer.refs { print("  \(ref.name): \(ref.old?.short ?? "(new)") → \(ref.new.short)") }
}

struct Clone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a repository (every branch, tag and object) into a new one — also onto PostgreSQL and S3.",
        discussion: """
            SOURCE is a repository folder (its catalog and objects may be anywhere). With --catalog and --objects \\
            the copy lives on those servers, which moves a repository off the embedded default:
              loam clone pets pets-cloud --catalog postgres://loam@db:5432/pets --objects s3://training/pets
            """)
    @Argument(help: "The repository to copy.") var source: String
    @Argument(help: "The folder of the new repository.") var destination: String
    @Option(help: "Keep the copy's catalog in PostgreSQL: postgres://user@host:port/database.") var catalog: String?
    @Option(help: "Keep the copy's objects in an S3 bucket: s3://bucket/prefix.") var objects: String?

    func run() async throws {
        try await reportingErrors {
            let from = try Repository.open(at: URL(fileURLWithPath: source))
            let (repo, transfer) = try await Repository.clone(from: from, to: URL(fileURLWithPath: destination),
                                                              backends: Backends(catalog: catalog, objects: objects))
            print("Cloned \(from.root.path) into \(repo.root.path)")
            report(transfer)
        }
    }
}

struct Fetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy another repository's commits here: its branches become NAME/<branch>, its tags are added.",
        discussion: "Then `loam merge origin/main` brings them into the current branch.")
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The other repository's folder.") var source: String
    @Option(name: .customLong("as"), help: "The prefix of its branches here.") var remote = "origin"

    func run() async throws {
        try await reportingErrors {
            report(try await repository.open().fetch(from: Repository.open(at: URL(fileURLWithPath: source)), as: remote))
        }
    }
}

struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a branch and its commits to another repository and move its branch there (forward only, unless --force).")
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The other repository's folder.") var target: String
    @Option(help: "The branch to push (default: the current one).") var branch: String?
    @Flag(help: "Move the other repository's branch even when that drops commits it has.") var force = false

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            let name: String
            if let branch { name = branch } else { name = try await repo.meta.currentBranch() }
            report(try await repo.push(to: Repository.open(at: URL(fileURLWithPath: target)), branch: name, force: force))
        }
    }
}
