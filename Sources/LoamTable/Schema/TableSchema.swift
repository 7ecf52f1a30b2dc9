import LoamFormat

/// A dataset's logical schema: columns with stable ids. Fragments store
/// columns by id, so renaming or dropping a column rewrites no fragment, and
/// a column added later reads as null in older fragments.
public struct TableSchema: Hashable, Sendable {
    public var columns: [ColumnSpec]
    public var nextColumnID: Int
    public var metadata: [String: String]?

    public init(fields: [Field], metadata: [String: String] = [:]) {
        columns = fields.enumerated().map { ColumnSpec(field: $0.element, id: $0.offset + 1) }
        nextColumnID = fields.count + 1
        self.metadata = metadata.isEmpty ? nil : metadata
    }

    /// The Arrow schema users see (without `_rowid`).
    public func arrowSchema() throws -> Schema {
        Schema(fields: try columns.map { try $0.field() }, metadata: metadata ?? [:])
    }

    public var names: [String] { columns.map(\.name) }

    public func columnID(_ name: String) -> Int? { columns.first { $0.name == name }?.id }

    /// Schema metadata naming the columns whose values identify a row (comma-separated), if the dataset has a key.
    public static let keyMetadata = "loam.key"

    /// The dataset's key columns: a merge refuses two different rows inserted on both sides with the same key.
    public var keyColumns: [String]? {
        get { list(Self.keyMetadata) }
        set { setList(Self.keyMetadata, newValue) }
    }

    /// Schema metadata naming the columns two rows with one key must agree on to be the same row (default: all).
    public static let keyValuesMetadata = "loam.key_values"

    /// With a key: the columns whose differing values are a conflict, when both sides inserted one key or changed
    /// one row; the others (times, provenance) follow our side.
    public var keyValueColumns: [String]? {
        get { list(Self.keyValuesMetadata) }
        set { setList(Self.keyValuesMetadata, newValue) }
    }

    private func list(_ key: String) -> [String]? { metadata?[key].map { $0.split(separator: ",").map(String.init) } }

    private mutating func setList(_ key: String, _ names: [String]?) {
        var m = metadata ?? [:]
        m[key] = names?.joined(separator: ",")
        metadata = m.isEmpty ? nil : m
    }
}

/// The pseudo-column every fragment starts with: the row's stable identity.
public enum RowID {
    public static let name = "_rowid"
    public static let field = Field(name: name, type: .uint64, nullable: false)
    /// Field metadata key carrying a column's stable id inside a fragment.
    public static let fieldIDKey = "loam.field_id"
}
