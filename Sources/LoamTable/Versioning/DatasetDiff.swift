import LoamFormat
import LoamStorage

/// A row as a diff or merge sees it: its id and its cells keyed by column id.
public struct DiffRow: Hashable, Sendable {
    public let rowID: UInt64
    public let cells: [Int: Value]

    public init(rowID: UInt64, cells: [Int: Value]) {
        self.rowID = rowID
        self.cells = cells
    }
}

/// One changed cell of a modified row.
public struct CellChange: Hashable, Sendable {
    public let columnID: Int
    public let old: Value
    public let new: Value

    public init(columnID: Int, old: Value, new: Value) {
        self.columnID = columnID
        self.old = old
        self.new = new
    }
}

/// A row present on both sides whose cells differ.
public struct ModifiedRow: Hashable, Sendable {
    public let rowID: UInt64
    public let old: DiffRow
    public let new: DiffRow
    public let changes: [CellChange]
}

/// A column-level change between two schemas (by stable column id).
public enum SchemaChange: Hashable, Sendable {
    case added(id: Int, name: String, type: String)
    case dropped(id: Int, name: String)
    case renamed(id: Int, from: String, to: String)
}

/// What changed in one dataset between two versions, by `_rowid`.
///
/// ```swift
/// let diff = try await DatasetDiff.compute(old: a, new: b, reader: FragmentReader(objects: store), dataset: "reviews")
/// diff.added.count; diff.modified.first?.changes
/// ```
public struct DatasetDiff: Sendable {
    public enum Status: String, Sendable { case created, dropped, modified, unchanged }

    public let dataset: String
    public let status: Status
    public let oldSchema: TableSchema?
    public let newSchema: TableSchema?
    public let schemaChanges: [SchemaChange]
    public let added: [DiffRow]
    public let removed: [DiffRow]
    public let modified: [ModifiedRow]
    /// Fragments read to compute the diff (the rest were shared, unchanged).
    public let fragmentsRead: Int

    public var isEmpty: Bool { schemaChanges.isEmpty && added.isEmpty && removed.isEmpty && modified.isEmpty && status != .created && status != .dropped }

    /// Diffs two manifests of one dataset (either may be absent).
    public static func compute(old: Manifest?, new: Manifest?, reader: FragmentReader, dataset: String) async throws -> DatasetDiff {
        var fragmentsRead = 0
        var before: [UInt64: DiffRow] = [:], after: [UInt64: DiffRow] = [:]
        let oldByObject = Dictionary((old?.fragments ?? []).map { ($0.object, $0) }, uniquingKeysWith: { a, _ in a })
        let newByObject = Dictionary((new?.fragments ?? []).map { ($0.object, $0) }, uniquingKeysWith: { a, _ in a })

        // Rows live on one side and not the other, fragment by fragment; identical fragments are skipped unread.
        func collect(_ manifest: Manifest?, _ mine: [ObjectID: FragmentEntry], _ other: [ObjectID: FragmentEntry],
                     into rows: inout [UInt64: DiffRow]) async throws {
            guard let manifest else { return }
            let ids = manifest.schema.columns.compactMap(\.id)
            for entry in manifest.fragments {
                var wanted: [Int]?  // nil: every live row
                if let twin = other[entry.object] {
                    if twin.deletions == entry.deletions { continue }
                    let mineDeleted = try await deleted(entry, reader.objects)
                    let otherDeleted = try await deleted(twin, reader.objects)
                    wanted = otherDeleted.subtracting(mineDeleted).sorted()
                    if wanted!.isEmpty { continue }
                }
                let data = try await reader.read(entry, schema: manifest.schema, columnIDs: ids)
                fragmentsRead += 1
                let offsets = wanted ?? (0..<data.liveCount).map(data.physical)
                for offset in offsets {
                    let rowID = data.rowIDs.buffers[1].load(offset, as: UInt64.self)
                    var cells: [Int: Value] = [:]
                    for (c, id) in ids.enumerated() { cells[id] = data.columns[c].value(at: offset) }
                    rows[rowID] = DiffRow(rowID: rowID, cells: cells)
                }
            }
        }
        try await collect(old, oldByObject, newByObject, into: &before)
        try await collect(new, newByObject, oldByObject, into: &after)

        // Every column of the new schema; one the old schema lacks was null before.
        let shared = (new?.schema.columns ?? []).compactMap(\.id)
        var added: [DiffRow] = [], removed: [DiffRow] = [], modified: [ModifiedRow] = []
        for (rowID, row) in after {
            guard let previous = before[rowID] else { added.append(row); continue }
            let changes = shared.compactMap { id -> CellChange? in
                let a = previous.cells[id] ?? .null, b = row.cells[id] ?? .null
                return a == b ? nil : CellChange(columnID: id, old: a, new: b)
            }
            if !changes.isEmpty { modified.append(ModifiedRow(rowID: rowID, old: previous, new: row, changes: changes)) }
        }
        for (rowID, row) in before where after[rowID] == nil { removed.append(row) }

        let status: Status = old == nil ? (new == nil ? .unchanged : .created) : (new == nil ? .dropped : .modified)
        let schemaChanges = Self.schemaChanges(old?.schema, new?.schema)
        let result = DatasetDiff(dataset: dataset, status: status, oldSchema: old?.schema, newSchema: new?.schema,
                                 schemaChanges: schemaChanges, added: added.sorted { $0.rowID < $1.rowID },
                                 removed: removed.sorted { $0.rowID < $1.rowID }, modified: modified.sorted { $0.rowID < $1.rowID },
                                 fragmentsRead: fragmentsRead)
        if status == .modified && result.added.isEmpty && result.removed.isEmpty && result.modified.isEmpty && schemaChanges.isEmpty {
            return DatasetDiff(dataset: dataset, status: .unchanged, oldSchema: old?.schema, newSchema: new?.schema, schemaChanges: [],
                               added: [], removed: [], modified: [], fragmentsRead: fragmentsRead)
        }
        return result
    }

    static func deleted(_ entry: FragmentEntry, _ objects: any ObjectStore) async throws -> Set<Int> {
        guard let id = entry.deletions else { return [] }
        return Set(try DeletionVector(decoding: try await objects.get(id)).offsets.map(Int.init))
    }

    static func schemaChanges(_ old: TableSchema?, _ new: TableSchema?) -> [SchemaChange] {
        guard let old, let new else { return [] }
        var changes: [SchemaChange] = []
        for column in old.columns {
            guard let id = column.id else { continue }
            if let now = new.columns.first(where: { $0.id == id }) {
                if now.name != column.name { changes.append(.renamed(id: id, from: column.name, to: now.name)) }
            } else {
                changes.append(.dropped(id: id, name: column.name))
            }
        }
        for column in new.columns where !old.columns.contains(where: { $0.id == column.id }) {
            changes.append(.added(id: column.id ?? 0, name: column.name, type: (try? column.field().type.name) ?? column.type))
        }
        return changes
    }
}
