import LoamFormat

/// The JSON form of a field in a manifest: name, type, nullability, metadata
/// and, for top-level columns, the stable field id that fragments key on.
///
/// ```json
/// {"id": 3, "name": "embedding", "type": "fixed_size_list", "size": 128, "nullable": true,
///  "children": [{"name": "item", "type": "float32", "nullable": true}]}
/// ```
public struct ColumnSpec: Hashable, Sendable {
    public var id: Int?
    public var name: String
    public var type: String
    public var nullable: Bool
    public var unit: String?
    public var timezone: String?
    public var size: Int?
    public var children: [ColumnSpec]?
    public var metadata: [String: String]?

    public init(field: Field, id: Int? = nil) {
        self.id = id
        name = field.name
        nullable = field.nullable
        metadata = field.metadata.isEmpty ? nil : field.metadata
        switch field.type {
        case .timestamp(let u, let tz):
            type = "timestamp"
            unit = u.name
            timezone = tz
        case .fixedSizeList(let item, let n):
            type = "fixed_size_list"
            size = n
            children = [ColumnSpec(field: item)]
        case .list(let item):
            type = "list"
            children = [ColumnSpec(field: item)]
        case .structType(let fields):
            type = "struct"
            children = fields.map { ColumnSpec(field: $0) }
        default:
            type = field.type.name
        }
    }

    public func field() throws -> Field {
        let kids = try (children ?? []).map { try $0.field() }
        let arrowType: ArrowType
        switch type {
        case "timestamp":
            guard let u = TimeUnit.allCases.first(where: { $0.name == unit }) else {
                throw TableError.corrupt("column '\(name)' has timestamp unit '\(unit ?? "")'")
            }
            arrowType = .timestamp(u, timeZone: timezone)
        case "fixed_size_list":
            guard let item = kids.first, let size else { throw TableError.corrupt("column '\(name)' lacks its list item or size") }
            arrowType = .fixedSizeList(item, size)
        case "list":
            guard let item = kids.first else { throw TableError.corrupt("column '\(name)' lacks its list item") }
            arrowType = .list(item)
        case "struct":
            arrowType = .structType(kids)
        default:
            guard let primitive = ArrowType.primitive(named: type) else { throw TableError.corrupt("column '\(name)' has unknown type '\(type)'") }
            arrowType = primitive
        }
        return Field(name: name, type: arrowType, nullable: nullable, metadata: metadata ?? [:])
    }
}
