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

    /// The schema as Loam stores it, and for each field how its data lies in the file (`Wire`): a type
    /// Loam does not store (decimal, dictionary, view, large_list, …) is converted as it is read.
    /// `bigEndian`: the buffers hold big-endian numbers, swapped as they are read.
    static func decodeWithWire(_ table: FlatBufferTable) throws -> (schema: Schema, wire: [Wire], bigEndian: Bool) {
        let endianness: Int16 = try table.scalar(slot: 0, default: 0)
        guard endianness == 0 || endianness == 1 else { throw FormatError.malformed("the schema's endianness is \(endianness)") }
        let decoded = try table.tables(slot: 1).map { try decodeField($0, depth: 0) }
        return (Schema(fields: decoded.map(\.0), metadata: try decodeMetadata(table, slot: 2)), decoded.map(\.1), endianness == 1)
    }

    /// The fields Loam can read as they are, skipping the rest (Parquet's stored Arrow schema may hold any type).
    static func decodeReadable(_ table: FlatBufferTable) throws -> [Field] {
        try table.tables(slot: 1).compactMap { field in
            guard let (decoded, wire) = try? decodeField(field, depth: 0), wire.isDirect else { return nil }
            return decoded
        }
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

    private static func decodeField(_ table: FlatBufferTable, depth: Int) throws -> (Field, Wire) {
        let name = try table.string(slot: 0) ?? ""
        guard depth < maxNesting else {
            throw FormatError.malformed("field '\(name)' is nested more than \(maxNesting) levels deep")
        }
        let decoded = try table.tables(slot: 5).map { try decodeField($0, depth: depth + 1) }
        let tag: UInt8 = try table.scalar(slot: 2, default: 0)
        let typeTable = try table.table(slot: 3)
        var metadata = try decodeMetadata(table, slot: 6)
        var (type, wire) = try decodeType(tag: tag, table: typeTable, children: decoded, fieldName: name)
        if case .converted(let original, _) = wire {
            // An extension type (arrow.uuid, …) is defined over the file's type, which changed: keep its name, drop the claim.
            let extensionName = metadata.removeValue(forKey: "ARROW:extension:name")
            metadata.removeValue(forKey: "ARROW:extension:metadata")
            metadata["arrow.original_type"] = extensionName.map { "\($0) (\(original))" } ?? original
        }
        if let encoding = try table.table(slot: 4) {  // dictionary-encoded: the type above is the values' type
            let id: Int64 = try encoding.scalar(slot: 0, default: 0)
            let indexTable = try encoding.table(slot: 1)
            let width: Int32 = try indexTable?.scalar(slot: 0, default: 32) ?? 32
            let signed = try indexTable?.bool(slot: 1) ?? true
            guard [8, 16, 32, 64].contains(width) else { throw FormatError.malformed("field '\(name)' has dictionary indices of \(width) bits") }
            metadata["arrow.dictionary"] = "true"
            wire = .dictionary(id: id, indexBytes: Int(width) / 8, signed: signed, values: Field(name: name, type: type), valueWire: wire)
        }
        return (Field(name: name, type: type, nullable: try table.bool(slot: 1), metadata: metadata), wire)
    }

    private static func decodeType(tag: UInt8, table: FlatBufferTable?, children decoded: [(Field, Wire)], fieldName: String) throws -> (ArrowType, Wire) {
        let children = decoded.map(\.0)
        let childWires = decoded.map(\.1)
        func child() throws -> (Field, Wire) {
            guard decoded.count == 1 else { throw FormatError.malformed("list field '\(fieldName)' has \(decoded.count) children, expected 1") }
            return decoded[0]
        }
        /// A container is direct when all its children are; otherwise it reads them through their wires.
        func container(_ type: ArrowType) -> (ArrowType, Wire) {
            (type, childWires.allSatisfy(\.isDirect) ? .direct : .children(childWires))
        }
        func converted(_ type: ArrowType, _ original: String, _ how: Wire.Conversion) -> (ArrowType, Wire) {
            (type, .converted(original: original, how))
        }
        func unit(_ raw: Int16) throws -> TimeUnit {
            guard let unit = TimeUnit(rawValue: raw) else { throw FormatError.malformed("field '\(fieldName)' has time unit \(raw)") }
            return unit
        }
        switch tag {
        case tagInt:
            let width: Int32 = try table?.scalar(slot: 0, default: 0) ?? 0
            let signed = try table?.bool(slot: 1) ?? false
            switch (width, signed) {
            case (8, true): return (.int8, .direct)
            case (16, true): return (.int16, .direct)
            case (32, true): return (.int32, .direct)
            case (64, true): return (.int64, .direct)
            case (8, false): return (.uint8, .direct)
            case (16, false): return (.uint16, .direct)
            case (32, false): return (.uint32, .direct)
            case (64, false): return (.uint64, .direct)
            default: throw FormatError.malformed("field '\(fieldName)' has an integer width of \(width) bits")
            }
        case tagFloat:
            switch try table?.scalar(slot: 0, default: Int16(0)) ?? 0 {
            case 1: return (.float32, .direct)
            case 2: return (.float64, .direct)
            default: return converted(.float32, "float16", .float16)
            }
        case tagBinary: return (.binary, .direct)
        case tagUtf8: return (.utf8, .direct)
        case tagBool: return (.bool, .direct)
        case tagLargeBinary: return (.largeBinary, .direct)
        case tagLargeUtf8: return (.largeUtf8, .direct)
        case tagDate:
            if try table?.scalar(slot: 0, default: Int16(1)) == 0 { return (.date32, .direct) }
            return converted(.timestamp(.millisecond, timeZone: nil), "date64", .same)  // both are int64 milliseconds
        case tagTimestamp:
            return (.timestamp(try unit(try table?.scalar(slot: 0, default: 0) ?? 0), timeZone: try table?.string(slot: 1)), .direct)
        case tagList:
            _ = try child()
            return container(.list(children[0]))
        case tagStruct: return container(.structType(children))
        case tagFixedSizeList:
            let size: Int32 = try table?.scalar(slot: 0, default: 0) ?? 0
            guard size >= 0 else { throw FormatError.malformed("field '\(fieldName)' has list size \(size)") }
            let (item, itemWire) = try child()
            guard (item.type.byteWidth != nil || item.type == .bool), itemWire.isDirect || itemWire.keepsLayout else {
                throw FormatError.unsupported("field '\(fieldName)' is a fixed_size_list of \(item.type.name); Loam stores fixed-size lists of numbers "
                    + "and booleans (cast it to a list: pyarrow `pc.cast(col, pa.list_(…))`)")
            }
            return (.fixedSizeList(item, Int(size)), itemWire.isDirect ? .direct : .children([itemWire]))
        case 1:  // null: no buffers; stored as an all-null string column
            return converted(.utf8, "null", .null)
        case 7:  // decimal
            let precision: Int32 = try table?.scalar(slot: 0, default: 0) ?? 0
            let scale: Int32 = try table?.scalar(slot: 1, default: 0) ?? 0
            let bits: Int32 = try table?.scalar(slot: 2, default: 128) ?? 128
            guard [32, 64, 128, 256].contains(bits), precision > 0, scale >= -100, scale <= 100 else {
                throw FormatError.malformed("field '\(fieldName)' is decimal\(bits)(\(precision), \(scale))")
            }
            let text = precision > 15 || scale < 0
            return converted(text ? .utf8 : .float64, "decimal\(bits)(\(precision), \(scale))", .decimal(bytes: Int(bits) / 8, scale: Int(scale), text: text))
        case 9:  // time32 / time64: the integers as they are
            let raw: Int16 = try table?.scalar(slot: 0, default: 1) ?? 1
            let bits: Int32 = try table?.scalar(slot: 1, default: 32) ?? 32
            guard (bits == 32 && raw <= 1) || (bits == 64 && raw >= 2) else { throw FormatError.malformed("field '\(fieldName)' is time\(bits) with unit \(raw)") }
            return converted(bits == 32 ? .int32 : .int64, "time\(bits)[\(try unit(raw).name)]", .same)
        case 18:  // duration: int64 counts of its unit
            return converted(.int64, "duration[\(try unit(try table?.scalar(slot: 0, default: 1) ?? 1).name)]", .same)
        case 11:  // interval
            let raw: Int16 = try table?.scalar(slot: 0, default: 0) ?? 0
            switch raw {
            case 0: return converted(.int32, "interval[year_month]", .same)  // months
            case 1: return converted(.structType([Field(name: "days", type: .int32), Field(name: "milliseconds", type: .int32)]),
                                     "interval[day_time]", .interval(widths: [4, 4]))
            case 2: return converted(.structType([Field(name: "months", type: .int32), Field(name: "days", type: .int32),
                                                  Field(name: "nanoseconds", type: .int64)]), "interval[month_day_nano]", .interval(widths: [4, 4, 8]))
            default: throw FormatError.malformed("field '\(fieldName)' has interval unit \(raw)")
            }
        case 15:  // fixed_size_binary (and the uuid extension)
            let width: Int32 = try table?.scalar(slot: 0, default: 0) ?? 0
            guard width >= 0 else { throw FormatError.malformed("field '\(fieldName)' has byte width \(width)") }
            return converted(.binary, "fixed_size_binary[\(width)]", .fixedBinary(width: Int(width)))
        case 17:  // map: a list of key/value structs, laid out exactly as one
            let (entries, entriesWire) = try child()
            guard case .structType(let kv) = entries.type, kv.count == 2 else { throw FormatError.malformed("map field '\(fieldName)' has no key/value entries") }
            let (type, wire) = container(.list(entries))
            if case .direct = wire { return converted(type, "map<\(kv[0].type.name), \(kv[1].type.name)>", .same) }
            _ = entriesWire
            return (type, wire)
        case 21:  // large_list: 64-bit offsets
            let (item, itemWire) = try child()
            return converted(.list(item), "large_list<\(item.type.name)>", .largeList(itemWire))
        case 23, 24:  // binary_view, string_view
            return converted(tag == 24 ? .utf8 : .binary, tag == 24 ? "string_view" : "binary_view", .view)
        case 25, 26:  // list_view, large_list_view
            let (item, itemWire) = try child()
            return converted(.list(item), tag == 25 ? "list_view<\(item.type.name)>" : "large_list_view<\(item.type.name)>",
                             .listView(large: tag == 26, itemWire))
        case 22:  // run-end encoded: children run_ends (int16/32/64) and values
            guard decoded.count == 2, decoded[0].0.type.isSignedInteger, decoded[0].0.type.byteWidth ?? 1 >= 2 else {
                throw FormatError.malformed("run-end encoded field '\(fieldName)' needs run_ends (int16, int32 or int64) and values")
            }
            return converted(decoded[1].0.type, "run_end_encoded<\(decoded[1].0.type.name)>",
                             .runEnds(runEnds: decoded[0].0, values: decoded[1].0, valuesWire: decoded[1].1))
        case 14:
            let mode: Int16 = try table?.scalar(slot: 0, default: 0) ?? 0
            throw FormatError.unsupported("field '\(fieldName)' is a \(mode == 0 ? "sparse" : "dense") union of \(children.map(\.type.name).joined(separator: ", ")), "
                + "which Loam does not store; split it into one nullable column per member before importing")
        default:
            let name = unsupportedTagNames[tag] ?? "type tag \(tag)"
            throw FormatError.unsupported("field '\(fieldName)' has Arrow type \(name), which Loam does not store")
        }
    }
}
