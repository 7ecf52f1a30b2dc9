import ArgumentParser
import Foundation
import Loam
import LoamQuery

struct Sql: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "An interactive SQL shell (reads a script when standard input is not a terminal).",
        discussion: """
            Statements end with ';' and may span lines; BEGIN; … COMMIT; groups writes into one commit. \\d lists datasets, \\d NAME shows one's columns, \\q quits. \
            History is kept in .loam/sql_history.
            """)

    @OptionGroup var repository: RepositoryOptions
    @Option(help: "Stop each statement after this many seconds (SET statement_timeout changes it).") var timeout: Double?
    @Option(help: "Memory each statement may hold, e.g. 2GB (SET memory_limit changes it; default: half the machine's).")
    var memoryLimit: String?

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            guard let limit = memoryLimit.map(MemoryBudget.parse) ?? MemoryBudget.defaultLimit else {
                throw ValidationError("--memory-limit takes a size such as 2GB or 512MB")
            }
            let session = SQLSession(repository: repo, statementTimeout: timeout, memoryLimit: limit)
            let interactive = isatty(0) == 1
            let historyURL = repo.root.appendingPathComponent(".loam/sql_history")
            var failed = false
            var buffer = ""
            if interactive { print("Loam SQL on branch \(try await repo.currentBranch()). End statements with ';'. \\d lists datasets, \\q quits.") }
            while true {
                if interactive {
                    print(buffer.isEmpty ? "loam> " : "  ... ", terminator: "")
                    fflush(nil)
                }
                guard let line = readLine() else { break }
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if buffer.isEmpty && trimmed.hasPrefix("\\") {
                    let words = trimmed.split(separator: " ").map(String.init)
                    switch words[0] {
                    case "\\q": return
                    case "\\d":
                        do {
                            if words.count > 1 {
                                let ds = try await repo.dataset(words[1])
                                print(formatTable(header: ["column", "type", "nullable"], rows: ds.schema.fields.map { [$0.name, $0.type.name, $0.nullable ? "yes" : "no"] }), terminator: "")
                            } else {
                                var rows: [[String]] = []
                                for name in try await repo.datasets() { rows.append([name, String(try await repo.dataset(name).rowCount)]) }
                                print(formatTable(header: ["dataset", "rows"], rows: rows), terminator: "")
                            }
                        } catch {
                            writeError("error: \(error)")
                            failed = true
                        }
                    default: writeError("unknown command \(words[0]) (\\d [NAME], \\q)")
                    }
                    continue
                }
                buffer += (buffer.isEmpty ? "" : "\n") + line
                guard trimmed.hasSuffix(";") else { continue }
                let statement = buffer
                buffer = ""
                if !FileManager.default.fileExists(atPath: historyURL.path) { _ = FileManager.default.createFile(atPath: historyURL.path, contents: nil) }
                if let handle = try? FileHandle(forWritingTo: historyURL) {
                    handle.seekToEndOfFile()
                    handle.write(Data((statement.replacingOccurrences(of: "\n", with: " ") + "\n").utf8))
                    try? handle.close()
                }
                do {
                    let outcome = try await session.execute(statement)
                    if let result = outcome.query { print(render(result), terminator: "") }
                    else if outcome.verb == "BEGIN" || outcome.verb == "ROLLBACK" { print(outcome.verb) }
                    else if outcome.verb == "COMMIT" { print("COMMIT" + (outcome.commit.map { " (commit \($0.short))" } ?? " (nothing changed)")) }
                    else { print("\(outcome.verb) \(outcome.affected)" + (session.inTransaction ? " (pending)" : " (commit \(outcome.commit?.short ?? "none"))")) }
                } catch {
                    writeError("error: \(error)")
                    failed = true
                }
            }
            if !buffer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { writeError("error: the last statement has no closing ';'"); failed = true }
            if session.inTransaction { writeError("warning: the open transaction was rolled back (no COMMIT)"); failed = true }
            // A script with a failing statement exits non-zero, like psql -v ON_ERROR_STOP off but honest about it.
            if failed && !interactive { throw ExitCode(1) }
        }
    }
}
