import LoamFormat
import LoamTable

/// Renders row-level diffs as text, JSON, or an Arrow IPC table in long form.
public enum DiffExport {
    /// Column id → name in a schema.
    public static func names(_ schema: TableSchema?) -> [Int: String] {
        Dictionary((schema?.columns ?? []).compactMap { c in c.id.map { ($0, c.name) } }, uniquingKeysWith: { a, _ in a })
    }

    public static func text(_ change: SchemaChange) -> String {
        switch change {
        case .added(_, let name, let type): return "added column \(name) \(type)"
        case .dropped(_, let name): return "dropped column \(name)"
        case .renamed(_, let from, let to): return "renamed column \(from) → \(to)"
        }
    }

    public static func text(_ row: DiffRow, _ schema: TableSchema?) -> String {
        "{" + (schema?.columns ?? []).compactMap { c in c.id.map { "\(c.name): \(text(row.cells[$0] ?? .null, c))" } }.joined(separator: ", ") + "}"
    }

    /// A cell for people: dates as dates, strings quoted, by the column's type.
    public static func text(_ value: Value, _ column: ColumnSpec?) -> String {
        guard !value.isNull, let type = try? column?.field().type else { return value.displayText }
        if case .string = value { return value.displayText }
        return ValueText.text(value, type) ?? value.displayText
    }

    static func json(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .float(let d): return d.isFinite ? String(d) : "null"
        case .string(let s): return JSONText.quote(s)
        case .binary(let b): return JSONText.quote(b.map { String(format: "%02x", $0) }.joined())
        case .list(let items), .structValue(let items): return "[" + items.map(json).joined(separator: ",") + "]"
        }
    }

    static func json(_ row: DiffRow, _ schema: TableSchema?) -> String {
        "{\"_rowid\":\(row.rowID)," + (schema?.columns ?? []).compactMap { c in
            c.id.map { "\(JSONText.quote(c.name)):\(json(row.cells[$0] ?? .null))" }
        }.joined(separator: ",") + "}"
    }

    public static func json(_ diffs: [DatasetDiff]) -> String {
        "[" + diffs.map { diff in
            let names = names(diff.newSchema)
            let modified = diff.modified.map { row in
                "{\"_rowid\":\(row.rowID),\"changes\":[" + row.changes.map {
                    "{\"column\":\(JSONText.quote(names[$0.columnID] ?? "?")),\"old\":\(json($0.old)),\"new\":\(json($0.new))}"
                }.joined(separator: ",") + "]}"
            }
            let summary = "{\"added\":\(diff.added.count),\"removed\":\(diff.removed.count),\"modified\":\(diff.modified.count)}"
            let schemaChanges: [String] = diff.schemaChanges.map { JSONText.quote(text($0)) }
            let added: [String] = diff.added.map { json($0, diff.newSchema) }
            let removed: [String] = diff.removed.map { json($0, diff.oldSchema) }
            var parts: [String] = []
            parts.append("\"dataset\":" + JSONText.quote(diff.dataset))
            parts.append("\"status\":\"" + diff.status.rawValue + "\"")
            parts.append("\"summary\":" + summary)
            parts.append("\"schema_changes\":[" + schemaChanges.joined(separator: ",") + "]")
            parts.append("\"added\":[" + added.joined(separator: ",") + "]")
            parts.append("\"removed\":[" + removed.joined(separator: ",") + "]")
            parts.append("\"modified\":[" + modified.joined(separator: ",") + "]")
            return "{" + parts.joined(separator: ",") + "}"
        }.joined(separator: ",") + "]"
    }

    /// The long form as an Arrow IPC file.
    public static func arrowBytes(_ diffs: [DatasetDiff]) throws -> [UInt8] {
        let table = try batch(diffs)
        return try IPCWriter.bytes(schema: table.schema, batches: [table])
    }

    /// One row per changed cell (modified) or per row (added/removed, column null), values as JSON text:
    /// `dataset, _rowid, change, column, old, new`.
    public static func batch(_ diffs: [DatasetDiff]) throws -> RecordBatch {
        let schema = Schema(fields: [
            Field(name: "dataset", type: .utf8, nullable: false), Field(name: "_rowid", type: .uint64, nullable: false),
            Field(name: "change", type: .utf8, nullable: false), Field(name: "column", type: .utf8),
            Field(name: "old", type: .utf8), Field(name: "new", type: .utf8),
        ])
        let builders = schema.fields.map { ArrayBuilder(type: $0.type) }
        func add(_ dataset: String, _ rowID: UInt64, _ change: String, _ column: String?, _ old: String?, _ new: String?) throws {
            let values: [Value] = [.string(dataset), .uint(rowID), .string(change), column.map(Value.string) ?? .null,
                                   old.map(Value.string) ?? .null, new.map(Value.string) ?? .null]
            for (builder, value) in zip(builders, values) { try builder.append(value) }
        }
        for diff in diffs {
            let names = names(diff.newSchema)
            for row in diff.added { try add(diff.dataset, row.rowID, "added", nil, nil, json(row, diff.newSchema)) }
            for row in diff.removed { try add(diff.dataset, row.rowID, "removed", nil, json(row, diff.oldSchema), nil) }
            for row in diff.modified {
                for change in row.changes { try add(diff.dataset, row.rowID, "modified", names[change.columnID], json(change.old), json(change.new)) }
            }
        }
        return RecordBatch(schema: schema, columns: builders.map { $0.finish() })
    }
}
