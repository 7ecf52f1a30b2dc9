import Foundation
import Loam
import LoamFormat
import LoamStorage
import LoamTable

/// Where a dataset's label schemas and annotations are kept. The library
/// (`Labeler`) holds the rules; a store only keeps and finds.
public protocol LabelStore: Sendable {
    /// The label schemas of `dataset` as of `ref`.
    func schemas(dataset: String, at ref: String) async throws -> [LabelSchema]
    /// Adds or replaces one schema, as one commit.
    func save(_ schema: LabelSchema, dataset: String, check: @Sendable (LabelSchema?, [Annotation]) throws -> Void) async throws -> ObjectID
    /// The annotations of `dataset` (of one schema, or all) as of `ref`.
    func annotations(dataset: String, schema: String?, at ref: String) async throws -> [Annotation]
    /// Writes annotations as one commit: one whose (row, schema, annotator) is already there replaces it.
    func write(_ annotations: [Annotation], dataset: String, message: String) async throws -> WriteSummary
}

public struct WriteSummary: Sendable, Encodable {
    public let commit: String
    public let inserted: Int
    public let replaced: Int
}

/// The embedded store: a dataset's labels are the dataset `<name>__labels` in
/// the same repository, one row per annotation, so they branch, merge, diff and
/// time-travel with the rows they label and SQL joins them (`row_id` = `_rowid`).
/// Its schema metadata holds the label schemas (`loam.label_schema.<name>`) and
/// the key (`loam.key`), which makes a merge refuse two branches labelling one
/// row differently for the same annotator.
public struct VersionedLabelStore: LabelStore {
    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    public static let suffix = "__labels"
    public static func labelsDataset(of dataset: String) -> String { dataset + suffix }
    static let schemaPrefix = "loam.label_schema."

    /// The labels dataset's columns, in order (ids 1…10).
    static let fields: [Field] = [
        Field(name: "row_id", type: .uint64, nullable: false),
        Field(name: "schema", type: .utf8, nullable: false),
        Field(name: "annotator", type: .utf8, nullable: false),
        Field(name: "value", type: .utf8),
        Field(name: "source", type: .utf8, nullable: false),
        Field(name: "model", type: .utf8),
        Field(name: "score", type: .float64),
        Field(name: "status", type: .utf8, nullable: false),
        Field(name: "created_at", type: .timestamp(.microsecond, timeZone: "UTC"), nullable: false),
        Field(name: "task", type: .utf8),
    ]

    static func emptyManifest(of dataset: String) -> Manifest {
        var schema = TableSchema(fields: fields, metadata: ["loam.labels_of": dataset])
        schema.keyColumns = ["row_id", "schema", "annotator"]
        schema.keyValueColumns = ["value", "status"]
        return Manifest(schema: schema)
    }

    public func schemas(dataset: String, at ref: String) async throws -> [LabelSchema] {
        let tree = try await repository.tables.commit(try await repository.resolve(ref)).tree
        guard tree[dataset] != nil else { throw TableError.unknownDataset(dataset, available: tree.keys.sorted()) }
        guard let id = tree[Self.labelsDataset(of: dataset)] else { return [] }
        return try Self.schemas(in: try await repository.tables.manifest(id))
    }

    static func schemas(in manifest: Manifest) throws -> [LabelSchema] {
        try (manifest.schema.metadata ?? [:]).filter { $0.key.hasPrefix(schemaPrefix) }.sorted { $0.key < $1.key }
            .map { try LabelSchema.decode($0.value, name: String($0.key.dropFirst(schemaPrefix.count))) }
    }

    public func save(_ schema: LabelSchema, dataset: String, check: @Sendable (LabelSchema?, [Annotation]) throws -> Void) async throws -> ObjectID {
        let name = Self.labelsDataset(of: dataset)
        return try await repository.commit(message: "Label schema \(schema.name) on \(dataset)") { tree in
            guard tree[dataset] != nil else { throw TableError.unknownDataset(dataset, available: tree.keys.sorted().filter { !$0.hasSuffix(Self.suffix) }) }
            var manifest = Self.emptyManifest(of: dataset)
            if let id = tree[name] { manifest = try await repository.tables.manifest(id) }
            let old = try Self.schemas(in: manifest).first { $0.name == schema.name }
            try check(old, old == nil ? [] : try await read(manifest, dataset: name, schema: schema.name))
            manifest.schema.metadata = (manifest.schema.metadata ?? [:]).merging([Self.schemaPrefix + schema.name: schema.json()]) { $1 }
            tree[name] = try await repository.tables.save(manifest)
        }
    }

