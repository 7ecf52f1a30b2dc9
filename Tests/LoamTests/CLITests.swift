import Foundation
import LoamTestSupport
import Testing

@Suite struct CLITests {
    @Test func commandsWorkTogetherAndPrintJSON() throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = dir.appendingPathComponent("repo")
        let csv = try TestEnvironment.write("id,name\n1,a\n2,b\n", to: "a.csv", in: dir)
        func loam(_ args: String...) throws -> TestEnvironment.ProcessResult {
            let result = try TestEnvironment.run(TestEnvironment.loamBinary, args, directory: repo)
            return result
        }
        #expect(try TestEnvironment.run(TestEnvironment.loamBinary, ["init", repo.path]).status == 0)
        // Found from a subfolder, like git.
        let sub = repo.appendingPathComponent("deep/er")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        let imported = try TestEnvironment.run(TestEnvironment.loamBinary, ["import", csv, "--dataset", "t", "--json"], directory: sub)
        #expect(imported.status == 0, "\(imported.error)")
        let result = try JSONSerialization.jsonObject(with: Data(imported.output.utf8)) as? [String: Any]
        #expect(result?["rows"] as? Int == 2)

        let schema = try JSONSerialization.jsonObject(with: Data(try loam("schema", "t", "--json").output.utf8)) as? [String: Any]
        #expect((schema?["schema"] as? [[String: Any]])?.map { $0["type"] as? String } == ["int64", "string"])
        let head = try loam("head", "t", "--json", "-n", "1")
        #expect(head.output == "{\"id\":1,\"name\":\"a\"}\n")
        #expect(try loam("count", "t", "--json").output == "{\"dataset\":\"t\",\"rows\":2}\n")
        #expect(try loam("tag", "v1").status == 0)
        #expect(try loam("delete", "t", "--where", "id = 1").status == 0)
        let tags = try JSONSerialization.jsonObject(with: Data(try loam("tags", "--json").output.utf8)) as? [[String: Any]]
        #expect(tags?.first?["name"] as? String == "v1")
        let log = try JSONSerialization.jsonObject(with: Data(try loam("log", "--json").output.utf8)) as? [[String: Any]]
        #expect(log?.map { $0["message"] as? String } == ["Delete from t where id = 1", "Import a.csv into t", "Initialize repository"])
        let show = try JSONSerialization.jsonObject(with: Data(try loam("show", "HEAD", "--json").output.utf8)) as? [String: Any]
        #expect((show?["changes"] as? [[String: Any]])?.first?["rows_after"] as? Int == 1)
        // The CLI's --json and the REST API print the same view of a commit.
        #expect(show?["id"] as? String == log?.first?["id"] as? String && show?["time_millis"] is Int && show?["time"] is String)
        let datasets = try JSONSerialization.jsonObject(with: Data(try loam("datasets", "--json", "--ref", "v1").output.utf8)) as? [[String: Any]]
        #expect(datasets?.first?["rows"] as? Int == 2 && datasets?.first?["columns"] as? [String] == ["id", "name"])
        let exported = dir.appendingPathComponent("t.jsonl").path
        #expect(try loam("export", "t", "--format", "jsonl", "-o", exported, "--ref", "v1").status == 0)
        #expect(try String(contentsOfFile: exported, encoding: .utf8) == "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n")
    }

    @Test func errorsExitNonZeroWithOneClearLine() throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let outside = try TestEnvironment.run(TestEnvironment.loamBinary, ["log"], directory: dir)
        #expect(outside.status == 1)
        #expect(outside.error.hasPrefix("loam: error: no Loam repository at"))
        #expect(try TestEnvironment.run(TestEnvironment.loamBinary, ["init", dir.path]).status == 0)
        let again = try TestEnvironment.run(TestEnvironment.loamBinary, ["init", dir.path])
        #expect(again.status == 1 && again.error.contains("already a Loam repository"))
        let missing = try TestEnvironment.loam(["import", "nope.csv", "-d", "t"], repo: dir)
        #expect(missing.status == 1 && missing.error == "loam: error: no such file or folder: nope.csv\n")
        let usage = try TestEnvironment.loam(["import", "x.csv"], repo: dir)
        #expect(usage.status == 64 && usage.error.contains("--dataset"))
        let badFormat = try TestEnvironment.loam(["export", "t", "--format", "orc", "-o", "x"], repo: dir)
        #expect(badFormat.status == 64)
        let unknown = try TestEnvironment.loam(["head", "t"], repo: dir)
        #expect(unknown.status == 1 && unknown.error.contains("unknown dataset 't'"))
        let badRef = try TestEnvironment.loam(["show", "zzzz"], repo: dir)
        #expect(badRef.status == 1 && badRef.error.contains("unknown ref 'zzzz'"))
        let help = try TestEnvironment.run(TestEnvironment.loamBinary, ["--help"])
        for command in ["init", "import", "datasets", "schema", "head", "count", "export", "log", "show", "tag", "tags"] {
            #expect(help.output.contains("  \(command) "), "--help lacks \(command)")
        }
    }

    /// Names, messages and values reach the terminal with control characters escaped; data files stay exact.
    @Test func controlCharactersFromARepositoryNeverReachTheTerminalRaw() throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-cli-ctl")
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try TestEnvironment.write("id,s\n1,\"a\u{1b}[31mred\u{7}\"\n", to: "a.csv", in: dir)
        #expect(try TestEnvironment.loam(["init", dir.path], repo: dir).status == 0)
        #expect(try TestEnvironment.loam(["import", csv, "-d", "t", "-q", "-m", "evil \u{1b}]0;title\u{7} \u{202e}txt"], repo: dir).status == 0)
        for args in [["query", "SELECT * FROM t"], ["log", "--oneline"], ["log"], ["head", "t"]] {
            let out = try TestEnvironment.loam(args, repo: dir).output
            #expect(!out.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{7}" || $0 == "\u{202e}" }, "\(args): \(out)")
        }
        #expect(try TestEnvironment.loam(["query", "SELECT s FROM t"], repo: dir).output.contains("a\\u{1b}[31mred\\u{7}"))
        let error = try TestEnvironment.loam(["query", "SELECT * FROM \"x\u{1b}[2J\""], repo: dir).error
        #expect(error.contains("x\\u{1b}[2J") && !error.contains("\u{1b}"), "\(error)")
        // Exported data is data: byte for byte.
        #expect(try TestEnvironment.loam(["export", "t", "--format", "csv", "-o", "-"], repo: dir).output.contains("a\u{1b}[31mred\u{7}"))
    }

    @Test func progressBarDrawsOnATerminal() throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try TestEnvironment.run(TestEnvironment.loamBinary, ["init", dir.path]).status == 0)
        let csv = try TestEnvironment.write("a\n" + (0..<5000).map { "\($0)\n" }.joined(), to: "a.csv", in: dir)
        // `script` gives the command a pseudo-terminal, as a person's shell would.
        let command = "LOAM_REPO='\(dir.path)' '\(TestEnvironment.loamBinary)' import '\(csv)' -d t --fragment-rows 100"
        let result = try TestEnvironment.run("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("\ra.csv ["), "no progress bar: \(result.output.debugDescription)")
        #expect(result.output.contains("100%"))
    }

    @Test func progressBarStaysQuietWhenPiped() throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try TestEnvironment.run(TestEnvironment.loamBinary, ["init", dir.path]).status == 0)
        let csv = try TestEnvironment.write("a\n" + (0..<5000).map { "\($0)\n" }.joined(), to: "a.csv", in: dir)
        let result = try TestEnvironment.loam(["import", csv, "-d", "t", "--fragment-rows", "100"], repo: dir)
        #expect(result.status == 0)
        #expect(result.error.isEmpty, "progress output on a pipe: \(result.error)")
        #expect(result.output == "Created dataset t: 5000 rows in 50 fragments (commit \(result.output.suffix(14).prefix(12)))\n")
    }
}

