/// Parquet's footer and page headers (parquet.thrift), the fields Loam reads and writes.
enum ParquetPhysical: Int32 {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7

    var name: String {
        ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"][Int(rawValue)]
    }
}

enum ParquetRepetition: Int32 { case required = 0, optional = 1, repeated = 2 }

enum ParquetEncoding: Int32 {
    case plain = 0, plainDictionary = 2, rle = 3, bitPacked = 4, deltaBinaryPacked = 5
    case deltaLengthByteArray = 6, deltaByteArray = 7, rleDictionary = 8, byteStreamSplit = 9
}

enum ParquetPageType: Int32 { case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3 }

/// The logical type of a schema element: the newer LogicalType union, or the older ConvertedType.
enum ParquetLogical: Equatable {
    case string, map, list, enumeration, decimal(precision: Int, scale: Int), date
    case time(TimeUnit, utc: Bool), timestamp(TimeUnit, utc: Bool)
    case integer(bits: Int, signed: Bool), unknown, json, bson, uuid, float16
    /// A LogicalType this reader does not know (its union field id).
    case other(Int16)
}

struct SchemaElement {
    var type: ParquetPhysical?
    var typeLength = 0
    var repetition = ParquetRepetition.required
    var name = ""
    var numChildren = 0
    var convertedType: Int32?
    var scale = 0
    var precision = 0
    var logical: ParquetLogical?

    /// The logical type, from LogicalType or else from ConvertedType.
    var annotation: ParquetLogical? {
        if let logical { return logical }
        guard let c = convertedType else { return nil }
        switch c {
        case 0: return .string
        case 1, 2: return .map
        case 3: return .list
        case 4: return .enumeration
        case 5: return .decimal(precision: precision, scale: scale)
        case 6: return .date
        case 7: return .time(.millisecond, utc: true)
        case 8: return .time(.microsecond, utc: true)
        case 9: return .timestamp(.millisecond, utc: true)
        case 10: return .timestamp(.microsecond, utc: true)
        case 11, 12, 13, 14: return .integer(bits: 8 << Int(c - 11), signed: false)
        case 15, 16, 17, 18: return .integer(bits: 8 << Int(c - 15), signed: true)
        case 19: return .json
        case 20: return .bson
        default: return nil
        }
    }
}

struct ColumnMetaData {
    var type = ParquetPhysical.boolean
    var path: [String] = []
    var codec: Int32 = 0
    var numValues: Int64 = 0
    var totalUncompressedSize: Int64 = 0
    var totalCompressedSize: Int64 = 0
    var dataPageOffset: Int64 = 0
    var dictionaryPageOffset: Int64?
}

struct ColumnChunk {
    var filePath: String?
    var meta: ColumnMetaData?
}

struct RowGroup {
    var columns: [ColumnChunk] = []
    var numRows: Int64 = 0
}

struct FileMetaData {
    var version: Int32 = 0
    var schema: [SchemaElement] = []
    var numRows: Int64 = 0
    var rowGroups: [RowGroup] = []
    var keyValues: [(String, String)] = []
    var createdBy: String?
}

struct DataPageHeader {
    var numValues = 0
    var encoding = ParquetEncoding.plain
    var numNulls: Int?
    var numRows: Int?
    /// Page v2: the byte lengths of the (uncompressed) level runs ahead of the values.
    var definitionLevelsLength = 0
    var repetitionLevelsLength = 0
    var isCompressed = true
}

struct PageHeader {
    var type: Int32 = -1
    var uncompressedSize = 0
    var compressedSize = 0
    var data: DataPageHeader?
    var dataV2: DataPageHeader?
    var dictionaryValues: Int?
    var dictionaryEncoding = ParquetEncoding.plain
}

// MARK: Reading

extension ThriftReader {
    mutating func encoding() throws -> ParquetEncoding {
        let raw = try i32()
        guard let e = ParquetEncoding(rawValue: raw) else { throw FormatError.unsupportedParquet("encoding number \(raw)") }
        return e
    }

    mutating func fileMetaData() throws -> FileMetaData {
        var m = FileMetaData()
        try structure { r, id, kind in
            switch id {
            case 1: m.version = try r.i32()
            case 2: m.schema = try r.list { try $0.schemaElement() }
            case 3: m.numRows = try r.i64()
            case 4: m.rowGroups = try r.list { try $0.rowGroup() }
            case 5: m.keyValues = try r.list { try $0.keyValue() }
            case 6: m.createdBy = try r.string()
            default: return false
            }
            return true
        }
        return m
    }

    mutating func keyValue() throws -> (String, String) {
        var key = "", value = ""
        try structure { r, id, _ in
            switch id {
            case 1: key = try r.string()
            case 2: value = try r.string()
            default: return false
            }
            return true
        }
        return (key, value)
    }

