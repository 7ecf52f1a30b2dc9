import Foundation
import LoamFormat
import LoamStorage
@testable import LoamTable
import LoamTestSupport
import Testing

@Suite struct TableStoreTests {
    /// A repository-like store with a chain of `count` commits on main.
    func chain(_ count: Int, in dir: URL) async throws -> (TableStore, [ObjectID]) {
        let objects = try LocalObjectStore(root: dir)
        let meta = try SQLiteMetaStore(path: dir.appendingPathComponent("catalog.sqlite").path)
        let tables = TableStore(objects: objects, meta: meta)
        var ids: [ObjectID] = []
        for i in 0..<count {
            let commit = Commit(parents: ids.last.map { [$0] } ?? [], tree: [:], author: "t", message: "commit \(i)",
                                time: Date(timeIntervalSince1970: Double(i)))
            ids.append(try await tables.save(commit))
        }
        try await meta.compareAndSwap(branch: "main", expected: nil, new: ids.last!)
        return (tables, ids)
    }

    @Test func refsResolveByBranchTagHashPrefixAndAncestry() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (tables, ids) = try await chain(4, in: dir)
        try await tables.meta.createRef(Ref(name: "v1", kind: .tag, commit: ids[1]))
        #expect(try await tables.resolve("HEAD") == ids[3])
        #expect(try await tables.resolve("main") == ids[3])
        #expect(try await tables.resolve("HEAD~1") == ids[2])
        #expect(try await tables.resolve("main~3") == ids[0])
        #expect(try await tables.resolve("HEAD^^") == ids[1])
        #expect(try await tables.resolve("HEAD~1~1") == ids[1])
        #expect(try await tables.resolve("v1") == ids[1])
        #expect(try await tables.resolve("v1~1") == ids[0])
        #expect(try await tables.resolve(ids[2].hex) == ids[2])
        #expect(try await tables.resolve(String(ids[2].hex.prefix(8))) == ids[2])
        await #expect(throws: TableError.unknownRef("nope")) { _ = try await tables.resolve("nope") }
        await #expect(throws: TableError.self) { _ = try await tables.resolve("HEAD~4") }
        #expect(try await tables.history(from: ids[3]).map(\.id) == ids.reversed())
        #expect(try await tables.history(from: ids[3], limit: 2).map(\.commit.message) == ["commit 3", "commit 2"])
    }

    @Test func commitsAndManifestsAreCanonical() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (tables, _) = try await chain(1, in: dir)
        let schema = TableSchema(fields: [Field(name: "x", type: .int64), Field(name: "v", type: .fixedSizeList(Field(name: "item", type: .float32), 4), metadata: ["shape": "[2,2]"])])
        let manifest = Manifest(schema: schema)
        let first = try await tables.save(manifest)
        #expect(try await tables.save(manifest) == first)
        let loaded = try await tables.manifest(first)
        #expect(loaded == manifest)
        #expect(try loaded.schema.arrowSchema().fields[1].type == .fixedSizeList(Field(name: "item", type: .float32), 4))
        // A manifest is not a commit.
        await #expect(throws: TableError.self) { _ = try await tables.commit(first) }
    }
}

@Suite struct FragmentTests {
    @Test func fragmentsRoundTripWithStatisticsDeletionsAndMissingColumns() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let objects = try LocalObjectStore(root: dir)
        var schema = TableSchema(fields: [Field(name: "n", type: .int32), Field(name: "s", type: .utf8)])
        let n = try ArrowArray.fromValues([.int(5), .null, .int(-2), .int(9)], type: .int32)
        let s = try ArrowArray.fromValues([.string("b"), .string("a"), .null, .string("c")], type: .utf8)
        let fields = try schema.arrowSchema().fields
        var entry = try await FragmentWriter(objects: objects).write(columns: [n, s], columnIDs: [1, 2], fields: fields, rowIDs: 100..<104)
        #expect(entry.rows == 4)
        #expect(entry.minRowID == 100 && entry.maxRowID == 103)
        #expect(entry.statistics["1"] == ColumnStatistics(min: .int(-2), max: .int(9), nullCount: 1))
        #expect(entry.statistics["2"] == ColumnStatistics(min: .string("a"), max: .string("c"), nullCount: 1))