@Suite struct VersionControlCLITests {
    @Test func branchDiffMergeAndMaintenanceCommands() throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        func loam(_ args: String...) throws -> TestEnvironment.ProcessResult { try TestEnvironment.loam(args, repo: dir) }
        #expect(try TestEnvironment.run(TestEnvironment.loamBinary, ["init", dir.path]).status == 0)
        let csv = try TestEnvironment.write("id,name\n1,a\n2,b\n3,c\n", to: "a.csv", in: dir)
        #expect(try loam("import", csv, "-d", "t").status == 0)
        #expect(try loam("switch", "-c", "exp").status == 0)
        #expect(try loam("update", "t", "--set", "name=x", "--where", "id = 1").status == 0)
        #expect(try loam("switch", "main").status == 0)
        #expect(try loam("update", "t", "--set", "name=y", "--where", "id = 1").status == 0)

        let branches = try JSONSerialization.jsonObject(with: Data(try loam("branch", "--json").output.utf8)) as? [[String: Any]]
        #expect(branches?.compactMap { $0["name"] as? String } == ["exp", "main"])
        let diff = try JSONSerialization.jsonObject(with: Data(try loam("diff", "main", "exp", "--json").output.utf8)) as? [[String: Any]]
        let modified = (diff?.first?["modified"] as? [[String: Any]])?.first?["changes"] as? [[String: Any]]
        #expect(modified?.first?["old"] as? String == "y" && modified?.first?["new"] as? String == "x")

