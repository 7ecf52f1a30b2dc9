import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamTestSupport
import Testing

/// Runs the `.test` files in `sql/`, sqllogictest style:
///
///     dataset NAME [ROWS] [schema SPEC]   followed by CSV lines (header first) up to a blank line: imported
///                             as NAME (ROWS rows per fragment; SPEC as --schema)
///     sql WRITE STATEMENT     a Loam write run through the library: `delete NAME WHERE`, `update NAME SET col=v WHERE`, `tag NAME`
///     query                   the statement on the next lines, then `----`, then expected rows (tab-separated; NULL)
///     statement ok            the statement on the next lines (a write) must succeed
///     statement rows N        … and change exactly N rows
///     statement error TEXT    the statement on the next lines must fail with a message containing TEXT
@Suite struct SQLLogicTests {
    static var files: [URL] {
        let folder = Bundle.module.url(forResource: "sql", withExtension: nil)!
        return ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "test" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test(arguments: SQLLogicTests.files.map(\.lastPathComponent))
    func sqlFile(_ name: String) async throws {
        let url = Bundle.module.url(forResource: "sql", withExtension: nil)!.appendingPathComponent(name)
        let lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-sql"))
        defer { try? FileManager.default.removeItem(at: repo.root) }
        var i = 0
        var checked = 0
        func block() -> [String] {
            var out: [String] = []
            while i < lines.count && !lines[i].isEmpty { out.append(lines[i]); i += 1 }
            return out
        }
        while i < lines.count {
            let line = lines[i]
            let lineNumber = i + 1
            i += 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("dataset ") {
                let parts = line.dropFirst(8).components(separatedBy: " schema ")
                let words = parts[0].split(separator: " ").map(String.init)
                let dataset = words[0]
                let csv = repo.root.appendingPathComponent("\(dataset).csv")
                try Data((block().joined(separator: "\n") + "\n").utf8).write(to: csv)
                var options = ImportOptions(schema: parts.count > 1 ? parts[1] : nil)
                if words.count > 1, let rows = Int(words[1]) { options.fragmentRows = rows }
                try await repo.importData(from: csv.path, into: dataset, options: options)
            } else if line.hasPrefix("sql ") {
                let words = line.dropFirst(4).split(separator: " ", maxSplits: 2).map(String.init)
                switch words[0] {
                case "delete": try await repo.delete(from: words[1], where: words[2])
                case "tag": try await repo.tag(words[1])
                case "update":
                    let rest = words[2]
                    let parts = rest.components(separatedBy: " WHERE ")
                    let assignment = parts[0].dropFirst(4).split(separator: "=", maxSplits: 1).map(String.init)
                    try await repo.update(words[1], set: [(assignment[0], assignment[1])], where: parts[1])
                default: Issue.record("\(name):\(lineNumber): unknown sql directive \(words[0])")
                }
            } else if line == "query" {
                var sql: [String] = []
                while i < lines.count && lines[i] != "----" { sql.append(lines[i]); i += 1 }
                i += 1
                let expected = block()
                do {
                    let result = try await repo.query(sql.joined(separator: "\n"))
                    var got: [String] = []
                    for batch in result.batches {
                        for r in 0..<batch.length {
                            var text = batch.schema.fields.indices.map { c in
                                ValueText.text(batch.columns[c].value(at: r), batch.schema.fields[c].type) ?? "NULL"
                            }.joined(separator: "\t")
                            // Plans name the commit they read; files write it as COMMIT.
                            if let at = text.range(of: #"@ [0-9a-f]{12}"#, options: .regularExpression) { text.replaceSubrange(at, with: "@ COMMIT") }
                            got.append(text)
                        }
                    }
                    #expect(got == expected, "\(name):\(lineNumber): \(sql.joined(separator: " "))")
                } catch {
                    Issue.record("\(name):\(lineNumber): \(sql.joined(separator: " ")) failed: \(error)")
                }
                checked += 1
            } else if line == "statement ok" || line.hasPrefix("statement rows ") {
                let sql = block().joined(separator: "\n")
                do {
                    let result = try await repo.execute(sql)
                    if line.hasPrefix("statement rows "), let expected = Int(line.dropFirst(15)) {
                        #expect(result.affected == expected, "\(name):\(lineNumber): \(result.affected) rows, expected \(expected)")
                    }
                } catch {
                    Issue.record("\(name):\(lineNumber): \(sql) failed: \(error)")
                }
                checked += 1
            } else if line.hasPrefix("statement error ") {
                let message = String(line.dropFirst(16))
                let sql = block().joined(separator: "\n")
                do {
                    _ = try await repo.execute(sql)
                    Issue.record("\(name):\(lineNumber): expected an error containing '\(message)'")
                } catch {
                    #expect("\(error)".contains(message), "\(name):\(lineNumber): got \(error)")
                }
                checked += 1
            } else {
                Issue.record("\(name):\(lineNumber): cannot read '\(line)'")
            }
        }
        #expect(checked > 0, "\(name) checks nothing")
    }

    @Test func hostileInputIsAnErrorNotACrash() async throws {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-sql"))
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let csv = repo.root.appendingPathComponent("t.csv")
        try Data("a,b\n1,x\n".utf8).write(to: csv)
        try await repo.importData(from: csv.path, into: "t")
        var random = SeededRandom(seed: 7)
        let alphabet = Array("SELECT FROM WHERE t a b ( ) , * + - / = < > ' \" 1 2.5 AND OR NOT NULL IS IN LIKE CASE WHEN THEN END :: ; \n")
        var inputs = [String(repeating: "(", count: 10_000) + "1", "SELECT " + String(repeating: "-", count: 5000) + "1 FROM t",
                      "SELECT 99999999999999999999999 FROM t", "SELECT 'unterminated FROM t", "\u{0}\u{1}", ""]
        for _ in 0..<3000 {
            inputs.append(String((0..<Int.random(in: 1...60, using: &random)).map { _ in alphabet.randomElement(using: &random)! }))
        }
        var refused = 0
        for input in inputs {
            do {
                _ = try await repo.query(input)
            } catch let error as SQLError {
                // Every refusal is an SQLError that points into the input and says something.
                #expect(error.sql == input && error.position >= 0 && error.position <= input.count && !error.message.isEmpty, "\(input)")
                refused += 1
            } catch {
                Issue.record("\(input.prefix(80)): not an SQLError but \(type(of: error)): \(error)")
            }
        }
        #expect(refused > inputs.count / 2, "most random token soup is refused (\(refused) of \(inputs.count))")
        await #expect(throws: SQLError.self) { _ = try await repo.query(String(repeating: "(", count: 10_000) + "1") }
    }
}

@Suite struct LineageTests {
    @Test func createTableAsSelectRecordsItsSourceCommitAndQuery() async throws {
        let repo = try await Repository.initialize(at: try TestEnvironment.temporaryDirectory("loam-sql"))
        defer { try? FileManager.default.removeItem(at: repo.root) }
        let csv = repo.root.appendingPathComponent("t.csv")
        try Data("a,b\n1,x\n2,y\n".utf8).write(to: csv)
        try await repo.importData(from: csv.path, into: "t")
        let source = try await repo.resolve("HEAD")
        let done = try await repo.execute("CREATE TABLE d AS SELECT a * 10 AS a10 FROM t WHERE b = 'y';")
        #expect(done.affected == 1 && done.verb == "CREATE TABLE")
        let derived = try await repo.dataset("d")
        #expect(derived.schema.metadata["loam.source_commit"] == source.hex)
        #expect(derived.schema.metadata["loam.source_query"] == "SELECT a * 10 AS a10 FROM t WHERE b = 'y'")
        #expect(try await repo.log(limit: 1).first?.commit.message == "CREATE TABLE d AS SELECT a * 10 AS a10 FROM t WHERE b = 'y';")
    }
}
