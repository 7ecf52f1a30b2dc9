import Foundation
import Loam
import LoamFormat
import LoamTestSupport
import Testing

/// Bytes in memory, as a request body arrives.
func storage(_ text: String) -> ByteStorage { Array(text.utf8).withUnsafeBytes { ByteStorage(copying: $0) } }

/// Imports from bytes in memory (a request body): no temporary file, errors that name the upload.
@Suite struct ByteImportTests {
    @Test func csvJsonlAndArrowBytesImportLikeFiles() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = storage("id,name\n1,a\n2,b\n")
        let first = try await repo.importData(bytes: csv, named: "upload", format: .csv, into: "t")
        #expect(first.rows == 2 && first.created)
        #expect(try await repo.tables.commit(first.commit).message == "Import upload into t")
        let jsonl = storage("{\"id\": 3, \"name\": \"c\"}\n")
        #expect(try await repo.importData(bytes: jsonl, named: "upload", format: .jsonl, into: "t").rows == 1)
        let batch = try await repo.dataset("t").take([0, 2])
        let arrow = try IPCWriter.bytes(schema: batch.schema, batches: [batch], format: .file)
        #expect(try await repo.importData(bytes: arrow.withUnsafeBytes { ByteStorage(copying: $0) }, named: "upload", format: .arrow, into: "t").rows == 2)
        #expect(try await rows(repo, "t").map { $0[0] } == [.int(1), .int(2), .int(3), .int(1), .int(3)])
        // Larger than one read chunk: the reader refills from memory like from a file.
        let big = "id,name\n" + (0..<300_000).map { "\($0),row \($0)\n" }.joined()
        let imported = try await repo.importData(bytes: storage(big), named: "big.csv", format: .csv, into: "big")
        #expect(imported.rows == 300_000 && big.utf8.count > 4 << 20)
    }

    @Test func errorsNameTheUploadLineAndColumnAndCommitNothing() async throws {
        let (repo, dir) = try await makeRepository()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await repo.importData(bytes: storage("id,n\n1,2\n"), named: "upload", format: .csv, into: "t")  // n is int64 now
        let head = try await repo.resolve("HEAD")
        let bad = storage("id,n\n1,2\n2,x\n")
        await #expect { try await repo.importData(bytes: bad, named: "upload", format: .csv, into: "t") } throws: {
            "\($0)".hasPrefix("upload:3 (column 'n')")
        }
        let garbage = storage("\u{1}\u{2}\u{3}\u{4}")
        await #expect { try await repo.importData(bytes: garbage, named: "upload", format: .arrow, into: "t") } throws: { "\($0)".hasPrefix("upload:") }
        await #expect(throws: LoamError.invalidArgument("a folder cannot arrive as bytes; send csv, jsonl, parquet or arrow")) {
            try await repo.importData(bytes: garbage, named: "upload", format: .folder, into: "t")
        }
        #expect(try await repo.resolve("HEAD") == head)
    }
}
