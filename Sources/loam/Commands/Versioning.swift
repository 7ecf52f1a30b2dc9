import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamStorage
import LoamTable

struct Branch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, create, delete or rename branches.",
        discussion: """
            loam branch                 list (* marks the current branch)
            loam branch NAME [START]    create NAME at START (default HEAD); copies no data
            loam branch -d NAME         delete
            loam branch -m OLD NEW      rename
            """)

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "Branch name (and start point, or the new name with -m).") var names: [String] = []
    @Flag(name: .short, help: "Delete the branch.") var delete = false
    @Flag(name: .short, help: "Rename OLD to NEW.") var move = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            switch (delete, move, names.count) {
            case (true, false, 1):
                try await repo.deleteBranch(names[0])
                print("Deleted branch \(names[0])")
            case (false, true, 2):
                try await repo.renameBranch(names[0], to: names[1])
                print("Renamed branch \(names[0]) to \(names[1])")
            case (false, false, 1), (false, false, 2):
                let id = try await repo.createBranch(names[0], at: names.count == 2 ? names[1] : "HEAD")
                print("Created branch \(names[0]) at \(id.short)")
            case (false, false, 0):
                let current = try await repo.currentBranch()
                let branches = try await repo.branches()
                if json {
                    print("[" + branches.map { "{\"name\":\(JSONText.quote($0.name)),\"commit\":\"\($0.commit.hex)\",\"current\":\($0.name == current)}" }.joined(separator: ",") + "]")
                } else {
                    for branch in branches { print("\(branch.name == current ? "*" : " ") \(branch.name)\t\(branch.commit.short)") }
                }
            default:
                throw LoamError.invalidArgument("use: branch | branch NAME [START] | branch -d NAME | branch -m OLD NEW")
            }
        }
    }
}

struct Switch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make a branch the current one (later writes commit to it).")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The branch.") var name: String
    @Flag(name: .short, help: "Create the branch at HEAD first.") var create = false

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            if create { try await repo.createBranch(name) }
            try await repo.switchBranch(name)
            print("Switched to branch \(name)")
        }
    }
}

struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show row-level differences between two refs.",
        discussion: "Rows are matched by _rowid: + added, - removed, ~ modified (with the changed cells).")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The old ref.") var from: String
    @Argument(help: "The new ref (default HEAD).") var to = "HEAD"
    @Option(help: "Only this dataset.") var dataset: String?
    @Option(name: .short, help: "Rows to print per dataset and kind (text output).") var n = 20
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Write every change as an Arrow IPC file (dataset, _rowid, change, column, old, new).") var arrow: String?

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            let diffs = try await repo.diff(from, to, dataset: dataset)
            if let arrow {
                try Data(try DiffExport.arrowBytes(diffs)).write(to: URL(fileURLWithPath: arrow))
                writeError("Wrote \(diffs.reduce(0) { $0 + $1.added.count + $1.removed.count + $1.modified.count }) changed rows to \(arrow)")
                return
            }
            if json { print(DiffExport.json(diffs)); return }
            if diffs.isEmpty { print("No differences."); return }
            for diff in diffs {
                print("\(diff.dataset) (\(diff.status.rawValue)): +\(diff.added.count) -\(diff.removed.count) ~\(diff.modified.count)")
                for change in diff.schemaChanges { print("  schema: \(DiffExport.text(change))") }
                for row in diff.added.prefix(n) { print("  + \(row.rowID) \(DiffExport.text(row, diff.newSchema))") }
                for row in diff.removed.prefix(n) { print("  - \(row.rowID) \(DiffExport.text(row, diff.oldSchema))") }
                for row in diff.modified.prefix(n) {
                    let columns = Dictionary((diff.newSchema?.columns ?? []).compactMap { c in c.id.map { ($0, c) } }, uniquingKeysWith: { a, _ in a })
                    print("  ~ \(row.rowID) " + row.changes.map { change in
                        let column = columns[change.columnID]
                        return "\(column?.name ?? "?"): \(DiffExport.text(change.old, column)) → \(DiffExport.text(change.new, column))"
                    }.joined(separator: ", "))
                }
                let hidden = max(0, diff.added.count - n) + max(0, diff.removed.count - n) + max(0, diff.modified.count - n)
                if hidden > 0 { print("  … \(hidden) more (use -n, --json or --arrow)") }
            }
        }
    }
}

