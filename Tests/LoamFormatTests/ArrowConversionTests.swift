import Foundation
@testable import LoamFormat
import Testing

/// The conversions of Arrow types Loam does not store (dictionaries, views, run-end encoding, decimals,
/// intervals, large and view lists, big-endian swaps) under damaged input: Apache Arrow's golden files
/// (Tests/Fixtures/arrow-integration), cut short and with bytes flipped, give rows or a FormatError —
/// never a trap. `python/tests/test_arrow_golden.py` checks the same files' values against pyarrow.
@Suite struct ArrowConversionTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/arrow-integration")

    static let files = [
        "cpp-21.0.0/generated_dictionary.arrow_file", "cpp-21.0.0/generated_nested_dictionary.stream",
        "cpp-21.0.0/generated_binary_view.arrow_file", "cpp-21.0.0/generated_list_view.stream",
        "cpp-21.0.0/generated_run_end_encoded.arrow_file", "cpp-21.0.0/generated_decimal32.stream",
        "cpp-21.0.0/generated_interval_mdn.arrow_file", "cpp-21.0.0/generated_nested_large_offsets.stream",
        "1.0.0-bigendian/generated_primitive.arrow_file", "1.0.0-bigendian/generated_dictionary.stream",
        "4.0.0-shareddict/generated_shared_dict.arrow_file", "2.0.0-compression/generated_zstd.stream",
    ]

    /// Reads every batch and every cell (what an import does after the reader).
    static func readAll(_ bytes: [UInt8]) throws -> Int {
        var reader = try IPCReader(data: ByteView(copying: bytes))
        reader.maxRowsPerBodyByte = 8
        var rows = 0
        for b in 0..<reader.batchCount {
            let batch = try reader.batch(b)
            for column in batch.columns {
                #expect(column.length == batch.length)
                for row in 0..<column.length { _ = column.value(at: row) }
            }
            rows += batch.length
        }
        return rows
    }

    @Test(arguments: files) func damagedGoldenFilesFailCleanly(_ name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Self.golden.appendingPathComponent(name)))
        #expect(try Self.readAll(bytes) > 0, "\(name) reads whole")
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
            _ = try? Self.readAll(Array(bytes.prefix(cut)))
        }
        var generator = SeededRandom(seed: UInt64(ProcessInfo.processInfo.environment["LOAM_FUZZ_SEED"] ?? "") ?? 20261130)
        for _ in 0..<(Int(ProcessInfo.processInfo.environment["LOAM_FUZZ_ITERATIONS"] ?? "") ?? 400) {
            var corrupt = bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                corrupt[Int.random(in: 0..<corrupt.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            do { _ = try Self.readAll(corrupt) } catch is FormatError {} catch { Issue.record("\(name): \(type(of: error)) \(error)") }
        }
    }

    /// Inputs libFuzzer found (scripts/fuzz.sh SECONDS arrow), kept so they stay fixed: each is refused cleanly.
    @Test func fuzzRegressionsAreRefused() throws {
        let folder = Self.golden.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus-arrow-regressions")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(!names.isEmpty)
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            #expect(throws: FormatError.self, "\(name)") { _ = try Self.readAll(bytes) }
        }
    }

    @Test func bigEndianAndLittleEndianGoldenFilesReadTheSameValues() throws {
        for stem in ["generated_primitive", "generated_decimal", "generated_dictionary", "generated_nested", "generated_interval"] {
            let little = try IPCReader(data: ByteView(copying: [UInt8](Data(contentsOf: Self.golden.appendingPathComponent("1.0.0-littleendian/\(stem).arrow_file")))))
            let big = try IPCReader(data: ByteView(copying: [UInt8](Data(contentsOf: Self.golden.appendingPathComponent("1.0.0-bigendian/\(stem).arrow_file")))))
            #expect(big.bigEndian && !little.bigEndian)
            #expect(little.schema == big.schema, "\(stem)")
            #expect(little.batchCount == big.batchCount)
            for b in 0..<little.batchCount {
                let (l, g) = (try little.batch(b), try big.batch(b))
                for (x, y) in zip(l.columns, g.columns) {
                    for row in 0..<x.length {  // (NaN equals itself here: compared as text)
                        let (u, v) = (x.value(at: row), y.value(at: row))
                        #expect(u == v || "\(u)" == "\(v)", "\(stem) batch \(b) row \(row)")
                    }
                }
            }
        }
    }
}
