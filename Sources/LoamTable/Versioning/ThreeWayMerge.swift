import LoamFormat
import LoamStorage

/// A change both sides made incompatibly. `key` names it for resolution:
/// `dataset`, `dataset:rowid` or `dataset:rowid:column`.
public struct MergeConflict: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case cell                       // the same cell changed to different values
        case deletedByOursModifiedByTheirs = "deleted/modified"
        case modifiedByOursDeletedByTheirs = "modified/deleted"
        case schema                     // incompatible column changes
        case dataset                    // created, dropped or replaced on both sides
        case row = "row written on both sides"  // strict merges only: any change to one row by both
        case key = "key inserted on both sides"  // a dataset with a key (`TableSchema.keyColumns`): one key, two different rows
    }

    public let dataset: String
    public let kind: Kind
    public let rowID: UInt64?
    public let column: String?
    public let base: Value?
    public let ours: Value?
    public let theirs: Value?
    public let detail: String

    public var key: String {
        var key = dataset
        if let rowID { key += ":\(rowID)" }
        if let column { key += ":\(column)" }
        return key
    }

    public var description: String {
        var text = "\(key): \(kind.rawValue)"
        if kind == .cell {
            text += " (base \(base?.displayText ?? "-"), ours \(ours?.displayText ?? "-"), theirs \(theirs?.displayText ?? "-"))"
        }
        return detail.isEmpty ? text : text + " — " + detail
    }
}

/// How conflicts are settled: per conflict key, else per dataset, else a default.
public struct MergeResolution: Sendable {
    public enum Side: String, Sendable { case ours, theirs }
    public var all: Side?
    public var datasets: [String: Side]
    public var conflicts: [String: Side]

    public init(all: Side? = nil, datasets: [String: Side] = [:], conflicts: [String: Side] = [:]) {
        self.all = all
        self.datasets = datasets
        self.conflicts = conflicts
    }

    func side(for conflict: MergeConflict) -> Side? {
        if let rowID = conflict.rowID, conflict.column != nil, let side = conflicts["\(conflict.dataset):\(rowID)"] { return side }
        return conflicts[conflict.key] ?? datasets[conflict.dataset] ?? all
    }
}

/// Three-way merge of one dataset's manifests at row and cell level:
/// changes to different rows, or different columns of one row, combine;
/// the same cell changed differently, or a row deleted on one side and
/// modified on the other, is a conflict unless `resolution` settles it.
///
/// A `strict` merge (a transaction landing over commits made since it began)
/// also refuses a row both sides changed or deleted, even to the same values,
/// and a schema both sides changed: the first writer of a row wins, so no
/// update computed from an old value is lost.
public struct ThreeWayMerge: Sendable {
    public let objects: any ObjectStore
    public let strict: Bool

    public init(objects: any ObjectStore, strict: Bool = false) {
        self.objects = objects
        self.strict = strict
    }

    public struct Outcome: Sendable {
        /// The merged manifest (nil: the dataset is absent after the merge).
        public let manifest: Manifest?
        /// Conflicts `resolution` did not settle; the merge must not be committed if any.
        public let unresolved: [MergeConflict]
        /// Conflicts that were settled, and how.
        public let resolved: [(MergeConflict, MergeResolution.Side)]
    }

