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

/// A local store that says it is remote (so readers take the object-storage path) and counts what it hands out.
final class FarObjectStore: ObjectStore, @unchecked Sendable {
    let base: LocalObjectStore
    private let lock = NSLock()
    private(set) var whole = 0, ranged = 0, rangedBytes = 0

    init(_ base: LocalObjectStore) { self.base = base }

    var isLocal: Bool { false }
    func put(_ bytes: [UInt8]) async throws -> ObjectID { try await base.put(bytes) }
    func stage() throws -> StagedObject { try base.stage() }
    func publish(_ staged: StagedObject) async throws -> ObjectID { try await base.publish(staged) }
    func get(_ id: ObjectID) async throws -> ByteView {
        lock.withLock { whole += 1 }
        return try await base.get(id)
    }
    func read(_ id: ObjectID, range: Range<Int>) async throws -> ByteView {
        lock.withLock { ranged += 1; rangedBytes += range.count }
        return try await base.read(id, range: range)
    }
    func contains(_ id: ObjectID) async throws -> Bool { try await base.contains(id) }
    func ids(withPrefix prefix: String) async throws -> [ObjectID] { try await base.ids(withPrefix: prefix) }
    func delete(_ id: ObjectID) async throws { try await base.delete(id) }
    func list() async throws -> [ObjectInfo] { try await base.list() }
}

@Suite struct RangedFragmentReadTests {
    /// A fragment of 4,000 rows: an id, a wide text column, a 32-float embedding and a struct.
    static func fragment(_ objects: any ObjectStore) async throws -> (FragmentEntry, TableSchema) {
        let rows = 4000
        let fields = [Field(name: "id", type: .int64), Field(name: "text", type: .utf8),
                      Field(name: "emb", type: .fixedSizeList(Field(name: "item", type: .float32), 32)),
                      Field(name: "meta", type: .structType([Field(name: "a", type: .int32), Field(name: "b", type: .utf8)]))]
        let schema = TableSchema(fields: fields)
        let id = try ArrowArray.fromValues((0..<rows).map { .int(Int64($0)) }, type: .int64)
        let texts: [Value] = (0..<rows).map { r -> Value in r % 17 == 0 ? .null : .string(String(repeating: "ü\(r) ", count: 60)) }
        let vectors: [Value] = (0..<rows).map { r -> Value in .list((0..<32).map { i -> Value in .float(Double(r * 32 + i)) }) }
        let records: [Value] = (0..<rows).map { r -> Value in r % 5 == 0 ? .null : .structValue([.int(Int64(-r)), .string("m\(r)")]) }
        let text = try ArrowArray.fromValues(texts, type: .utf8)
        let emb = try ArrowArray.fromValues(vectors, type: fields[2].type)
        let meta = try ArrowArray.fromValues(records, type: fields[3].type)
        let entry = try await FragmentWriter(objects: objects).write(columns: [id, text, emb, meta], columnIDs: [1, 2, 3, 4],
                                                                     fields: try schema.arrowSchema().fields, rowIDs: 0..<UInt64(rows))
        return (entry, schema)
    }

    @Test func aFewColumnsOfARemoteFragmentComeByRangedReadsAndMatchTheWholeFile() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let local = try LocalObjectStore(root: dir)
        let far = FarObjectStore(local)
        let (entry, schema) = try await Self.fragment(local)
        let layout = try #require(entry.layout)
        #expect(layout.count == 6 && layout.last! < entry.bytes)
        // Written to a remote store, the fragment's checksums and layout come from the staged file: nothing is downloaded.
        let (again, _) = try await Self.fragment(far)
        #expect(again == entry && far.whole == 0 && far.ranged == 0)
        // The manifest's layout: one round of ranged reads (the head, the columns); without it, the footer first.
        var footerless = entry
        footerless.layout = nil
        for (variant, rounds) in [(entry, 1), (footerless, 2)] {
            for columns in [[1], [3], [4, 1], [2]] {
                let expected = try await FragmentReader(objects: local).read(entry, schema: schema, columnIDs: columns)
                let (whole, ranged, bytes) = (far.whole, far.ranged, far.rangedBytes)
                let got = try await FragmentReader(objects: far).read(variant, schema: schema, columnIDs: columns)
                #expect(got.rowIDs.values == expected.rowIDs.values)
                #expect(zip(got.columns, expected.columns).allSatisfy { $0.values == $1.values }, "columns \(columns)")
                if columns == [2] {
                    #expect(far.whole == whole + 1)  // the text is most of the file: fetched whole
                } else {
                    #expect(far.whole == whole)
                    #expect(far.rangedBytes - bytes < entry.bytes / 2, "columns \(columns): \(far.rangedBytes - bytes) of \(entry.bytes) bytes")
                    // One round: the head and a range per group of adjacent columns; two rounds add the tail.
                    #expect(far.ranged - ranged <= columns.count + 1 + (rounds - 1) * 2, "columns \(columns), \(rounds) round(s)")
                }
            }
        }
        // Every column: one whole GET. A wrong size and no layout: the ranged path gives up and the whole file is read.
        let before = far.whole
        _ = try await FragmentReader(objects: far).read(entry, schema: schema, columnIDs: [1, 2, 3, 4])
        footerless.bytes += 100
        let fallback = try await FragmentReader(objects: far).read(footerless, schema: schema, columnIDs: [1])
        #expect(fallback.columns[0].values == (0..<4000).map { .int(Int64($0)) })
        #expect(far.whole == before + 2)
    }

    @Test func theLayoutRoundTripsThroughTheManifestAndBadOnesAreRefused() throws {
        var manifest = Manifest(schema: TableSchema(fields: [Field(name: "n", type: .int32)]))
        manifest.fragments = [FragmentEntry(object: try ObjectID(hex: String(repeating: "a", count: 64)), rows: 3, columnIDs: [1], deletions: nil,
                                            deletedRows: 0, minRowID: 0, maxRowID: 2, statistics: [:], bytes: 900, layout: [400, 424, 440])]
        let bytes = ManifestCodec.encode(manifest)
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"layout\":[400,424,440]"))
        let decoded = try bytes.withUnsafeBytes { try ManifestCodec.decode($0, what: "manifest") }
        #expect(decoded.fragments[0].layout == [400, 424, 440])
        let bad = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "[400,424,440]", with: "[400,440,424]")
        #expect(throws: TableError.self) { try Array(bad.utf8).withUnsafeBytes { try ManifestCodec.decode($0, what: "manifest") } }
    }
}
