import ArgumentParser
import Foundation
import Loam
import LoamGovernance
import LoamQuality
import LoamStorage

@main
struct LoamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loam",
        abstract: "A versioned database for AI training data.",
        discussion: """
            The repository is found like Git finds one: --repo PATH, else the LOAM_REPO \
            environment variable, else the current folder or its nearest parent holding .loam/.
            Refs: a branch, a tag, a commit hash (or its first 4+ digits), HEAD, each with ~N.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Import.self, CommitStaged.self, Datasets.self, Schema.self, Head.self, Count.self, Export.self,
            Delete.self, Update.self, Alter.self, Drop.self, Log.self, Show.self, Tag.self, Tags.self,
            Branch.self, Switch.self, Diff.self, Merge.self, Revert.self, Reset.self,
            Clone.self, Fetch.self, Push.self, GC.self, Fsck.self, Compact.self, Storage.self, Query.self, Sql.self, Clean.self, Serve.self, User.self, Token.self, Runs.self, Models.self, Label.self, PII.self, Anonymize.self, Audit.self, Erase.self, Key.self, Mask.self, Profile.self, Expect.self, Check.self, DriftCommand.self, Dedupe.self, Leakage.self, LabelIssuesCommand.self,
        ]
    )
}

/// `--repo`, shared by every command that works in a repository.
struct RepositoryOptions: ParsableArguments {
    @Option(name: .long, help: "The repository folder (default: LOAM_REPO, else the current folder or a parent).")
    var repo: String?

    func open() throws -> Repository {
        if let repo { return try Repository.open(at: URL(fileURLWithPath: repo)) }
        if let env = ProcessInfo.processInfo.environment["LOAM_REPO"], !env.isEmpty {
            return try Repository.open(at: URL(fileURLWithPath: env))
        }
        return try Repository.discover(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    }
}

/// A dataset and the ref to read it at, shared by the commands that read one.
struct DatasetAtRef: ParsableArguments {
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Option(help: "A branch, tag or commit (default: HEAD).") var ref = "HEAD"

    func open() async throws -> Dataset { try await repository.open().dataset(dataset, at: ref) }
}

/// Runs a command body, turning library errors into one line on standard
/// error and exit status 1 (usage errors stay ArgumentParser's, status 64).
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        AuditContext.redact = redactingPII
        Anonymizer.registerSQLFunctions()  // pii_kinds, pii_mask, pii_redact, pii_hash in SQL
        QualityGates.install()  // gated expectations guard every write
        try await AuditContext.$current.withValue(AuditContext(user: commandUser, command: auditedCommand)) { try await body() }
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("loam: error: \(TerminalText.escaped("\(error)"))\n".utf8))
        throw ExitCode(1)
    }
}

func writeError(_ text: String) { FileHandle.standardError.write(Data((TerminalText.escaped(text) + "\n").utf8)) }

/// Who runs the command, as commits and the audit log name them: LOAM_AUTHOR, else the user name.
let commandUser = ProcessInfo.processInfo.environment["LOAM_AUTHOR"] ?? ProcessInfo.processInfo.environment["USER"]
    ?? getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "unknown"

/// The command line as the audit log records it (the log redacts personal data in it: `redactingPII`).
let auditedCommand = (["loam"] + CommandLine.arguments.dropFirst()).joined(separator: " ")

/// Personal data in a text replaced by its kind (`[EMAIL]`), for the audit log.
@Sendable func redactingPII(_ text: String) -> String {
    var t = text
    return t.withUTF8 { Anonymizer.apply(.redact(whole: false), to: UnsafeRawBufferPointer($0)) } ?? ""
}
