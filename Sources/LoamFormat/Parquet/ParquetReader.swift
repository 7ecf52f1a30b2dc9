/// Reads Parquet files: the footer with Thrift's compact protocol, then one row
/// group at a time into Arrow arrays (a row group is the unit of memory), with
/// column projection. Nested lists, maps and structs are rebuilt from
/// repetition and definition levels. Every offset, size and count is checked,
/// so a corrupt file is an error naming the row group, column and page.
///
/// ```swift
/// let reader = try ParquetReader(data: ByteView(storage: try ByteStorage.map(path: "train.parquet")))
/// for g in 0..<reader.rowGroupCount { let batch = try reader.rowGroup(g) }
/// ```
public final class ParquetReader {
    /// The Arrow schema of the projected columns.
    public let schema: Schema
    public let data: ByteView
    let metadata: FileMetaData
    private let shapes: [Shape]
    let leaves: [Leaf]

    public var rowGroupCount: Int { metadata.rowGroups.count }
    public var rowCount: Int { Int(metadata.numRows) }
    public func rows(inRowGroup g: Int) -> Int { Int(metadata.rowGroups[g].numRows) }
    public var createdBy: String? { metadata.createdBy }
    public var keyValueMetadata: [(String, String)] { metadata.keyValues }

    /// Opens `data`; `columns` (top-level names) projects the file, nil reads them all.
    public init(data: ByteView, columns: [String]? = nil) throws {
        self.data = data
        let bytes = data.buffer
        let magic = Array("PAR1".utf8)
        guard bytes.count >= 12 else { throw FormatError.malformedParquet("the file is \(bytes.count) bytes, too short for a Parquet file") }
        if Array(bytes.suffix(4)) == Array("PARE".utf8) {
            throw FormatError.unsupportedParquet("the footer is encrypted (Parquet modular encryption); decrypt the file first")
        }
        guard Array(bytes.prefix(4)) == magic else { throw FormatError.malformedParquet("the file does not start with PAR1") }
        guard Array(bytes.suffix(4)) == magic else { throw FormatError.malformedParquet("the file does not end with PAR1 (truncated?)") }
        let footerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt32.self)))
        guard footerLength > 0, footerLength <= bytes.count - 12 else {
            throw FormatError.malformedParquet("footer length \(footerLength) does not fit in the file's \(bytes.count) bytes")
        }
        let footerStart = bytes.count - 8 - footerLength
        var thrift = ThriftReader(UnsafeRawBufferPointer(rebasing: bytes[footerStart..<(bytes.count - 8)]))
        do { metadata = try thrift.fileMetaData() } catch { throw FormatError.malformedParquet("the footer: \(Self.detail(error))") }
        guard metadata.numRows >= 0 else { throw FormatError.malformedParquet("the footer declares \(metadata.numRows) rows") }

        let builder = try SchemaBuilder(metadata.schema)
        var shapes: [Shape] = []
        var fields: [Field] = []
        let wanted = columns.map(Set.init)
        let original = Self.arrowSchema(metadata.keyValues)
        for node in builder.root.children {
            var (field, shape) = try builder.shape(node)
            if let wanted, !wanted.contains(field.name) { continue }
            if let before = original?.first(where: { $0.name == field.name }) { Self.restore(&field, &shape, from: before) }
            fields.append(field)
            shapes.append(shape)
        }
        if let columns {
            let names = Set(fields.map(\.name))
            if let missing = columns.first(where: { !names.contains($0) }) {
                throw FormatError.unsupportedParquet("the file has no column '\(missing)' (it has: \(builder.root.children.map(\.element.name).joined(separator: ", ")))")
            }
        }
        self.shapes = shapes
        leaves = builder.leaves
        schema = Schema(fields: fields)
        for (g, group) in metadata.rowGroups.enumerated() {
            guard group.columns.count == leaves.count else {
                throw FormatError.malformedParquet("row group \(g) has \(group.columns.count) column chunks, but the schema has \(leaves.count) columns")
            }
            guard group.numRows >= 0 else { throw FormatError.malformedParquet("row group \(g) declares \(group.numRows) rows") }
        }
    }

    /// The Arrow schema pyarrow stores beside the Parquet one (`ARROW:schema`, a base64 IPC schema message), if Loam reads it.
    static func arrowSchema(_ pairs: [(String, String)]) -> [Field]? {
        guard let text = pairs.first(where: { $0.0 == "ARROW:schema" })?.1, let bytes = Base64.decode(text) else { return nil }
        return bytes.withUnsafeBytes { raw -> [Field]? in
            guard let message = try? IPCReader.readMessage(raw, at: 0), message.headerType == 1,
                  let header = try? message.message.table(slot: 2) else { return nil }
            return try? IPCSchema.decodeReadable(header)
        }
    }

    /// What the Parquet schema cannot say but the stored Arrow schema does: a fixed-size list's size
    /// (an embedding) and a timestamp's time zone.
    static func restore(_ field: inout Field, _ shape: inout Shape, from original: Field) {
        switch (field.type, original.type) {
        case (.list(let item), .fixedSizeList(let wanted, let size)) where item.type == wanted.type && size > 0:
            shape.fixedSize = size
            field.type = .fixedSizeList(Field(name: wanted.name, type: item.type, nullable: item.nullable), size)
        case (.timestamp(let unit, let zone), .timestamp(let same, let named)) where unit == same && zone != nil && named != nil:
            field.type = .timestamp(unit, timeZone: named)
        default:
            break
        }
    }

    /// A list array whose rows all hold `size` items, as a fixed-size list (nulls keep `size` null items).
    static func fixedSize(_ list: ArrowArray, _ size: Int, type: ArrowType) throws -> ArrowArray {
        var picks: [Int] = []
        picks.reserveCapacity(list.length * size)
        if list.length == 0 {
            return ArrowArray(type: type, length: 0, nullCount: 0, buffers: [.empty], children: [list.children[0].take([])])
        }
        if list.nullCount == 0 {
            for row in 0..<list.length {
                let r = list.range(row)
                guard r.count == size else { throw FormatError.malformedParquet("row \(row) holds \(r.count) items, but the column is a fixed-size list of \(size)") }
            }
            let child = list.children[0]
            let start = list.range(0).lowerBound, end = list.range(list.length - 1).upperBound
            let items = start == 0 && end == child.length ? child : child.take(Array(start..<end))
            return ArrowArray(type: type, length: list.length, nullCount: 0, buffers: [list.buffers[0]], children: [items])
        }
        // Null rows hold no items in Parquet; Arrow's fixed-size list keeps `size` (null) items for them.
        let child = list.children[0]
        let builder = ArrayBuilder(type: type)
        for row in 0..<list.length {
            if list.isNull(row) { builder.appendNull(); continue }
            let r = list.range(row)
            guard r.count == size else { throw FormatError.malformedParquet("row \(row) holds \(r.count) items, but the column is a fixed-size list of \(size)") }
            for i in r { try builder.child(0).append(child.value(at: i)) }
            builder.appendValidParent()
        }
        return builder.finish()
    }

    static func detail(_ error: Error) -> String {
        switch error {
        case FormatError.malformedParquet(let m), FormatError.unsupportedParquet(let m), FormatError.compression(let m): return m
        default: return "\(error)"
        }
    }

    /// Reads row group `g`: every projected column, decoded and assembled.
    public func rowGroup(_ g: Int) throws -> RecordBatch {
        guard g >= 0, g < rowGroupCount else { throw FormatError.malformedParquet("row group \(g) does not exist (the file has \(rowGroupCount))") }
        let rows = Int(metadata.rowGroups[g].numRows)
        var chunks: [Int: LeafData] = [:]
        for shape in shapes {
            for column in shape.columns {
                chunks[column] = try readChunk(group: g, column: column)
            }
        }
        var arrays: [ArrowArray] = []
        for (shape, field) in zip(shapes, schema.fields) {
            // Top-level slots: the entries that start a row (repetition level 0).
            var slots: [Int: [Int32]] = [:]
            for column in shape.columns {
                let chunk = chunks[column]!
                guard chunk.entries <= Int32.max else { throw FormatError.unsupportedParquet("row group \(g) holds over 2³¹ values in one column; write smaller row groups") }
                slots[column] = chunk.reps.isEmpty ? (0..<Int32(chunk.entries)).map { $0 } : chunk.reps.indices.lazy.filter { chunk.reps[$0] == 0 }.map { Int32($0) }
                guard slots[column]!.count == rows else {
                    throw FormatError.malformedParquet("row group \(g), column '\(leaves[column].path)': \(slots[column]!.count) rows, but the row group has \(rows)")
                }
            }
            do {
                var array = try assemble(shape, slots: slots, chunks: chunks)
                if let size = shape.fixedSize { array = try Self.fixedSize(array, size, type: field.type) }
                arrays.append(array)
            } catch {
                throw FormatError.malformedParquet("row group \(g), column '\(field.name)': \(Self.detail(error))")
            }
        }
        return RecordBatch(schema: schema, columns: arrays, length: rows)
    }

    // MARK: Pages

    struct LeafData {
        var defs: [UInt8] = []
        var reps: [UInt8] = []
        var values: PhysicalValues
        var entries = 0
    }

    private func readChunk(group g: Int, column c: Int) throws -> LeafData {
        let leaf = leaves[c]
        let chunk = metadata.rowGroups[g].columns[c]
        func fail(_ page: Int?, _ message: String) -> FormatError {
            .malformedParquet("row group \(g), column '\(leaf.path)'\(page.map { ", page \($0)" } ?? ""): \(message)")
        }
        guard chunk.filePath == nil else {
            throw FormatError.unsupportedParquet("row group \(g), column '\(leaf.path)' lives in another file (\(chunk.filePath!)); read the dataset's files one by one")
        }
        guard let meta = chunk.meta else { throw fail(nil, "the column chunk has no metadata") }
        guard meta.type == leaf.element.type else {
            throw fail(nil, "the chunk is \(meta.type.name) but the schema says \(leaf.element.type?.name ?? "a group")")
        }
        guard let codec = Codec(rawValue: meta.codec), codec != .lz4Frame else { throw FormatError.unsupportedParquet("row group \(g), column '\(leaf.path)': compression codec number \(meta.codec)") }
        let bytes = data.buffer
        var start = Int(meta.dataPageOffset)
        if let d = meta.dictionaryPageOffset, d > 0, d < start { start = Int(d) }
        let length = Int(meta.totalCompressedSize)
        guard start >= 4, length >= 0, length <= bytes.count - 8 - start else {
            throw fail(nil, "the chunk's bytes \(start)..<\(start + length) lie outside the file")
        }
        let end = start + length
        var out = LeafData(values: PhysicalValues(width: leaf.physicalWidth))
        // Sizes from the footer, capped: the memory is reserved, not touched, until values arrive.
        let expected = min(Int(clamping: meta.numValues), 1 << 28)
        if leaf.maxDef > 0 { out.defs.reserveCapacity(expected) }
        if leaf.maxRep > 0 { out.reps.reserveCapacity(expected) }
        if leaf.physicalWidth > 0 { out.values.fixed.reserveCapacity(expected * leaf.physicalWidth) }
        var dictionary: PhysicalValues?
        var at = start
        var page = 0
        let total = Int(meta.numValues)
        let scratch = PageBuffer()
        while out.entries < total {
            guard at < end else { throw fail(page, "the chunk ends after \(out.entries) of its \(total) values") }
            var thrift = ThriftReader(UnsafeRawBufferPointer(rebasing: bytes[at..<end]))
            let header: PageHeader
            do { header = try thrift.pageHeader() } catch { throw fail(page, "page header: \(Self.detail(error))") }
            let bodyStart = at + thrift.at
            guard header.compressedSize <= end - bodyStart else { throw fail(page, "the page's \(header.compressedSize) bytes run past the chunk") }
            let body = UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + header.compressedSize)])
            at = bodyStart + header.compressedSize
            do {
                switch ParquetPageType(rawValue: header.type) {
                case .dictionaryPage:
                    let raw = try expand(body, codec: codec, size: header.uncompressedSize, scratch: scratch)
                    guard let n = header.dictionaryValues else { throw FormatError.malformedParquet("dictionary page without its header") }
                    var values = PhysicalValues(width: leaf.physicalWidth)
                    var decoder = ParquetDecoder(raw)
                    guard header.dictionaryEncoding == .plain || header.dictionaryEncoding == .plainDictionary else {
                        throw FormatError.unsupportedParquet("dictionary page encoding \(header.dictionaryEncoding)")
                    }
                    try decoder.plain(leaf.element.type!, typeLength: leaf.element.typeLength, count: n, into: &values)
                    dictionary = values
                case .dataPage:
                    guard let h = header.data else { throw FormatError.malformedParquet("data page without its header") }
                    let raw = try expand(body, codec: codec, size: header.uncompressedSize, scratch: scratch)
                    var decoder = ParquetDecoder(raw)
                    if leaf.maxRep > 0 {
                        let n = try decoder.uint32LE()
                        let stop = decoder.at + n
                        guard n <= decoder.remaining else { throw FormatError.malformedParquet("repetition levels run past the page") }
                        try decoder.hybrid(bitWidth: Self.bitWidth(leaf.maxRep), count: h.numValues, into: &out.reps, end: stop)
                        decoder.at = stop
                    }
                    var present = h.numValues
                    if leaf.maxDef > 0 {
                        let n = try decoder.uint32LE()
                        let stop = decoder.at + n
                        guard n <= decoder.remaining else { throw FormatError.malformedParquet("definition levels run past the page") }
                        let before = out.defs.count
                        try decoder.hybrid(bitWidth: Self.bitWidth(leaf.maxDef), count: h.numValues, into: &out.defs, end: stop)
                        decoder.at = stop
                        present = try countPresent(out.defs[before...], max: leaf.maxDef)
                    }
                    try decodeValues(&decoder, encoding: h.encoding, count: present, leaf: leaf, dictionary: dictionary, into: &out.values)
                    out.entries += h.numValues
                case .dataPageV2:
                    guard let h = header.dataV2 else { throw FormatError.malformedParquet("data page v2 without its header") }
                    let levels = h.repetitionLevelsLength + h.definitionLevelsLength
                    guard levels <= body.count else { throw FormatError.malformedParquet("the levels' \(levels) bytes run past the page") }
                    var levelDecoder = ParquetDecoder(UnsafeRawBufferPointer(rebasing: body[0..<levels]))
                    if leaf.maxRep > 0 {
                        try levelDecoder.hybrid(bitWidth: Self.bitWidth(leaf.maxRep), count: h.numValues, into: &out.reps, end: h.repetitionLevelsLength)
                    }
                    levelDecoder.at = h.repetitionLevelsLength
                    var present = h.numValues
                    if leaf.maxDef > 0 {
                        let before = out.defs.count
                        try levelDecoder.hybrid(bitWidth: Self.bitWidth(leaf.maxDef), count: h.numValues, into: &out.defs)
                        present = try countPresent(out.defs[before...], max: leaf.maxDef)
                    }
                    let valueBytes = UnsafeRawBufferPointer(rebasing: body[levels...])
                    let raw = h.isCompressed && codec != .uncompressed
                        ? try expand(valueBytes, codec: codec, size: header.uncompressedSize - levels, scratch: scratch)
                        : valueBytes
                    var decoder = ParquetDecoder(raw)
                    try decodeValues(&decoder, encoding: h.encoding, count: present, leaf: leaf, dictionary: dictionary, into: &out.values)
                    out.entries += h.numValues
                case .indexPage:
                    break
                case nil:
                    throw FormatError.malformedParquet("unknown page type \(header.type)")
                }
            } catch {
                throw fail(page, Self.detail(error))
            }
            page += 1
        }
        guard out.entries == total else { throw fail(nil, "pages hold \(out.entries) values, the chunk declares \(total)") }
        if leaf.maxRep > 0, let first = out.reps.first, first != 0 { throw fail(0, "the first repetition level is \(first), not 0") }
        return out
    }

    private func countPresent(_ defs: ArraySlice<UInt8>, max: Int) throws -> Int {
        var n = 0
        let top = UInt8(max)
        for d in defs {
            if d == top { n += 1 } else if d > top { throw FormatError.malformedParquet("definition level \(d) above the column's maximum \(max)") }
        }
        return n
    }

    /// One page's decompressed bytes, reused page after page. Memory is allocated, not filled: a header that
    /// claims a huge page costs only what the codec really writes before it fails.
    final class PageBuffer {
        private var base: UnsafeMutableRawPointer?
        private var capacity = 0

        func bytes(_ count: Int) -> UnsafeMutableRawBufferPointer {
            if count > capacity {
                base?.deallocate()
                base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
                capacity = count
            }
            return UnsafeMutableRawBufferPointer(start: base, count: count)
        }

        deinit { base?.deallocate() }
    }

    static func bitWidth(_ max: Int) -> Int { max == 0 ? 0 : Int.bitWidth - max.leadingZeroBitCount }

    /// The page body, decompressed into `scratch` when compressed (valid until the next page).
    private func expand(_ body: UnsafeRawBufferPointer, codec: Codec, size: Int, scratch: PageBuffer) throws -> UnsafeRawBufferPointer {
        if codec == .uncompressed {
            guard body.count == size else { throw FormatError.malformedParquet("an uncompressed page of \(body.count) bytes declares \(size)") }
            return body
        }
        guard size >= 0, size <= 1 << 31 else { throw FormatError.malformedParquet("page declares \(size) uncompressed bytes") }
        let out = scratch.bytes(size)
        try codec.decompress(body, into: out)
        return UnsafeRawBufferPointer(out)
    }

    private func decodeValues(_ decoder: inout ParquetDecoder, encoding: ParquetEncoding, count: Int, leaf: Leaf,
                              dictionary: PhysicalValues?, into out: inout PhysicalValues) throws {
        let type = leaf.element.type!
        switch encoding {
        case .plain:
            try decoder.plain(type, typeLength: leaf.element.typeLength, count: count, into: &out)
        case .plainDictionary, .rleDictionary:
            guard let dictionary else { throw FormatError.malformedParquet("a dictionary-encoded page comes before any dictionary page") }
            guard count > 0 else { return }
            let width = Int(try decoder.take(1, "the index bit width")[0])
            var indices: [UInt32] = []
            try decoder.hybrid(bitWidth: width, count: count, into: &indices)
            try out.gather(dictionary, indices)
        case .rle:
            guard type == .boolean else { throw FormatError.unsupportedParquet("RLE encoding of \(type.name) values") }
            _ = try decoder.uint32LE()
            var bits: [UInt32] = []
            try decoder.hybrid(bitWidth: 1, count: count, into: &bits)
            for bit in bits { out.fixed.append(UInt8(bit)) }
        case .deltaBinaryPacked:
            guard type == .int32 || type == .int64 else { throw FormatError.malformedParquet("DELTA_BINARY_PACKED for \(type.name) values") }
            let values = try decoder.deltaBinaryPacked(count: count)
            guard values.count >= count else { throw FormatError.malformedParquet("DELTA_BINARY_PACKED holds \(values.count) values, the page needs \(count)") }
            for v in values.prefix(count) {
                if type == .int32 {
                    withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian) { out.fixed.append(contentsOf: $0) }
                } else {
                    withUnsafeBytes(of: v.littleEndian) { out.fixed.append(contentsOf: $0) }
                }
            }
        case .deltaLengthByteArray:
            guard type == .byteArray else { throw FormatError.malformedParquet("DELTA_LENGTH_BYTE_ARRAY for \(type.name) values") }
            let lengths = try decoder.deltaBinaryPacked(count: count)
            guard lengths.count >= count else { throw FormatError.malformedParquet("DELTA_LENGTH_BYTE_ARRAY holds \(lengths.count) lengths, the page needs \(count)") }
            for n in lengths.prefix(count) {
                guard n >= 0, n <= Int64(decoder.remaining) else { throw FormatError.malformedParquet("a value of \(n) bytes runs past the page") }
                out.appendBytes(try decoder.take(Int(n), "a value"))
            }
        case .deltaByteArray:
            guard type == .byteArray || type == .fixedLenByteArray else { throw FormatError.malformedParquet("DELTA_BYTE_ARRAY for \(type.name) values") }
            let prefixes = try decoder.deltaBinaryPacked(count: count)
            let suffixes = try decoder.deltaBinaryPacked(count: count)
            guard prefixes.count >= count, suffixes.count >= count else { throw FormatError.malformedParquet("DELTA_BYTE_ARRAY holds fewer values than the page needs") }
            var previous: [UInt8] = []
            for i in 0..<count {
                let p = prefixes[i], s = suffixes[i]
                guard p >= 0, p <= Int64(previous.count), s >= 0, s <= Int64(decoder.remaining) else {
                    throw FormatError.malformedParquet("DELTA_BYTE_ARRAY value \(i): prefix \(p) or suffix \(s) out of range")
                }
                var value = Array(previous.prefix(Int(p)))
                value.append(contentsOf: try decoder.take(Int(s), "a suffix"))
                if out.width == 0 {
                    value.withUnsafeBytes { out.appendBytes($0) }
                } else {
                    guard value.count == out.width else { throw FormatError.malformedParquet("a FIXED_LEN_BYTE_ARRAY value of \(value.count) bytes, not \(out.width)") }
                    out.fixed.append(contentsOf: value)
                }
                previous = value
            }
        case .byteStreamSplit:
            guard out.width > 0, type != .boolean else { throw FormatError.malformedParquet("BYTE_STREAM_SPLIT for \(type.name) values") }
            try decoder.byteStreamSplit(width: out.width, count: count, into: &out)
        case .bitPacked:
            throw FormatError.unsupportedParquet("the deprecated BIT_PACKED encoding for values")
        }
    }
}
