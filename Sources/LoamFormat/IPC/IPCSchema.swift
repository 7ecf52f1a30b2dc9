/// Encodes and decodes Arrow `Schema` / `Field` tables (format/Schema.fbs).
enum IPCSchema {
    // Type union tags from Schema.fbs.
    static let tagInt: UInt8 = 2, tagFloat: UInt8 = 3, tagBinary: UInt8 = 4, tagUtf8: UInt8 = 5
    static let tagBool: UInt8 = 6, tagDate: UInt8 = 8, tagTimestamp: UInt8 = 10, tagList: UInt8 = 12
    static let tagStruct: UInt8 = 13, tagFixedSizeList: UInt8 = 16
    static let tagLargeBinary: UInt8 = 19, tagLargeUtf8: UInt8 = 20

    static let unsupportedTagNames: [UInt8: String] = [
        1: "null", 7: "decimal", 9: "time", 11: "interval", 14: "union", 15: "fixed_size_binary",
        17: "map", 18: "duration", 21: "large_list", 22: "run_end_encoded", 23: "binary_view",
        24: "string_view", 25: "list_view", 26: "large_list_view",
    ]

    static func encode(_ schema: Schema, into b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let fields = schema.fields.map { encode($0, into: &b) }
        let fieldsVector = b.createVector(offsets: fields)
        let metadata = encodeMetadata(schema.metadata, into: &b)
        b.startTable()
        b.add(slot: 0, Int16(0))  // little endian
        b.addOffset(slot: 1, fieldsVector)
        if let metadata { b.addOffset(slot: 2, metadata) }
        return b.endTable()
    }

    private static func encodeMetadata(_ metadata: [String: String], into b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset? {
        guard !metadata.isEmpty else { return nil }
        // Sorted so that equal schemas encode to equal bytes (objects are content-addressed).
        let pairs = metadata.sorted { $0.key < $1.key }.map { key, value -> FlatBufferBuilder.Offset in
            let k = b.createString(key)
            let v = b.createString(value)
            b.startTable()
            b.addOffset(slot: 0, k)
            b.addOffset(slot: 1, v)
            return b.endTable()
        }
        return b.createVector(offsets: pairs)
    }

    private static func encode(_ field: Field, into b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let name = b.createString(field.name)
        let children = field.type.children.map { encode($0, into: &b) }
        let childrenVector = b.createVector(offsets: children)
        let metadata = encodeMetadata(field.metadata, into: &b)
        let (tag, typeTable) = encodeType(field.type, into: &b)
        b.startTable()
        b.addOffset(slot: 0, name)
        b.add(slot: 1, field.nullable)
        b.add(slot: 2, tag)
        b.addOffset(slot: 3, typeTable)
        b.addOffset(slot: 5, childrenVector)
        if let metadata { b.addOffset(slot: 6, metadata) }
        return b.endTable()
    }

    private static func encodeType(_ type: ArrowType, into b: inout FlatBufferBuilder) -> (UInt8, FlatBufferBuilder.Offset) {
        func intType(_ width: Int32, _ signed: Bool) -> (UInt8, FlatBufferBuilder.Offset) {
            b.startTable()
            b.add(slot: 0, width)
            b.add(slot: 1, signed)
            return (tagInt, b.endTable())
        }
        func empty(_ tag: UInt8) -> (UInt8, FlatBufferBuilder.Offset) {
            b.startTable()
            return (tag, b.endTable())
        }
        switch type {
        case .bool: return empty(tagBool)
        case .int8: return intType(8, true)
        case .int16: return intType(16, true)
        case .int32: return intType(32, true)
        case .int64: return intType(64, true)
        case .uint8: return intType(8, false)
        case .uint16: return intType(16, false)
        case .uint32: return intType(32, false)
        case .uint64: return intType(64, false)
        case .float32, .float64:
            b.startTable()
            b.add(slot: 0, Int16(type == .float32 ? 1 : 2))
            return (tagFloat, b.endTable())
        case .utf8: return empty(tagUtf8)
        case .largeUtf8: return empty(tagLargeUtf8)
        case .binary: return empty(tagBinary)
        case .largeBinary: return empty(tagLargeBinary)
        case .date32:
            b.startTable()
            b.add(slot: 0, Int16(0))  // DateUnit.DAY
            return (tagDate, b.endTable())
        case .timestamp(let unit, let timeZone):
            let tz = timeZone.map { b.createString($0) }
            b.startTable()
            b.add(slot: 0, unit.rawValue)
            if let tz { b.addOffset(slot: 1, tz) }
            return (tagTimestamp, b.endTable())
        case .list: return empty(tagList)
        case .structType: return empty(tagStruct)
        case .fixedSizeList(_, let size):
            b.startTable()
            b.add(slot: 0, Int32(size))
            return (tagFixedSizeList, b.endTable())
        }
    }

    static func decode(_ table: FlatBufferTable) throws -> Schema {
        let endianness: Int16 = try table.scalar(slot: 0, default: 0)
        guard endianness == 0 else { throw FormatError.unsupported("big-endian Arrow data") }
        let fields = try table.tables(slot: 1).map { try decodeField($0, depth: 0) }
        return Schema(fields: fields, metadata: try decodeMetadata(table, slot: 2))
    }

    /// The fields Loam can read, skipping those of types it does not (Parquet's stored Arrow schema may hold any).
    static func decodeReadable(_ table: FlatBufferTable) throws -> [Field] {
        try table.tables(slot: 1).compactMap { try? decodeField($0, depth: 0) }
    }

    private static func decodeMetadata(_ table: FlatBufferTable, slot: Int) throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in try table.tables(slot: slot) {
            if let key = try pair.string(slot: 0) { result[key] = try pair.string(slot: 1) ?? "" }
        }
        return result
    }