    public func annotations(dataset: String, schema: String?, at ref: String) async throws -> [Annotation] {
        let tree = try await repository.tables.commit(try await repository.resolve(ref)).tree
        guard tree[dataset] != nil else { throw TableError.unknownDataset(dataset, available: tree.keys.sorted()) }
        guard let id = tree[Self.labelsDataset(of: dataset)] else { return [] }
        return try await read(try await repository.tables.manifest(id), dataset: Self.labelsDataset(of: dataset), schema: schema)
    }

    /// The annotations of some labelled rows at HEAD, reading only the fragments whose `row_id` ranges may hold them.
    public func annotations(dataset: String, schema: String, rows: [UInt64]) async throws -> [Annotation] {
        let tree = try await repository.tables.commit(try await repository.resolve("HEAD")).tree
        guard let id = tree[Self.labelsDataset(of: dataset)] else { return [] }
        return try await read(try await repository.tables.manifest(id), dataset: Self.labelsDataset(of: dataset), schema: schema, rows: Set(rows))
    }

    /// The fragments of a labels manifest that may hold labels of `rows` (by their `row_id` zone maps); all when `rows` is nil.
    static func fragments(of manifest: Manifest, holding rows: [UInt64]?) -> [FragmentEntry] {
        guard let rows, let column = manifest.schema.columnID("row_id") else { return manifest.fragments }
        let sorted = rows.sorted()
        return manifest.fragments.filter { entry in
            guard let stats = entry.statistics[String(column)], let lo = stats.min?.rowNumber, let hi = stats.max?.rowNumber else { return true }
            // The first wanted row at or above the fragment's minimum must not be above its maximum.
            var low = 0, high = sorted.count
            while low < high { let mid = (low + high) / 2; if sorted[mid] < lo { low = mid + 1 } else { high = mid } }
            return low < sorted.count && sorted[low] <= hi
        }
    }

    /// Every live annotation of `manifest` (of one schema, or all; of some labelled rows, or all), in storage order.
    /// Rows are matched on `row_id` before anything else is decoded, so a one-row read stays cheap.
    func read(_ manifest: Manifest, dataset: String, schema: String?, rows: Set<UInt64>? = nil) async throws -> [Annotation] {
        let reader = FragmentReader(objects: repository.objects)
        let ids = manifest.schema.columns.compactMap(\.id)
        func column(_ name: String) -> Int? { manifest.schema.columns.firstIndex { $0.name == name } }
        guard let rowC = column("row_id"), let schemaC = column("schema"), let annotatorC = column("annotator"), let valueC = column("value"),
              let sourceC = column("source"), let modelC = column("model"), let scoreC = column("score"), let statusC = column("status"),
              let timeC = column("created_at") else {
            throw LabelError.invalid("'\(dataset)' is not a labels dataset Loam wrote (columns: \(manifest.schema.names.joined(separator: ", ")))")
        }
        let taskC = column("task")
        var out: [Annotation] = []
        for entry in Self.fragments(of: manifest, holding: rows.map(Array.init)) {
            let data = try await reader.read(entry, schema: manifest.schema, columnIDs: ids)
            let c = data.columns
            for i in 0..<data.liveCount {
                let p = data.physical(i)
                if let rows, !rows.contains(c[rowC].buffers[1].load(p, as: UInt64.self)) { continue }
                let name = c[schemaC].string(at: p)
                if let schema, name != schema { continue }
                func text(_ k: Int) -> String? { c[k].isNull(p) ? nil : c[k].string(at: p) }
                let micros = c[timeC].buffers[1].load(p, as: Int64.self)
                out.append(Annotation(rowID: c[rowC].buffers[1].load(p, as: UInt64.self), schema: name, annotator: c[annotatorC].string(at: p),
                                      value: text(valueC), source: Annotation.Source(rawValue: c[sourceC].string(at: p)) ?? .human,
                                      model: text(modelC), score: c[scoreC].isNull(p) ? nil : Double(bitPattern: c[scoreC].buffers[1].load(p, as: UInt64.self)),
                                      status: Annotation.Status(rawValue: c[statusC].string(at: p)) ?? .submitted,
                                      createdAt: Date(timeIntervalSince1970: Double(micros) / 1e6), task: taskC.flatMap { text($0) }))
            }
        }
        return out
    }

    struct Key: Hashable {
        let row: UInt64
        let schema: String
        let annotator: String
    }