        // A column added after the fragment was written reads as nulls.
        schema.columns.append(ColumnSpec(field: Field(name: "later", type: .float64), id: 3))
        entry.deletions = try await objects.put(try DeletionVector(offsets: [1, 3]).encoded())
        entry.deletedRows = 2
        let data = try await FragmentReader(objects: objects).read(entry, schema: schema, columnIDs: [2, 3, 1])
        let (rowIDs, columns) = data.compacted()
        #expect(rowIDs.values == [.uint(100), .uint(102)])
        #expect(columns[0].values == [.string("b"), .null])
        #expect(columns[1].values == [.null, .null])
        #expect(columns[2].values == [.int(5), .int(-2)])
    }

    @Test func deletionVectorsMergeAndListLiveRows() throws {
        let vector = DeletionVector(offsets: [5, 1, 5]).union([0])
        #expect(vector.offsets == [0, 1, 5])
        #expect(vector.liveOffsets(rows: 7) == [2, 3, 4, 6])
        let decoded = try DeletionVector(decoding: ByteView(copying: try vector.encoded()))
        #expect(decoded == vector)
    }

    @Test func takeCopiesEveryTypeByIndex() throws {
        let item = Field(name: "item", type: .int64)
        let cases: [(ArrowType, [Value])] = [
            (.bool, [.bool(true), .null, .bool(false)]),
            (.float64, [.float(1.5), .float(-2), .null]),
            (.largeBinary, [.binary([1]), .null, .binary([])]),
            (.list(item), [.list([.int(1), .int(2)]), .null, .list([])]),
            (.fixedSizeList(Field(name: "item", type: .float32), 2), [.list([.float(1), .float(2)]), .null, .list([.float(3), .float(4)])]),
            (.structType([Field(name: "a", type: .utf8), item]), [.structValue([.string("x"), .int(1)]), .null, .structValue([.null, .int(3)])]),
        ]
        for (type, values) in cases {
            let array = try ArrowArray.fromValues(values, type: type)
            #expect(array.take([2, 0, 2]).values == [values[2], values[0], values[2]], "\(type.name)")
        }
    }
}

@Suite struct ManifestCodecTests {
    @Test func handWrittenJSONRoundTripsExactly() throws {
        let point = ArrowType.structType([Field(name: "x", type: .int32), Field(name: "é/\"q\"", type: .utf8)])
        var schema = TableSchema(fields: [
            Field(name: "id", type: .uint64, nullable: false),
            Field(name: "at", type: .timestamp(.millisecond, timeZone: "UTC")),
            Field(name: "emb", type: .fixedSizeList(Field(name: "item", type: .float32), 4), metadata: ["shape": "[2, 2]"]),
            Field(name: "p", type: point),
        ], metadata: ["origin": "test\n"])
        schema.columns.removeFirst()  // a dropped column leaves a gap in ids
        let stats: [String: ColumnStatistics] = [
            "1": ColumnStatistics(min: .int(3), max: .uint(UInt64.max), nullCount: 0),
            "2": ColumnStatistics(min: .int(-5), max: .int(1_700_000_000_000), nullCount: 2),
            "10": ColumnStatistics(min: .float(-0.5), max: .float(2.0), nullCount: 0),
            "11": ColumnStatistics(min: .string("a\u{1}b"), max: .bool(true), nullCount: 1),
            "3": ColumnStatistics(min: nil, max: nil, nullCount: 7),
        ]
        let a = try ObjectID(hex: String(repeating: "a", count: 64)), b = try ObjectID(hex: String(repeating: "b", count: 64))
        let manifest = Manifest(schema: schema, fragments: [
            FragmentEntry(object: a, rows: 10, columnIDs: [2, 3, 4], deletions: b, deletedRows: 2, minRowID: 0, maxRowID: UInt64.max,
                          statistics: stats, bytes: 123),
            FragmentEntry(object: b, rows: 1, columnIDs: [2], deletions: nil, deletedRows: 0, minRowID: 5, maxRowID: 5, statistics: [:], bytes: 9),
        ])
        let bytes = ManifestCodec.encode(manifest)
        let decoded = try bytes.withUnsafeBytes { try ManifestCodec.decode($0, what: "test") }
        #expect(decoded == manifest)
        #expect(ManifestCodec.encode(decoded) == bytes)
        #expect(throws: TableError.self) { try Array("{\"kind\":\"commit\"}".utf8).withUnsafeBytes { try ManifestCodec.decode($0, what: "x") } }
        #expect(throws: TableError.self) { try Array("{\"kind\":\"manifest\",".utf8).withUnsafeBytes { try ManifestCodec.decode($0, what: "x") } }
    }
}
