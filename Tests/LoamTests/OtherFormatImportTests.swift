import Foundation
import Loam
import LoamQuery
import LoamFormat
import LoamTestSupport
import Testing

@Suite struct OtherFormatImportTests {
    @Test func jsonlBecomesTypedColumnsListsAndStructs() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let jsonl = """
            {"id": 1, "text": "caf\\u00e9", "emb": [0.5, 1], "tags": ["a"], "meta": {"src": "web", "n": 2}, "ok": true}
            {"id": 2, "text": null, "emb": [2, 3.25], "tags": [], "meta": {"src": "app"}, "score": 1.5}

            {"id": 3, "emb": null, "tags": ["b", "c"], "meta": null, "ok": false, "score": 2}
            """
        let path = try TestEnvironment.write(jsonl, to: "d.jsonl", in: dir)
        try await repo.importData(from: path, into: "d")
        let schema = try await repo.dataset("d").schema
        #expect(schema.fields.map(\.name) == ["id", "text", "emb", "tags", "meta", "ok", "score"])
        #expect(schema.fields.map(\.type) == [
            .int64, .utf8, .fixedSizeList(Field(name: "item", type: .float32), 2), .list(Field(name: "item", type: .utf8)),
            .structType([Field(name: "src", type: .utf8), Field(name: "n", type: .int64)]), .bool, .float64,
        ])
        #expect(try await rows(repo, "d") == [
            [.int(1), .string("café"), .list([.float(0.5), .float(1)]), .list([.string("a")]), .structValue([.string("web"), .int(2)]), .bool(true), .null],
            [.int(2), .null, .list([.float(2), .float(3.25)]), .list([]), .structValue([.string("app"), .null]), .null, .float(1.5)],
            [.int(3), .null, .null, .list([.string("b"), .string("c")]), .null, .bool(false), .float(2)],
        ])
    }

    @Test func jsonlErrorsNameTheLine() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = try await repo.resolve("HEAD")
        let cases = [
            ("bad.jsonl", "{\"a\": 1}\n{\"a\": 2,}\n", "bad.jsonl:2: invalid JSON"),
            ("array.jsonl", "{\"a\": 1}\n[1, 2]\n", "array.jsonl:2: expected a JSON object per line"),
            ("type.jsonl", "{\"a\": 1}\n{\"a\": \"x\"}\n", "type.jsonl:2 (column 'a')"),
            ("deep.jsonl", String(repeating: "[", count: 5000) + "\n", "nested deeper than"),
        ]
        for (name, text, message) in cases {
            let path = try TestEnvironment.write(text, to: name, in: dir)
            // Declared, so that a string in an int column is an error rather than inferred as text.
            let options = ImportOptions(schema: "a:int64")
            await #expect(performing: { try await repo.importData(from: path, into: "d", options: options) }, throws: { error in
                let ok = "\(error)".contains(message)
                if !ok { Issue.record("\(name): got \(error)") }
                return ok
            })
            try await expectUnchanged(repo, head: head)
        }
    }

    @Test func pyarrowFilesOfEveryTypeImportAndExportUnchanged() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try TestEnvironment.runPython("arrow_types.py", ["write", dir.path])
        #expect(made.status == 0, "\(made.error)")
        var options = ImportOptions()
        options.fragmentRows = 2  // several fragments, each a separate Arrow file
        let result = try await repo.importData(from: dir.appendingPathComponent("all_types.arrow").path, into: "all", options: options)
        #expect(result.rows == 5 && result.fragments == 3)
        try await repo.importData(from: dir.appendingPathComponent("all_types.stream").path, into: "from_stream")

        for (dataset, original) in [("all", "all_types.arrow"), ("from_stream", "all_types.stream")] {
            let out = dir.appendingPathComponent("\(dataset)-export.arrow").path
            #expect(try await repo.export(dataset, format: .arrow, to: out) == 5)
            let same = try TestEnvironment.runPython("arrow_types.py", ["same", dir.appendingPathComponent(original).path, out])
            #expect(same.status == 0, "\(dataset): \(same.error)")
        }

        // pyarrow's own CSV and JSON readers read the text exports value for value.
        let csvOut = dir.appendingPathComponent("all.csv").path, jsonOut = dir.appendingPathComponent("all.jsonl").path
        try await repo.export("all", format: .csv, to: csvOut)
        try await repo.export("all", format: .jsonl, to: jsonOut)
        let text = try TestEnvironment.runPython("arrow_types.py", ["text-exports", dir.appendingPathComponent("all_types.arrow").path, csvOut, jsonOut])
        #expect(text.status == 0, "\(text.error)")

        // Every fragment is itself an Arrow IPC file pyarrow opens, with _rowid first.
        let manifest = try await repo.dataset("all").manifest
        for fragment in manifest.fragments {
            // FORMAT.md: objects/<first 2 hex digits>/<remaining 62>.
            let hex = fragment.object.hex
            let file = repo.root.appendingPathComponent(".loam/objects/\(hex.prefix(2))/\(hex.dropFirst(2))").path
            let check = try TestEnvironment.run(TestEnvironment.python, ["-c", """
                import pyarrow.ipc as ipc, sys
                t = ipc.open_file(sys.argv[1]).read_all()
                assert t.schema.names[0] == "_rowid" and str(t.schema.types[0]) == "uint64", t.schema
                assert t.num_rows == int(sys.argv[2]), t.num_rows
                """, file, String(fragment.rows)])
            #expect(check.status == 0, "\(check.error)")
        }

        // Deletion vectors are Arrow files too: one uint32 column of sorted offsets.
        try await repo.delete(from: "all", where: "i8 = 0 OR i8 = 127")
        for fragment in try await repo.dataset("all").manifest.fragments {
            guard let vector = fragment.deletions else { continue }
            let file = repo.root.appendingPathComponent(".loam/objects/\(vector.hex.prefix(2))/\(vector.hex.dropFirst(2))").path
            let check = try TestEnvironment.run(TestEnvironment.python, ["-c", """
                import pyarrow.ipc as ipc, sys
                t = ipc.open_file(sys.argv[1]).read_all()
                assert t.schema.names == ["offset"] and str(t.schema.types[0]) == "uint32", t.schema
                offsets = t.column(0).to_pylist()
                assert offsets == sorted(set(offsets)) and len(offsets) == int(sys.argv[2]), offsets
                """, file, String(fragment.deletedRows)])
            #expect(check.status == 0, "\(check.error)")
        }

        // ZSTD-compressed buffers import like the uncompressed file.
        let compressed = dir.appendingPathComponent("compressed.arrow").path
        #expect(try await repo.importData(from: compressed, into: "z").rows == 5)
    }

    @Test func folderImportFollowsImageFolderConvention() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("pets")
        for (path, bytes) in [("cat/1.png", [0x89, 0x50]), ("cat/2.jpg", [0xFF, 0xD8, 0xFF]), ("dog/a.wav", [1]), ("README.txt", [0x68, 0x69]), (".hidden", [0])] {
            let url = images.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes.map(UInt8.init)).write(to: url)
        }
        await #expect(throws: LoamError.self) { try await repo.importData(from: images.path, into: "pets", options: ImportOptions(schema: "path:int64")) }
        let result = try await repo.importData(from: images.path, into: "pets")
        #expect(result.rows == 4)
        #expect(try await rows(repo, "pets") == [
            [.string("README.txt"), .null, .binary([0x68, 0x69]), .string("text/plain"), .int(2)],
            [.string("cat/1.png"), .string("cat"), .binary([0x89, 0x50]), .string("image/png"), .int(2)],
            [.string("cat/2.jpg"), .string("cat"), .binary([0xFF, 0xD8, 0xFF]), .string("image/jpeg"), .int(3)],
            [.string("dog/a.wav"), .string("dog"), .binary([1]), .string("audio/wav"), .int(1)],
        ])
    }
}