    public func write(_ annotations: [Annotation], dataset: String, message: String) async throws -> WriteSummary {
        let name = Self.labelsDataset(of: dataset)
        var inserted = 0, replaced = 0
        let commit = try await repository.commit(message: message) { tree in
            inserted = 0; replaced = 0  // the body runs again if another writer commits first
            guard let labelsID = tree[name] else {
                throw LabelError.notFound("'\(dataset)' has no label schemas yet; define one with `loam label schema add NAME -d \(dataset) --kind class --classes a,b`")
            }
            var manifest = try await repository.tables.manifest(labelsID)
            // The last write of a key in this batch wins; keys already stored are replaced in place (same _rowid).
            var latest: [Key: Int] = [:]
            latest.reserveCapacity(annotations.count)
            for (i, a) in annotations.enumerated() { latest[Key(row: a.rowID, schema: a.schema, annotator: a.annotator)] = i }
            var existing: [Key: UInt64] = [:]
            try await forEachKey(manifest, rows: annotations.map(\.rowID)) { key, rowID in if latest[key] != nil { existing[key] = rowID } }
            let fields = try manifest.schema.columns.map { try $0.field() }
            let columnIDs = manifest.schema.columns.compactMap(\.id)
            var fresh: [Annotation] = [], replacing: [DiffRow] = []
            for (i, a) in annotations.enumerated() {
                let key = Key(row: a.rowID, schema: a.schema, annotator: a.annotator)
                guard latest[key] == i else { continue }
                if let rowID = existing[key] {
                    replacing.append(DiffRow(rowID: rowID, cells: Dictionary(uniqueKeysWithValues: zip(columnIDs, Self.cells(a)))))
                } else {
                    fresh.append(a)
                }
            }
            if !replacing.isEmpty {
                manifest = try await ManifestEditor(objects: repository.objects).apply(to: manifest, deleting: [], upserting: replacing)
            }
            let chunk = 65_536  // fragments of this many rows keep a one-row read (the annotation page's) small
            for start in stride(from: 0, to: fresh.count, by: chunk) {
                let part = fresh[start..<min(start + chunk, fresh.count)]
                let columns = try Self.columns(part, fields: fields)
                let ids = try await repository.meta.allocateRowIDs(part.count)
                manifest.fragments.append(try await FragmentWriter(objects: repository.objects).write(columns: columns, columnIDs: columnIDs,
                                                                                                      fields: fields, rowIDs: ids))
            }
            inserted = fresh.count
            replaced = replacing.count
            tree[name] = try await repository.tables.save(manifest)
        }
        return WriteSummary(commit: commit.hex, inserted: inserted, replaced: replaced)
    }

    /// Calls `body` with the key and `_rowid` of every live annotation in the fragments that may hold labels of `rows`.
    func forEachKey(_ manifest: Manifest, rows: [UInt64], _ body: (Key, UInt64) -> Void) async throws {
        let reader = FragmentReader(objects: repository.objects)
        let ids = Array(manifest.schema.columns.compactMap(\.id).prefix(3))  // row_id, schema, annotator
        for entry in Self.fragments(of: manifest, holding: rows) {
            let data = try await reader.read(entry, schema: manifest.schema, columnIDs: ids)
            for i in 0..<data.liveCount {
                let p = data.physical(i)
                let key = Key(row: data.columns[0].buffers[1].load(p, as: UInt64.self), schema: data.columns[1].string(at: p),
                              annotator: data.columns[2].string(at: p))
                body(key, data.rowIDs.buffers[1].load(p, as: UInt64.self))
            }
        }
    }

    static func cells(_ a: Annotation) -> [Value] {
        [.uint(a.rowID), .string(a.schema), .string(a.annotator), a.value.map(Value.string) ?? .null, .string(a.source.rawValue),
         a.model.map(Value.string) ?? .null, a.score.map(Value.float) ?? .null, .string(a.status.rawValue),
         .int(Int64((a.createdAt.timeIntervalSince1970 * 1e6).rounded())), a.task.map(Value.string) ?? .null]
    }

    static func columns(_ part: ArraySlice<Annotation>, fields: [Field]) throws -> [ArrowArray] {
        let b = fields.map { ArrayBuilder(type: $0.type) }
        func text(_ k: Int, _ s: String?) {
            guard var s else { b[k].appendNull(); return }
            s.withUTF8 { b[k].appendBytes(UnsafeRawBufferPointer($0)) }
        }
        for a in part {
            try b[0].append(.uint(a.rowID))
            text(1, a.schema)
            text(2, a.annotator)
            text(3, a.value)
            text(4, a.source.rawValue)
            text(5, a.model)
            if let score = a.score { b[6].appendDouble(score) } else { b[6].appendNull() }
            text(7, a.status.rawValue)
            b[8].appendInt64(Int64((a.createdAt.timeIntervalSince1970 * 1e6).rounded()))
            text(9, a.task)
        }
        return b.map { $0.finish() }
    }
}

extension StatValue {
    /// A zone-map bound of an unsigned id column (written as a JSON number, read back as int or uint).
    var rowNumber: UInt64? {
        switch self {
        case .uint(let u): return u
        case .int(let i): return i >= 0 ? UInt64(i) : 0
        default: return nil
        }
    }
}