    public func merge(dataset: String, base: Manifest?, ours: Manifest?, theirs: Manifest?,
                      resolution: MergeResolution) async throws -> Outcome {
        var unresolved: [MergeConflict] = []
        var resolved: [(MergeConflict, MergeResolution.Side)] = []
        /// Records a conflict; returns the side chosen, or nil when unresolved.
        func settle(_ conflict: MergeConflict) -> MergeResolution.Side? {
            if let side = resolution.side(for: conflict) { resolved.append((conflict, side)); return side }
            unresolved.append(conflict)
            return nil
        }
        // Whole-dataset cases first.
        if ours == theirs && !(strict && base != ours) { return Outcome(manifest: ours, unresolved: [], resolved: []) }
        if base == ours { return Outcome(manifest: theirs, unresolved: [], resolved: []) }
        if base == theirs { return Outcome(manifest: ours, unresolved: [], resolved: []) }
        guard let base, let ours, let theirs else {
            let what = base == nil ? "created on both sides with different content"
                : ours == nil ? "dropped on our side, changed on theirs" : "changed on our side, dropped on theirs"
            let conflict = MergeConflict(dataset: dataset, kind: .dataset, rowID: nil, column: nil, base: nil, ours: nil, theirs: nil, detail: what)
            switch settle(conflict) {
            case .ours?: return Outcome(manifest: ours, unresolved: unresolved, resolved: resolved)
            case .theirs?: return Outcome(manifest: theirs, unresolved: unresolved, resolved: resolved)
            case nil: return Outcome(manifest: ours, unresolved: unresolved, resolved: resolved)
            }
        }

        // Theirs only appended fragments to the base, with the same schema: add them as they are (row ids never collide),
        // unless the dataset has a key, which rows both sides inserted may share.
        if base.schema.keyColumns == nil, theirs.schema == base.schema, ours.schema == base.schema, theirs.fragments.count >= base.fragments.count,
           Array(theirs.fragments.prefix(base.fragments.count)) == base.fragments {
            var merged = ours
            merged.fragments += theirs.fragments.dropFirst(base.fragments.count)
            return Outcome(manifest: merged, unresolved: [], resolved: [])
        }

        if strict && ours.schema != base.schema && theirs.schema != base.schema {
            _ = settle(MergeConflict(dataset: dataset, kind: .schema, rowID: nil, column: nil, base: nil, ours: nil, theirs: nil,
                                     detail: "the columns changed on both sides"))
            return Outcome(manifest: ours, unresolved: unresolved, resolved: resolved)
        }
        // Schema: start from ours, bring in theirs' renames, drops and new columns; map theirs' ids onto ours.
        var schema = ours.schema
        var idMap: [Int: Int] = [:]
        for column in theirs.schema.columns {
            guard let id = column.id else { continue }
            if let baseColumn = base.schema.columns.first(where: { $0.id == id }) {
                guard let index = schema.columns.firstIndex(where: { $0.id == id }) else { continue }  // dropped by ours
                idMap[id] = id
                if column.name != baseColumn.name {
                    if schema.columns[index].name == baseColumn.name, !schema.columns.contains(where: { $0.name == column.name }) {
                        schema.columns[index].name = column.name
                    } else if schema.columns[index].name != column.name {
                        let conflict = MergeConflict(dataset: dataset, kind: .schema, rowID: nil, column: baseColumn.name, base: nil, ours: nil, theirs: nil,
                                                     detail: "renamed to '\(schema.columns[index].name)' on our side and '\(column.name)' on theirs")
                        if settle(conflict) == .theirs { schema.columns[index].name = column.name }
                    }
                }
            } else if let existing = schema.columns.first(where: { $0.name == column.name }) {
                if existing.type == column.type && existing.children == column.children && existing.size == column.size && existing.unit == column.unit {
                    idMap[id] = existing.id
                } else {
                    let conflict = MergeConflict(dataset: dataset, kind: .schema, rowID: nil, column: column.name, base: nil, ours: nil, theirs: nil,
                                                 detail: "added on both sides with different types (\(existing.type) and \(column.type))")
                    _ = settle(conflict)  // either way ours' column stays; theirs' values for it are not brought in
                }
            } else {
                var added = column
                added.id = schema.nextColumnID
                idMap[id] = schema.nextColumnID
                schema.nextColumnID += 1
                schema.columns.append(added)
            }
        }
        for column in base.schema.columns where !theirs.schema.columns.contains(where: { $0.id == column.id }) {
            schema.columns.removeAll { $0.id == column.id }
        }
        // Schema metadata, key by key: a key one side changed takes that side's value; both changed it differently is a conflict.
        var metadata = ours.schema.metadata ?? [:]
        for name in Set((base.schema.metadata ?? [:]).keys).union((ours.schema.metadata ?? [:]).keys).union((theirs.schema.metadata ?? [:]).keys) {
            let b = base.schema.metadata?[name], o = ours.schema.metadata?[name], t = theirs.schema.metadata?[name]
            guard o != t, t != b else { continue }
            if o == b { metadata[name] = t; continue }
            let conflict = MergeConflict(dataset: dataset, kind: .schema, rowID: nil, column: nil, base: nil, ours: nil, theirs: nil,
                                         detail: "schema metadata '\(name)' changed on both sides")
            if settle(conflict) == .theirs { metadata[name] = t }
        }
        schema.metadata = metadata.isEmpty ? nil : metadata
        if schema.columns.isEmpty {
            _ = settle(MergeConflict(dataset: dataset, kind: .schema, rowID: nil, column: nil, base: nil, ours: nil, theirs: nil,
                                     detail: "the merge would drop every column"))
            return Outcome(manifest: ours, unresolved: unresolved, resolved: resolved)
        }

        let reader = FragmentReader(objects: objects)
        let ourDiff = try await DatasetDiff.compute(old: base, new: ours, reader: reader, dataset: dataset)
        let theirDiff = try await DatasetDiff.compute(old: base, new: theirs, reader: reader, dataset: dataset)
        let ourRemoved = Set(ourDiff.removed.map(\.rowID))
        let ourModified = Dictionary(uniqueKeysWithValues: ourDiff.modified.map { ($0.rowID, $0) })
        let names = Dictionary(uniqueKeysWithValues: schema.columns.compactMap { c in c.id.map { ($0, c.name) } })
        func mapped(_ cells: [Int: Value]) -> [Int: Value] {
            var out: [Int: Value] = [:]
            for (id, value) in cells { if let target = idMap[id] { out[target] = value } }
            return out
        }

        var deleting = Set<UInt64>()
        var upserting: [DiffRow] = []
        let keyIDs = schema.keyColumns.map { names in names.compactMap { schema.columnID($0) } }
        let keyValueIDs = schema.keyValueColumns.map { names in Set(names.compactMap { schema.columnID($0) }) }
        let ourKeys = keyIDs.map { ids in
            Dictionary(ourDiff.added.map { row in (ids.map { row.cells[$0] ?? .null }, row) }, uniquingKeysWith: { a, _ in a })
        } ?? [:]
        for row in theirDiff.added {
            let cells = mapped(row.cells)
            if let ids = keyIDs, let mine = ourKeys[ids.map { cells[$0] ?? .null }] {
                // The same row inserted on both sides (by the columns that matter, when the schema names them) is kept once.
                let compared = keyValueIDs.map(Array.init) ?? schema.columns.compactMap(\.id)
                if compared.allSatisfy({ mine.cells[$0] ?? .null == cells[$0] ?? .null }) { continue }
                let keyText = zip(schema.keyColumns ?? [], ids).map { "\($0)=\(cells[$1]?.displayText ?? "NULL")" }.joined(separator: ", ")
                let differing = schema.columns.compactMap { c -> String? in
                    guard let id = c.id, compared.contains(id), mine.cells[id] ?? .null != cells[id] ?? .null else { return nil }
                    return "\(c.name): ours \(mine.cells[id]?.displayText ?? "NULL"), theirs \(cells[id]?.displayText ?? "NULL")"
                }
                let conflict = MergeConflict(dataset: dataset, kind: .key, rowID: mine.rowID, column: nil, base: nil, ours: nil, theirs: nil,
                                             detail: "(\(keyText)) — \(differing.joined(separator: "; "))")
                guard settle(conflict) == .theirs else { continue }
                deleting.insert(mine.rowID)
            }
            upserting.append(DiffRow(rowID: row.rowID, cells: cells))
        }
        func bothWrote(_ rowID: UInt64) -> Bool {
            guard strict else { return false }
            _ = settle(MergeConflict(dataset: dataset, kind: .row, rowID: rowID, column: nil, base: nil, ours: nil, theirs: nil, detail: ""))
            return true
        }
        for row in theirDiff.removed {
            if ourRemoved.contains(row.rowID) { _ = bothWrote(row.rowID); continue }
            if ourModified[row.rowID] != nil {
                let conflict = MergeConflict(dataset: dataset, kind: .modifiedByOursDeletedByTheirs, rowID: row.rowID, column: nil,
                                             base: nil, ours: nil, theirs: nil, detail: "")
                if settle(conflict) == .theirs { deleting.insert(row.rowID) }
            } else {
                deleting.insert(row.rowID)
            }
        }
        for change in theirDiff.modified {
            if ourRemoved.contains(change.rowID) {
                let conflict = MergeConflict(dataset: dataset, kind: .deletedByOursModifiedByTheirs, rowID: change.rowID, column: nil,
                                             base: nil, ours: nil, theirs: nil, detail: "")
                if settle(conflict) == .theirs { upserting.append(DiffRow(rowID: change.rowID, cells: mapped(change.new.cells))) }
                continue
            }
            if ourModified[change.rowID] != nil && bothWrote(change.rowID) { continue }
            // Our current row: our new version if we changed it, else the base row (unchanged by us).
            var cells = ourModified[change.rowID]?.new.cells ?? mapped(change.old.cells)
            let ourChanges = Dictionary((ourModified[change.rowID]?.changes ?? []).map { ($0.columnID, $0) }, uniquingKeysWith: { a, _ in a })
            var changed = false
            for cell in change.changes {
                guard let target = idMap[cell.columnID] else { continue }
                if let mine = ourChanges[target], mine.new != cell.new {
                    if let compared = keyValueIDs, !compared.contains(target) { continue }  // times, provenance: ours stands
                    let conflict = MergeConflict(dataset: dataset, kind: .cell, rowID: change.rowID, column: names[target],
                                                 base: cell.old, ours: mine.new, theirs: cell.new, detail: "")
                    if settle(conflict) == .theirs { cells[target] = cell.new; changed = true }
                } else if cells[target] != cell.new {
                    cells[target] = cell.new
                    changed = true
                }
            }
            if changed { upserting.append(DiffRow(rowID: change.rowID, cells: cells)) }
        }
        guard unresolved.isEmpty else { return Outcome(manifest: ours, unresolved: unresolved, resolved: resolved) }
        var merged = ours
        merged.schema = schema
        merged = try await ManifestEditor(objects: objects).apply(to: merged, deleting: deleting, upserting: upserting)
        return Outcome(manifest: merged, unresolved: [], resolved: resolved)
    }
}
