import Foundation
@testable import Loam
import LoamFormat
import LoamStorage
import LoamTestSupport
import Testing

/// A fresh repository in a scratch folder.
func makeRepository() async throws -> (Repository, URL) {
    let dir = try TestEnvironment.temporaryDirectory()
    return (try await Repository.initialize(at: dir), dir)
}

/// Every live row of a dataset at a ref, as values, in storage order.
func rows(_ repo: Repository, _ dataset: String, at ref: String = "HEAD", rowid: Bool = false) async throws -> [[Value]] {
    var result: [[Value]] = []
    try await repo.dataset(dataset, at: ref).scan(includeRowID: rowid) { batch in
        for i in 0..<batch.length { result.append(batch.row(i)) }
    }
    return result
}

/// Asserts that a failing write left the repository as it was: same head, same datasets, nothing staged.
func expectUnchanged(_ repo: Repository, head: ObjectID, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    #expect(try await repo.resolve("HEAD") == head, sourceLocation: sourceLocation)
    let tmp = repo.root.appendingPathComponent(".loam/tmp")
    #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty, "temporary files left behind", sourceLocation: sourceLocation)
}

@Suite struct CSVImportTests {
    @Test func rfc4180QuotingNewlinesCRLFAndEmptyValues() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = "id,text,score\r\n1,\"a, b\",0.5\r\n2,\"say \"\"hi\"\"\nnext line\",\r\n3,,1e3\r\n4,\"\",-2\r\n\r\n"
        let path = try TestEnvironment.write(csv, to: "t.csv", in: dir)
        let result = try await repo.importData(from: path, into: "t")
        #expect(result.rows == 4)
        let ds = try await repo.dataset("t")
        #expect(ds.schema.fields.map(\.type) == [.int64, .utf8, .float64])
        #expect(try await rows(repo, "t") == [
            [.int(1), .string("a, b"), .float(0.5)],
            [.int(2), .string("say \"hi\"\nnext line"), .null],
            [.int(3), .null, .float(1000)],
            [.int(4), .string(""), .float(-2)],
        ])
    }

    @Test func inferenceAndDeclaredSchemaAndDelimiter() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tsv = "flag\tday\tat\tn\tv\ntrue\t2024-02-29\t2024-01-01T00:00:01Z\t7\t[1,2]\nfalse\t1970-01-01\t1970-01-01 00:00:00.5\t8\t[3,4]\n"
        let path = try TestEnvironment.write(tsv, to: "t.tsv", in: dir)
        var options = ImportOptions(schema: "n:int8, v:fixed_size_list<float32, 2>")
        options.delimiter = 9
        try await repo.importData(from: path, into: "t", options: options)
        let ds = try await repo.dataset("t")
        #expect(ds.schema.fields.map(\.type) == [.bool, .date32, .timestamp(.microsecond, timeZone: nil), .int8,
                                                   .fixedSizeList(Field(name: "item", type: .float32), 2)])
        #expect(try await rows(repo, "t") == [
            [.bool(true), .int(19782), .int(1_704_067_201_000_000), .int(7), .list([.float(1), .float(2)])],
            [.bool(false), .int(0), .int(500_000), .int(8), .list([.float(3), .float(4)])],
        ])
    }

    @Test func appendingChecksColumnsAndTypes() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.importData(from: try TestEnvironment.write("id,name\n1,a\n", to: "a.csv", in: dir), into: "t")
        // Same columns in another order, one missing: fine, the missing one is null.
        try await repo.importData(from: try TestEnvironment.write("id\n2\n", to: "b.csv", in: dir), into: "t")
        #expect(try await rows(repo, "t") == [[.int(1), .string("a")], [.int(2), .null]])
        let head = try await repo.resolve("HEAD")
        // An unknown column is explained.
        await #expect { try await repo.importData(from: try TestEnvironment.write("id,extra\n3,x\n", to: "c.csv", in: dir), into: "t") } throws: {
            "\($0)".contains("column 'extra' is not in dataset 't'") && "\($0)".contains("c.csv")
        }
        // A value that does not fit the stored type names the line and column.
        await #expect { try await repo.importData(from: try TestEnvironment.write("id,name\n4,d\nfive,e\n", to: "d.csv", in: dir), into: "t") } throws: {
            "\($0)".contains("d.csv:3 (column 'id')") && "\($0)".contains("'five' is not a valid int64")
        }
        try await expectUnchanged(repo, head: head)
    }

    @Test func malformedFilesGetOneClearErrorAndChangeNothing() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.importData(from: try TestEnvironment.write("a,b\n1,2\n", to: "ok.csv", in: dir), into: "t")
        let head = try await repo.resolve("HEAD")
        let cases: [(String, [UInt8], String)] = [
            ("unterminated.csv", Array("a,b\n1,2\n3,\"open\n4,5\n".utf8), "unterminated.csv:3: unterminated quoted field"),
            ("fields.csv", Array("a,b\n1,2\n3,4,5\n".utf8), "fields.csv:3: expected 2 fields (as in the header), found 3"),
            ("utf8.csv", Array("a,b\n1,x\n2,".utf8) + [0xC3, 0x28] + Array("\n".utf8), "utf8.csv:3 (column 'b'): invalid UTF-8"),
            ("after-quote.csv", Array("a,b\n1,\"x\"y\n".utf8), "after-quote.csv:2: unexpected character 'y' after a closing quote"),
            ("empty.csv", [], "empty.csv:1: the file is empty"),
        ]
        for (name, bytes, message) in cases {
            let url = dir.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            await #expect(performing: { try await repo.importData(from: url.path, into: "t2") }, throws: { error in
                let text = "\(error)"
                let ok = text.contains(message)
                if !ok { Issue.record("\(name): got \(text)") }
                return ok
            })
            try await expectUnchanged(repo, head: head)
        }
        await #expect(throws: LoamError.fileNotFound(dir.appendingPathComponent("missing.csv").path)) {
            try await repo.importData(from: dir.appendingPathComponent("missing.csv").path, into: "t")
        }
        await #expect(throws: LoamError.self) { try await repo.importData(from: dir.appendingPathComponent("ok.csv").path, into: "_bad") }
        try await expectUnchanged(repo, head: head)
    }
}

@Suite struct CSVLimitsTests {
    @Test func anUnterminatedQuoteInALargeFileStopsAtTheRecordLimit() throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let body = "a,b\n1,\"never closed\n" + String(repeating: "x,y\n", count: 400_000)  // 1.6 MB in one "field"
        let path = try TestEnvironment.write(body, to: "open.csv", in: dir)
        let tokenizer = try CSVTokenizer(input: .file(path), delimiter: UInt8(ascii: ","), maxRecordBytes: 1 << 20)
        var record = CSVTokenizer.Record()
        #expect(try tokenizer.next(into: &record))
        #expect(throws: LoamError.badInput(file: path, line: 2, column: nil,
                                           message: "a record longer than 1 MiB starts here; is a quote left open in field 2?")) {
            _ = try tokenizer.next(into: &record)
        }
    }
}