    mutating func schemaElement() throws -> SchemaElement {
        var e = SchemaElement()
        try structure { r, id, kind in
            switch id {
            case 1:
                let raw = try r.i32()
                guard let t = ParquetPhysical(rawValue: raw) else { throw FormatError.malformedParquet("unknown physical type \(raw)") }
                e.type = t
            case 2: e.typeLength = Int(try r.i32())
            case 3:
                let raw = try r.i32()
                guard let rep = ParquetRepetition(rawValue: raw) else { throw FormatError.malformedParquet("unknown repetition \(raw)") }
                e.repetition = rep
            case 4: e.name = try r.string()
            case 5: e.numChildren = try r.count()
            case 6: e.convertedType = try r.i32()
            case 7: e.scale = Int(try r.i32())
            case 8: e.precision = Int(try r.i32())
            case 10: e.logical = try r.logicalType()
            default: return false
            }
            return true
        }
        return e
    }

    mutating func logicalType() throws -> ParquetLogical? {
        var result: ParquetLogical?
        try structure { r, id, _ in
            switch id {
            case 1: result = .string
            case 2: result = .map
            case 3: result = .list
            case 4: result = .enumeration
            case 6: result = .date
            case 11: result = .unknown
            case 12: result = .json
            case 13: result = .bson
            case 14: result = .uuid
            case 15: result = .float16
            case 5:
                var scale = 0, precision = 0
                try r.structure { r, id, _ in
                    switch id {
                    case 1: scale = Int(try r.i32())
                    case 2: precision = Int(try r.i32())
                    default: return false
                    }
                    return true
                }
                result = .decimal(precision: precision, scale: scale)
                return true
            case 7, 8:
                var utc = false, unit = TimeUnit.millisecond
                try r.structure { r, field, kind in
                    switch field {
                    case 1: utc = r.bool(kind)
                    case 2:
                        try r.structure { r, u, kind in
                            unit = u == 1 ? .millisecond : u == 2 ? .microsecond : .nanosecond
                            try r.skip(kind)
                            return true
                        }
                    default: return false
                    }
                    return true
                }
                result = id == 7 ? .time(unit, utc: utc) : .timestamp(unit, utc: utc)
                return true
            case 10:
                var bits = 0, signed = true
                try r.structure { r, field, kind in
                    switch field {
                    case 1: bits = Int(Int8(bitPattern: try r.byte()))
                    case 2: signed = r.bool(kind)
                    default: return false
                    }
                    return true
                }
                result = .integer(bits: bits, signed: signed)
                return true
            default: result = .other(id)
            }
            return false  // skip the empty struct that marks the choice
        }
        return result
    }

    mutating func rowGroup() throws -> RowGroup {
        var g = RowGroup()
        try structure { r, id, _ in
            switch id {
            case 1: g.columns = try r.list { try $0.columnChunk() }
            case 3: g.numRows = try r.i64()
            default: return false
            }
            return true
        }
        return g
    }

    mutating func columnChunk() throws -> ColumnChunk {
        var c = ColumnChunk()
        try structure { r, id, _ in
            switch id {
            case 1: c.filePath = try r.string()
            case 3: c.meta = try r.columnMetaData()
            default: return false
            }
            return true
        }
        return c
    }

    mutating func columnMetaData() throws -> ColumnMetaData {
        var m = ColumnMetaData()
        try structure { r, id, _ in
            switch id {
            case 1:
                let raw = try r.i32()
                guard let t = ParquetPhysical(rawValue: raw) else { throw FormatError.malformedParquet("unknown physical type \(raw)") }
                m.type = t
            case 3: m.path = try r.list { try $0.string() }
            case 4: m.codec = try r.i32()
            case 5: m.numValues = try r.i64()
            case 6: m.totalUncompressedSize = try r.i64()
            case 7: m.totalCompressedSize = try r.i64()
            case 9: m.dataPageOffset = try r.i64()
            case 11: m.dictionaryPageOffset = try r.i64()
            default: return false
            }
            return true
        }
        return m
    }

    mutating func pageHeader() throws -> PageHeader {
        var h = PageHeader()
        try structure { r, id, _ in
            switch id {
            case 1: h.type = try r.i32()
            case 2: h.uncompressedSize = try r.count()
            case 3: h.compressedSize = try r.count()
            case 5:
                var d = DataPageHeader()
                try r.structure { r, id, _ in
                    switch id {
                    case 1: d.numValues = try r.count()
                    case 2: d.encoding = try r.encoding()
                    default: return false  // level encodings: always RLE in practice (BIT_PACKED is refused where used)
                    }
                    return true
                }
                h.data = d
            case 7:
                try r.structure { r, id, _ in
                    switch id {
                    case 1: h.dictionaryValues = try r.count()
                    case 2: h.dictionaryEncoding = try r.encoding()
                    default: return false
                    }
                    return true
                }
            case 8:
                var d = DataPageHeader()
                try r.structure { r, id, kind in
                    switch id {
                    case 1: d.numValues = try r.count()
                    case 2: d.numNulls = try r.count()
                    case 3: d.numRows = try r.count()
                    case 4: d.encoding = try r.encoding()
                    case 5: d.definitionLevelsLength = try r.count()
                    case 6: d.repetitionLevelsLength = try r.count()
                    case 7: d.isCompressed = r.bool(kind)
                    default: return false
                    }
                    return true
                }
                h.dataV2 = d
            default: return false
            }
            return true
        }
        return h
    }
}
