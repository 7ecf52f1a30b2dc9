@testable import LoamFormat
import Testing

/// Loam's Parquet writer and reader against each other on random nested data, and the pieces
/// under them (codecs, the RLE/bit-packed hybrid) on random inputs. The pyarrow, DuckDB and
/// polars checks of the same code are in python/tests/test_parquet.py.
@Suite struct ParquetRoundTripTests {
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    @Test func everyCodecRoundTripsAndRefusesDamage() throws {
        var rng = Random(state: 1)
        // Compressible: words from a small vocabulary.
        let words = ["label", "cat", "dog", "image", "0.25", "train"].map { Array($0.utf8) }
        var input: [UInt8] = []
        while input.count < 100_000 { input += words[rng.below(words.count)] + [32] }
        for codec in [Codec.uncompressed, .snappy, .zstd, .gzip, .lz4Raw, .lz4Frame] {
            let packed = try input.withUnsafeBytes { try codec.compress($0) }
            var out = [UInt8](repeating: 0, count: input.count)
            try packed.withUnsafeBytes { p in try out.withUnsafeMutableBytes { try codec.decompress(p, into: $0) } }
            #expect(out == input, "\(codec.name)")
            if codec != .uncompressed {
                #expect(packed.count < input.count / 2, "\(codec.name) did not compress")
                // Cut short: an error, never a crash or a silent short read.
                let cut = Array(packed.prefix(packed.count / 2))
                #expect(throws: FormatError.self, "\(codec.name)") {
                    try cut.withUnsafeBytes { p in try out.withUnsafeMutableBytes { try codec.decompress(p, into: $0) } }
                }
            }
        }
    }

    @Test func hybridEncodingRoundTripsEveryWidth() throws {
        var rng = Random(state: 2)
        for width in 1...20 {
            for _ in 0..<20 {
                let n = rng.below(300)
                let limit = 1 << width
                // Runs and noise mixed, so both RLE runs and bit-packed groups appear.
                var values: [UInt32] = []
                while values.count < n {
                    let v = UInt32(rng.below(limit))
                    values += Array(repeating: v, count: rng.below(3) == 0 ? rng.below(40) + 1 : 1)
                }
                values = Array(values.prefix(n))
                var bytes: [UInt8] = []
                Hybrid.encode(values, width: width, into: &bytes)
                var back: [UInt32] = []
                try bytes.withUnsafeBytes { raw in
                    var decoder = ParquetDecoder(raw)
                    try decoder.hybrid(bitWidth: width, count: n, into: &back)
                }
                #expect(back == values, "width \(width), \(n) values")
            }
        }
    }

    @Test func nestedRandomDataRoundTripsThroughLoamsOwnWriterAndReader() throws {
        var rng = Random(state: 3)
        let point = ArrowType.structType([Field(name: "x", type: .int16), Field(name: "tags", type: .list(Field(name: "item", type: .utf8)))])
        let schema = Schema(fields: [
            Field(name: "id", type: .int64, nullable: false),
            Field(name: "u", type: .uint64),
            Field(name: "f", type: .float32),
            Field(name: "flag", type: .bool),
            Field(name: "s", type: .utf8),
            Field(name: "b", type: .binary),
            Field(name: "day", type: .date32),
            Field(name: "ts", type: .timestamp(.microsecond, timeZone: "UTC")),
            Field(name: "emb", type: .fixedSizeList(Field(name: "item", type: .float32, nullable: false), 3)),
            Field(name: "ll", type: .list(Field(name: "item", type: .list(Field(name: "item", type: .int32))))),
            Field(name: "points", type: .list(Field(name: "item", type: point))),
        ])
        func maybe(_ v: Value) -> Value { rng.below(8) == 0 ? .null : v }
        var rows: [[Value]] = []
        for i in 0..<2_500 {
            let words = ["", "a", "héllo", "水", String(repeating: "z", count: 50)]
            rows.append([
                .int(Int64(i)), maybe(.uint(rng.next())), maybe(.float(Double(Float(rng.below(1000)) / 8))),
                maybe(.bool(rng.below(2) == 0)), maybe(.string(words[rng.below(words.count)])),
                maybe(.binary((0..<rng.below(6)).map { _ in UInt8(rng.below(256)) })), maybe(.int(Int64(rng.below(40_000)) - 20_000)),
                maybe(.int(Int64(bitPattern: rng.next()) >> 8)),
                .list((0..<3).map { _ in .float(Double(rng.below(100))) }),
                maybe(.list((0..<rng.below(3)).map { _ in maybe(.list((0..<rng.below(3)).map { _ in maybe(.int(Int64(rng.below(9)))) })) })),
                maybe(.list((0..<rng.below(3)).map { _ in
                    maybe(.structValue([maybe(.int(Int64(rng.below(100)))), maybe(.list((0..<rng.below(3)).map { _ in maybe(.string(words[rng.below(words.count)])) }))]))
                })),
            ])
        }
        let columns = try schema.fields.enumerated().map { c, field in try ArrowArray.fromValues(rows.map { $0[c] }, type: field.type) }
        for codec in [Codec.snappy, .zstd, .uncompressed] {
            // Small row groups: three of them, and a batch split across two.
            var writer = try ParquetWriter(schema: schema, sink: MemorySink(), codec: codec, rowGroupRows: 1_000)
            try writer.write(RecordBatch(schema: schema, columns: columns.map { $0.take(Array(0..<700)) }, length: 700))
            try writer.write(RecordBatch(schema: schema, columns: columns.map { $0.take(Array(700..<rows.count)) }, length: rows.count - 700))
            let bytes = try writer.finish().bytes
            let reader = try ParquetReader(data: ByteView(copying: bytes))
            #expect(reader.rowGroupCount == 3 && reader.rowCount == rows.count)
            var back: [[Value]] = []
            for g in 0..<reader.rowGroupCount {
                let read = try reader.rowGroup(g)
                back += (0..<read.length).map(read.row)
            }
            #expect(back.count == rows.count)
            for (i, (got, want)) in zip(back, rows).enumerated() where got != want {
                Issue.record("\(codec.name): row \(i) reads \(got), wrote \(want)")
                break
            }
            // Projection: one column, the rest never decoded.
            let only = try ParquetReader(data: ByteView(copying: bytes), columns: ["points"])
            #expect(only.schema.fields.map(\.name) == ["points"])
            #expect(try only.rowGroup(1).row(5) == [rows[1_005][10]])
        }
    }
}