struct Merge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a ref into the current branch.",
        discussion: """
            Fast-forwards when possible; otherwise merges rows and cells three ways against the merge base. \
            Conflicts are listed and nothing is committed until each is resolved: --ours/--theirs for all, \
            --resolve DATASET=ours|theirs for one dataset, --resolve DATASET:ROWID[:COLUMN]=ours|theirs for one conflict.
            """)

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The branch, tag or commit to merge.") var ref: String
    @Flag(help: "Resolve every conflict with the current branch's side.") var ours = false
    @Flag(help: "Resolve every conflict with the merged ref's side.") var theirs = false
    @Option(help: "KEY=ours|theirs (repeatable).") var resolve: [String] = []
    @Option(name: .shortAndLong, help: "The commit message.") var message: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws { if ours && theirs { throw ValidationError("give --ours or --theirs, not both") } }

    func run() async throws {
        try await reportingErrors {
            var resolution = MergeResolution(all: ours ? .ours : theirs ? .theirs : nil)
            for item in resolve {
                guard let eq = item.lastIndex(of: "="), let side = MergeResolution.Side(rawValue: String(item[item.index(after: eq)...])) else {
                    throw LoamError.invalidArgument("--resolve \(item): write KEY=ours or KEY=theirs")
                }
                let key = String(item[..<eq])
                if key.contains(":") { resolution.conflicts[key] = side } else { resolution.datasets[key] = side }
            }
            let result = try await repository.open().merge(ref, resolution: resolution, message: message)
            if json {
                let conflicts = result.conflicts.map { "{\"key\":\(JSONText.quote($0.key)),\"kind\":\"\($0.kind.rawValue)\",\"detail\":\(JSONText.quote($0.description))}" }
                print("{\"result\":\"\(result.kind.rawValue)\",\"commit\":\(result.commit.map { "\"\($0.hex)\"" } ?? "null"),\"conflicts\":[\(conflicts.joined(separator: ","))]}")
            } else {
                switch result.kind {
                case .upToDate: print("Already up to date.")
                case .fastForward: print("Fast-forward to \(result.commit!.short)")
                case .merged: print("Merged \(ref) (commit \(result.commit!.short)\(result.resolved > 0 ? ", \(result.resolved) conflicts resolved" : ""))")
                case .conflicted:
                    writeError("Merge of \(ref) stopped on \(result.conflicts.count) conflict(s); nothing was committed:")
                    for conflict in result.conflicts { writeError("  \(conflict)") }
                    writeError("Resolve with --ours, --theirs or --resolve KEY=ours|theirs and run the merge again.")
                }
            }
            if result.kind == .conflicted { throw ExitCode(1) }
        }
    }
}

struct Revert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Commit the inverse of a commit's changes.")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The commit to undo.") var commit: String
    @Flag(help: "Resolve conflicts with what is on the branch now.") var ours = false
    @Flag(help: "Resolve conflicts with the reverted state.") var theirs = false

    func run() async throws {
        try await reportingErrors {
            let result = try await repository.open().revert(commit, resolution: MergeResolution(all: ours ? .ours : theirs ? .theirs : nil))
            if result.kind == .conflicted {
                writeError("Revert stopped on \(result.conflicts.count) conflict(s); nothing was committed:")
                for conflict in result.conflicts { writeError("  \(conflict)") }
                throw ExitCode(1)
            }
            print("Reverted \(commit) (commit \(result.commit!.short))")
        }
    }
}

struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Move the current branch to a ref.")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "Where the branch should point.") var ref: String
    @Flag(help: "Move even if commits would be left on no branch or tag.") var force = false

    func run() async throws {
        try await reportingErrors {
            let id = try await repository.open().reset(to: ref, force: force)
            print("Branch now at \(id.short)")
        }
    }
}
