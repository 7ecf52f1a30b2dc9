import Foundation
import LoamFormat
import LoamTestSupport
import Testing

@Suite struct PyArrowInteropTests {
    func read(_ url: URL) throws -> IPCReader {
        try IPCReader(data: ByteView(storage: try ByteStorage.map(path: url.path)))
    }

    @Test func readsEveryTypePyArrowWritesAndWritesThemBackIdentically() throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try TestEnvironment.runPython("arrow_types.py", ["write", dir.path])
        #expect(made.status == 0, "\(made.error)")

        for (name, format) in [("all_types.arrow", IPCWriter<MemorySink>.Format.file), ("all_types.stream", .stream)] {
            let reader = try read(dir.appendingPathComponent(name))
            let batches = try reader.batches()
            #expect(batches.reduce(0) { $0 + $1.length } == 5)
            let first = batches[0]
            #expect(first.column("i64")?.value(at: 0) == .int(Int64.min))
            #expect(first.column("u64")?.value(at: 1) == .uint(UInt64.max))
            #expect(first.column("s")?.value(at: 0) == .string("héllo"))
            #expect(first.column("s")?.value(at: 2) == .null)
            #expect(first.column("emb")?.value(at: 0) == .list([.float(1), .float(2), .float(3)]))
            #expect(first.column("emb")?.value(at: 1) == .null)
            #expect(first.column("st")?.value(at: 0) == .structValue([.int(1), .string("a")]))
            #expect(reader.schema.fields[reader.schema.index(of: "emb")!].metadata == ["shape": "[3]"])
            #expect(reader.schema.fields[reader.schema.index(of: "ts_us")!].type == .timestamp(.microsecond, timeZone: "Europe/Paris"))
            #expect(reader.schema.metadata["origin"] == "pyarrow")

            let copy = dir.appendingPathComponent("loam-" + name)
            let bytes = try IPCWriter.bytes(schema: reader.schema, batches: batches, format: format)
            try Data(bytes).write(to: copy)
            let same = try TestEnvironment.runPython("arrow_types.py", ["same", dir.appendingPathComponent(name).path, copy.path])
            #expect(same.status == 0, "pyarrow found a difference in \(name): \(same.error)")
        }
    }

    @Test func zstdCompressedFilesReadAsTheirUncompressedTwin() throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try TestEnvironment.runPython("arrow_types.py", ["write", dir.path])
        let compressed = try read(dir.appendingPathComponent("compressed.arrow")).batches()
        let plain = try read(dir.appendingPathComponent("all_types.arrow")).batches()
        #expect(compressed.flatMap { b in (0..<b.length).map(b.row) } == plain.flatMap { b in (0..<b.length).map(b.row) })
    }

    @Test func builtFileOpensInPyArrow() throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let point = ArrowType.structType([Field(name: "x", type: .int32), Field(name: "y", type: .utf8)])
        let schema = Schema(fields: [
            Field(name: "id", type: .int64),
            Field(name: "name", type: .utf8),
            Field(name: "score", type: .float64),
            Field(name: "flag", type: .bool),
            Field(name: "vec", type: .fixedSizeList(Field(name: "item", type: .float32), 2), metadata: ["shape": "[2]"]),
            Field(name: "tags", type: .list(Field(name: "item", type: .utf8))),
            Field(name: "point", type: point),
            Field(name: "day", type: .date32),
            Field(name: "at", type: .timestamp(.second, timeZone: nil)),
        ], metadata: ["loam": "test"])
        let rows: [[Value]] = [
            [.int(1), .string("a"), .float(0.5), .bool(true), .list([.float(1), .float(2)]), .list([.string("x"), .string("y")]),
             .structValue([.int(1), .string("p")]), .int(19724), .int(1)],
            Array(repeating: .null, count: 9),
            [.int(-3), .string("ccc"), .float(-1.25), .bool(false), .list([.float(5), .float(6)]), .list([]),
             .structValue([.null, .string("q")]), .int(0), .int(0)],
        ]
        let columns = try schema.fields.enumerated().map { i, field in
            try ArrowArray.fromValues(rows.map { $0[i] }, type: field.type)
        }
        let bytes = try IPCWriter.bytes(schema: schema, batches: [RecordBatch(schema: schema, columns: columns)])
        let file = dir.appendingPathComponent("built.arrow")
        try Data(bytes).write(to: file)
        let checked = try TestEnvironment.runPython("arrow_types.py", ["check", file.path])
        #expect(checked.status == 0, "\(checked.error)")

        // And Loam reads back what it wrote.
        let back = try read(file).batch(0)
        for (i, row) in rows.enumerated() { #expect(back.row(i) == row) }
    }

    @Test func truncatedAndGarbageInputIsAnErrorNotACrash() throws {
        let item = Field(name: "item", type: .int64)
        let point = ArrowType.structType([Field(name: "x", type: .int32), Field(name: "s", type: .utf8)])
        let schema = Schema(fields: [Field(name: "s", type: .utf8), Field(name: "v", type: .list(item)),
                                     Field(name: "e", type: .fixedSizeList(Field(name: "item", type: .float32), 2)),
                                     Field(name: "p", type: point), Field(name: "b", type: .bool), Field(name: "ls", type: .largeBinary)])
        let columns = [
            try ArrowArray.fromValues([.string("abc"), .null, .string("")], type: .utf8),
            try ArrowArray.fromValues([.list([.int(1)]), .list([]), .null], type: .list(item)),
            try ArrowArray.fromValues([.list([.float(1), .float(2)]), .null, .list([.float(3), .float(4)])], type: schema.fields[2].type),
            try ArrowArray.fromValues([.structValue([.int(1), .string("q")]), .null, .structValue([.null, .null])], type: point),
            try ArrowArray.fromValues([.bool(true), .null, .bool(false)], type: .bool),
            try ArrowArray.fromValues([.binary([1, 2]), .binary([]), .null], type: .largeBinary),
        ]
        let seed = UInt64(ProcessInfo.processInfo.environment["LOAM_FUZZ_SEED"] ?? "") ?? 20261125
        let iterations = Int(ProcessInfo.processInfo.environment["LOAM_FUZZ_ITERATIONS"] ?? "") ?? 20_000
        for format in [IPCWriter<MemorySink>.Format.file, .stream] {
            let bytes = try IPCWriter.bytes(schema: schema, batches: [RecordBatch(schema: schema, columns: columns)], format: format)
            for cut in 0..<bytes.count {
                _ = try? IPCReader(data: ByteView(copying: Array(bytes.prefix(cut)))).batches()
            }
            var generator = SeededRandom(seed: seed)
            for _ in 0..<iterations {
                var corrupt = bytes
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    corrupt[Int.random(in: 0..<corrupt.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                // Whatever parses must also be safe to read, cell by cell.
                if let batches = try? IPCReader(data: ByteView(copying: corrupt)).batches() {
                    for batch in batches { for column in batch.columns { _ = column.values } }
                }
            }
            #expect(throws: FormatError.self) { _ = try IPCReader(data: ByteView(copying: Array(bytes.prefix(bytes.count - 3)))).batches() }
        }
    }
}

@Suite struct HostileSchemaTests {
    @Test func deeplyNestedOrCyclicSchemasAreRejected() throws {
        var type = ArrowType.int64
        for _ in 0..<100 { type = .list(Field(name: "item", type: type)) }
        let schema = Schema(fields: [Field(name: "deep", type: type)])
        let bytes = try IPCWriter.bytes(schema: schema, batches: [])
        #expect(throws: FormatError.malformed("field 'item' is nested more than 64 levels deep")) {
            _ = try IPCReader(data: ByteView(copying: bytes))
        }
    }
}
