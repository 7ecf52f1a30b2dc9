import Foundation
import LoamFormat
import LoamStorage
import LoamTable

/// A schema change, each one commit. Existing fragments are never rewritten.
public enum ColumnChange: Sendable {
    /// A new nullable column; older rows read it as null.
    case add(name: String, type: ArrowType)
    case rename(from: String, to: String)
    case drop(String)
}

extension Repository {
    /// Finds the rows a write applies to: physical offsets of live rows of one fragment.
    public typealias RowMatcher = @Sendable (FragmentEntry, Manifest) async throws -> [Int]

    /// Deletes the rows `matching` selects, fragment by fragment, as one commit.
    @discardableResult
    public func delete(from dataset: String, message: String, matching: RowMatcher) async throws -> (commit: ObjectID, rows: Int) {
        var deleted = 0
        let id = try await commit(message: message) { tree in
            deleted = 0  // the body runs again if another writer commits first
            var manifest = try await manifest(dataset, in: tree)
            var kept: [FragmentEntry] = []
            for entry in manifest.fragments {
                let matched = try await matching(entry, manifest)
                deleted += matched.count
                if matched.isEmpty { kept.append(entry); continue }
                if let remaining = try await entry.deleting(matched, objects: objects) { kept.append(remaining) }
            }
            manifest.fragments = kept
            tree[dataset] = try await tables.save(manifest)
        }
        return (id, deleted)
    }

    /// New values for some columns of the matched rows of one fragment:
    /// schema column index → an array of `matched.count` values.
    public typealias RowUpdater = @Sendable (FragmentData, [Int]) throws -> [Int: ArrowArray]

    /// Sets columns of the rows `matching` selects as one commit. Updated rows
    /// keep their `_rowid`; they move to a new fragment and their old copies
    /// are marked deleted. Values are given as text, parsed by column type
    /// (`NULL` for null, JSON for lists and structs).
    @discardableResult
    public func update(_ dataset: String, set assignments: [(column: String, value: String)], matching: RowMatcher,
                       message: String) async throws -> (commit: ObjectID, rows: Int) {
        guard !assignments.isEmpty else { throw LoamError.invalidArgument("nothing to set; give --set COLUMN=VALUE") }
        let manifest = try await self.dataset(dataset).manifest
        let fields = try manifest.schema.columns.map { try $0.field() }
        var constants: [Int: ArrowArray] = [:]
        for (column, text) in assignments {
            guard let index = manifest.schema.columns.firstIndex(where: { $0.name == column }) else {
                throw TableError.unknownColumn(column, dataset: dataset, available: manifest.schema.names)
            }
            let builder = ArrayBuilder(type: fields[index].type)
            if text.uppercased() == "NULL" { builder.appendNull() } else {
                var t = text
                do { try t.withUTF8 { try CellParser.append(UnsafeRawBufferPointer($0), to: builder) } } catch let failure as CellParser.Failure {
                    throw LoamError.invalidArgument("--set \(column)=\(text): \(failure.message)")
                }
            }
            constants[index] = builder.finish()
        }
        let values = constants
        return try await update(dataset, message: message, matching: matching) { _, matched in
            values.mapValues { $0.take([Int](repeating: 0, count: matched.count)) }
        }
    }

    /// Rewrites the rows `matching` selects with the columns `computing` gives, as one commit.
    @discardableResult
    public func update(_ dataset: String, message: String, matching: RowMatcher, computing: RowUpdater) async throws -> (commit: ObjectID, rows: Int) {
        var updated = 0
        let id = try await commit(message: message) { tree in
            updated = 0  // the body runs again if another writer commits first
            var manifest = try await manifest(dataset, in: tree)
            let fields = try manifest.schema.columns.map { try $0.field() }
            let ids = manifest.schema.columns.compactMap(\.id)
            let reader = FragmentReader(objects: objects)
            let writer = FragmentWriter(objects: objects)
            var result: [FragmentEntry] = []
            var added: [FragmentEntry] = []
            for entry in manifest.fragments {
                let matched = try await matching(entry, manifest)
                if matched.isEmpty { result.append(entry); continue }
                updated += matched.count
                let data = try await reader.read(entry, schema: manifest.schema, columnIDs: ids)
                let changed = try computing(data, matched)
                let columns = data.columns.enumerated().map { index, column in changed[index] ?? column.take(matched) }
                for (index, column) in changed where column.type != fields[index].type || column.length != matched.count {
                    throw TableError.schemaMismatch("new values for column '\(fields[index].name)' are \(column.type.name), the column is \(fields[index].type.name)")
                }
                added.append(try await writer.write(columns: columns, columnIDs: ids, fields: fields, rowIDs: data.rowIDs.take(matched)))
                if let remaining = try await entry.deleting(matched, objects: objects) { result.append(remaining) }
            }
            manifest.fragments = result + added
            tree[dataset] = try await tables.save(manifest)
        }
        return (id, updated)
    }