    /// Deeper than any real schema; stops hostile files whose offsets form a cycle.
    static let maxNesting = 64

    private static func decodeField(_ table: FlatBufferTable, depth: Int) throws -> Field {
        let name = try table.string(slot: 0) ?? ""
        guard depth < maxNesting else {
            throw FormatError.malformed("field '\(name)' is nested more than \(maxNesting) levels deep")
        }
        if try table.table(slot: 4) != nil {
            throw FormatError.unsupported("field '\(name)' is dictionary-encoded; decode it (e.g. pyarrow's `column.dictionary_decode()`) before importing")
        }
        let children = try table.tables(slot: 5).map { try decodeField($0, depth: depth + 1) }
        let tag: UInt8 = try table.scalar(slot: 2, default: 0)
        let typeTable = try table.table(slot: 3)
        let type = try decodeType(tag: tag, table: typeTable, children: children, fieldName: name)
        return Field(name: name, type: type, nullable: try table.bool(slot: 1),
                     metadata: try decodeMetadata(table, slot: 6))
    }

    private static func decodeType(tag: UInt8, table: FlatBufferTable?, children: [Field], fieldName: String) throws -> ArrowType {
        func child() throws -> Field {
            guard children.count == 1 else { throw FormatError.malformed("list field '\(fieldName)' has \(children.count) children, expected 1") }
            return children[0]
        }
        switch tag {
        case tagInt:
            let width: Int32 = try table?.scalar(slot: 0, default: 0) ?? 0
            let signed = try table?.bool(slot: 1) ?? false
            switch (width, signed) {
            case (8, true): return .int8
            case (16, true): return .int16
            case (32, true): return .int32
            case (64, true): return .int64
            case (8, false): return .uint8
            case (16, false): return .uint16
            case (32, false): return .uint32
            case (64, false): return .uint64
            default: throw FormatError.malformed("field '\(fieldName)' has an integer width of \(width) bits")
            }
        case tagFloat:
            switch try table?.scalar(slot: 0, default: Int16(0)) ?? 0 {
            case 1: return .float32
            case 2: return .float64
            default: throw FormatError.unsupported("field '\(fieldName)' is float16; cast it to float32")
            }
        case tagBinary: return .binary
        case tagUtf8: return .utf8
        case tagBool: return .bool
        case tagLargeBinary: return .largeBinary
        case tagLargeUtf8: return .largeUtf8
        case tagDate:
            guard try table?.scalar(slot: 0, default: Int16(1)) == 0 else {
                throw FormatError.unsupported("field '\(fieldName)' is date64; cast it to date32 or timestamp")
            }
            return .date32
        case tagTimestamp:
            let raw: Int16 = try table?.scalar(slot: 0, default: 0) ?? 0
            guard let unit = TimeUnit(rawValue: raw) else { throw FormatError.malformed("field '\(fieldName)' has time unit \(raw)") }
            return .timestamp(unit, timeZone: try table?.string(slot: 1))
        case tagList: return .list(try child())
        case tagStruct: return .structType(children)
        case tagFixedSizeList:
            let size: Int32 = try table?.scalar(slot: 0, default: 0) ?? 0
            guard size >= 0 else { throw FormatError.malformed("field '\(fieldName)' has list size \(size)") }
            let item = try child()
            guard item.type.byteWidth != nil || item.type == .bool else {
                throw FormatError.unsupported("field '\(fieldName)' is a fixed_size_list of \(item.type.name); only primitive items are supported")
            }
            return .fixedSizeList(item, Int(size))
        default:
            let name = unsupportedTagNames[tag] ?? "type tag \(tag)"
            throw FormatError.unsupported("field '\(fieldName)' has Arrow type \(name), which Loam does not store")
        }
    }
}