        let arrow = dir.appendingPathComponent("diff.arrow").path
        #expect(try loam("diff", "main", "exp", "--arrow", arrow).status == 0)
        let read = try TestEnvironment.run(TestEnvironment.python, ["-c", """
            import pyarrow.ipc as ipc, sys
            t = ipc.open_file(sys.argv[1]).read_all()
            assert t.column_names == ["dataset", "_rowid", "change", "column", "old", "new"], t.schema
            rows = t.to_pylist()
            assert rows == [{"dataset": "t", "_rowid": 0, "change": "modified", "column": "name", "old": '"y"', "new": '"x"'}], rows
            """, arrow])
        #expect(read.status == 0, "\(read.error)")

        let conflicted = try loam("merge", "exp")
        #expect(conflicted.status == 1 && conflicted.error.contains("t:0:name: cell (base 'a', ours 'y', theirs 'x')"))
        #expect(try loam("merge", "exp", "--resolve", "t:0:name=theirs").status == 0)
        #expect(try loam("head", "t", "--json", "-n", "3").output.contains("{\"id\":1,\"name\":\"x\"}"))

        let reset = try loam("reset", "HEAD~2")
        #expect(reset.status == 1 && reset.error.contains("would leave"))
        #expect(try loam("fsck").output.hasPrefix("ok: "))
        #expect(try loam("gc", "--dry-run").output.hasPrefix("Would delete 0 objects"))
        #expect(try loam("compact", "t").status == 0)
        #expect(try loam("storage").output.contains("exp"))
        #expect(try loam("revert", "HEAD").status == 0)
        #expect(try loam("branch", "-d", "exp").status == 0)
    }
}

@Suite struct SQLShellTests {
    @Test func aScriptRunsStatementsAcrossLinesWithBackslashCommands() throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try TestEnvironment.run(TestEnvironment.loamBinary, ["init", dir.path]).status == 0)
        let csv = try TestEnvironment.write("id,name\n1,a\n2,b\n", to: "a.csv", in: dir)
        #expect(try TestEnvironment.loam(["import", csv, "-d", "t"], repo: dir).status == 0)
        let script = try TestEnvironment.write("\\d\nSELECT id,\n  upper(name) AS n\nFROM t ORDER BY id;\nUPDATE t SET name = 'z' WHERE id = 2;\n\\d t\nSELECT nope FROM t;\n", to: "s.sql", in: dir)
        let result = try TestEnvironment.run("/bin/sh", ["-c", "LOAM_REPO='\(dir.path)' '\(TestEnvironment.loamBinary)' sql < '\(script)'"])
        #expect(result.status == 1, "a failing statement should make the script exit non-zero")
        #expect(result.output.contains("dataset  rows\n-------  ----\nt        2   \n"))
        #expect(result.output.contains("id  n\n--  -\n1   A\n2   B\n(2 rows)"))
        #expect(result.output.contains("UPDATE 1 (commit "))
        #expect(result.output.contains("column  type    nullable"))
        #expect(result.error.contains("unknown column 'nope'"))
        let history = try String(contentsOf: dir.appendingPathComponent(".loam/sql_history"), encoding: .utf8)
        #expect(history.contains("SELECT id,   upper(name) AS n FROM t ORDER BY id;"))
    }
}