    /// Changes a column's type, rewriting every fragment with the converted
    /// values (`convert` maps one old array to one of `type`), as one commit.
    @discardableResult
    public func changeColumnType(_ dataset: String, column: String, to type: ArrowType, message: String,
                                 convert: @Sendable (ArrowArray) throws -> ArrowArray) async throws -> ObjectID {
        try await commit(message: message) { tree in
            var manifest = try await manifest(dataset, in: tree)
            guard let index = manifest.schema.columns.firstIndex(where: { $0.name == column }) else {
                throw TableError.unknownColumn(column, dataset: dataset, available: manifest.schema.names)
            }
            let old = manifest.schema
            var field = try old.columns[index].field()
            field.type = type
            var spec = ColumnSpec(field: field, id: old.columns[index].id)
            spec.metadata = old.columns[index].metadata
            manifest.schema.columns[index] = spec
            let ids = old.columns.compactMap(\.id)
            let fields = try manifest.schema.columns.map { try $0.field() }
            let reader = FragmentReader(objects: objects), writer = FragmentWriter(objects: objects)
            var fragments: [FragmentEntry] = []
            for entry in manifest.fragments {
                let data = try await reader.read(entry, schema: old, columnIDs: ids)
                var (rowIDs, columns) = data.compacted()
                columns[index] = try convert(columns[index])
                guard columns[index].type == type, columns[index].length == rowIDs.length else {
                    throw TableError.schemaMismatch("converting '\(column)' did not produce \(rowIDs.length) values of \(type.name)")
                }
                fragments.append(try await writer.write(columns: columns, columnIDs: ids, fields: fields, rowIDs: rowIDs))
            }
            manifest.fragments = fragments
            tree[dataset] = try await tables.save(manifest)
        }
    }

    /// Creates a dataset with `schema` holding `batches`, as one commit.
    @discardableResult
    public func createDataset(_ name: String, schema: Schema, batches: [RecordBatch], message: String) async throws -> (commit: ObjectID, rows: Int) {
        try Self.validateDatasetName(name)
        var rows = 0
        let id = try await commit(message: message) { tree in
            rows = 0  // the body runs again if another writer commits first
            guard tree[name] == nil else { throw TableError.datasetExists(name) }
            var manifest = Manifest(schema: TableSchema(fields: schema.fields, metadata: schema.metadata))
            let columnIDs = manifest.schema.columns.compactMap(\.id)
            for batch in batches where batch.length > 0 {
                let ids = try await meta.allocateRowIDs(batch.length)
                manifest.fragments.append(try await FragmentWriter(objects: objects).write(columns: batch.columns, columnIDs: columnIDs,
                                                                                            fields: schema.fields, rowIDs: ids))
                rows += batch.length
            }
            tree[name] = try await tables.save(manifest)
        }
        return (id, rows)
    }

    /// Appends the rows of `batch` (columns matched to the dataset's by name) as one commit.
    @discardableResult
    public func append(_ batch: RecordBatch, to dataset: String, message: String) async throws -> (commit: ObjectID, rows: Int) {
        let id = try await commit(message: message) { tree in
            var manifest = try await manifest(dataset, in: tree)
            let columnIDs = try Self.columnMapping(batch.schema, onto: manifest.schema, dataset: dataset, file: "the inserted rows")
            guard batch.length > 0 else { return }
            let ids = try await meta.allocateRowIDs(batch.length)
            manifest.fragments.append(try await FragmentWriter(objects: objects).write(columns: batch.columns, columnIDs: columnIDs,
                                                                                        fields: batch.schema.fields, rowIDs: ids))
            tree[dataset] = try await tables.save(manifest)
        }
        return (id, batch.length)
    }

    /// Adds, renames or drops a column as one commit, rewriting no fragment.
    @discardableResult
    public func alter(_ dataset: String, _ change: ColumnChange, message: String? = nil) async throws -> ObjectID {
        let description: String
        switch change {
        case .add(let name, let type): description = "add column \(name) \(type.name)"
        case .rename(let from, let to): description = "rename column \(from) to \(to)"
        case .drop(let name): description = "drop column \(name)"
        }
        return try await commit(message: message ?? "Alter \(dataset): \(description)") { tree in
            var manifest = try await manifest(dataset, in: tree)
            var schema = manifest.schema
            func index(_ name: String) throws -> Int {
                guard let i = schema.columns.firstIndex(where: { $0.name == name }) else {
                    throw TableError.unknownColumn(name, dataset: dataset, available: schema.names)
                }
                return i
            }
            func checkFree(_ name: String) throws {
                guard !name.isEmpty, name != RowID.name else { throw LoamError.invalidArgument("'\(name)' cannot name a column") }
                if schema.columns.contains(where: { $0.name == name }) { throw TableError.columnExists(name, dataset: dataset) }
            }
            switch change {
            case .add(let name, let type):
                try checkFree(name)
                schema.columns.append(ColumnSpec(field: Field(name: name, type: type, nullable: true), id: schema.nextColumnID))
                schema.nextColumnID += 1
            case .rename(let from, let to):
                let i = try index(from)
                try checkFree(to)
                schema.columns[i].name = to
            case .drop(let name):
                let i = try index(name)
                guard schema.columns.count > 1 else {
                    throw LoamError.invalidArgument("'\(name)' is the last column of '\(dataset)'; drop the dataset instead (`loam drop \(dataset)`)")
                }
                schema.columns.remove(at: i)
            }
            manifest.schema = schema
            tree[dataset] = try await tables.save(manifest)
        }
    }

    /// Removes a dataset from the current branch as one commit (older commits keep it).
    @discardableResult
    public func dropDataset(_ dataset: String, message: String? = nil) async throws -> ObjectID {
        try await commit(message: message ?? "Drop dataset \(dataset)") { tree in
            guard tree.removeValue(forKey: dataset) != nil else { throw TableError.unknownDataset(dataset, available: tree.keys.sorted()) }
        }
    }
}

