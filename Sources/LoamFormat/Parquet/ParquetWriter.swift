/// Writes Parquet files that pyarrow, DuckDB and polars read: data pages v1
/// with RLE levels, dictionary encoding for strings and binaries while the
/// dictionary stays small (PLAIN otherwise), snappy/zstd/gzip/lz4_raw or no
/// compression, exact min/max and null-count statistics for every column, and the logical
/// types Loam's columns map to. Batches are buffered into row groups of at most
/// `rowGroupRows` rows (or about 128 MiB), so memory stays bounded.
///
/// ```swift
/// var writer = try ParquetWriter(schema: batch.schema, sink: MemorySink(), codec: .zstd)
/// try writer.write(batch)
/// let sink = try writer.finish()
/// ```
public struct ParquetWriter<Sink: ByteSink> {
    public let schema: Schema
    public private(set) var sink: Sink
    private let codec: Codec
    private let rowGroupRows: Int
    /// Rows waiting for the next row group: a batch and which of its rows.
    private var pending: [(RecordBatch, Range<Int>)] = []
    private var pendingRows = 0
    private var pendingBytes = 0
    private var offset = 0
    private var groups: [WrittenGroup] = []
    private let leaves: [WriteLeaf]
    private let elements: [SchemaElement]
    private var finished = false

    struct WrittenGroup {
        var columns: [WrittenChunk]
        var rows: Int
        var start: Int
        var compressed: Int
        var uncompressed: Int
    }

    struct WrittenChunk {
        var leaf: Int
        var start: Int
        var dataPageOffset: Int
        var dictionaryPageOffset: Int?
        var compressed: Int
        var uncompressed: Int
        var values: Int
        var encodings: [ParquetEncoding]
        var nulls: Int
        var bounds: (min: [UInt8], max: [UInt8])?
    }

    public init(schema: Schema, sink: Sink, codec: Codec = .snappy, rowGroupRows: Int = 1 << 20) throws {
        guard [.uncompressed, .snappy, .zstd, .gzip, .lz4Raw].contains(codec) else {
            throw FormatError.unsupportedParquet("Loam writes Parquet with snappy, zstd, gzip, lz4 or no compression, not \(codec.name)")
        }
        self.schema = schema
        self.sink = sink
        self.codec = codec
        self.rowGroupRows = max(1, rowGroupRows)
        var plan = WritePlan()
        for field in schema.fields { try plan.add(field, def: 0, rep: 0, path: []) }
        leaves = plan.leaves
        elements = plan.elements
        try self.sink.write(Array("PAR1".utf8))
        offset = 4
    }

    /// Adds a batch's rows; a batch may be split between row groups.
    public mutating func write(_ batch: RecordBatch) throws {
        guard batch.length > 0 else { return }
        let bytesPerRow = max(1, batch.columns.reduce(0) { $0 + $1.byteSize } / batch.length)
        var start = 0
        while start < batch.length {
            let n = min(batch.length - start, rowGroupRows - pendingRows, max(1, ((128 << 20) - pendingBytes) / bytesPerRow))
            pending.append((batch, start..<(start + n)))
            pendingRows += n
            pendingBytes += n * bytesPerRow
            start += n
            if pendingRows >= rowGroupRows || pendingBytes >= 128 << 20 { try flushGroup() }
        }
    }

    /// Writes the last row group and the footer; returns the sink.
    public mutating func finish(metadata: [String: String] = [:]) throws -> Sink {
        guard !finished else { return sink }
        finished = true
        try flushGroup()
        var t = ThriftWriter()
        t.structure { t in
            t.field(1, i32: 2)
            t.field(2, list: .structure, count: elements.count + 1) { t, i in
                if i == 0 {
                    t.structure { t in
                        t.field(4, string: "schema")
                        t.field(5, i32: Int32(schema.fields.count))
                    }
                } else {
                    elements[i - 1].write(&t)
                }
            }
            t.field(3, i64: Int64(groups.reduce(0) { $0 + $1.rows }))
            t.field(4, list: .structure, count: groups.count) { t, g in writeGroup(&t, groups[g], ordinal: g) }
            let pairs = metadata.sorted { $0.key < $1.key }
            if !pairs.isEmpty {
                t.field(5, list: .structure, count: pairs.count) { t, i in
                    t.structure { t in
                        t.field(1, string: pairs[i].key)
                        t.field(2, string: pairs[i].value)
                    }
                }
            }
            t.field(6, string: "loam version 0.1.0 (build loam)")
            // Every column sorts by its type's own order (unsigned for unsigned integers and byte arrays).
            t.field(7, list: .structure, count: leaves.count) { t, _ in t.structure { t in t.field(1, struct: { _ in }) } }
        }
        try sink.write(t.bytes)
        var length = UInt32(t.bytes.count).littleEndian
        try withUnsafeBytes(of: &length) { try sink.write($0) }
        try sink.write(Array("PAR1".utf8))
        return sink
    }

    private func writeGroup(_ t: inout ThriftWriter, _ g: WrittenGroup, ordinal: Int) {
        t.structure { t in
            t.field(1, list: .structure, count: g.columns.count) { t, c in
                let chunk = g.columns[c]
                let leaf = leaves[chunk.leaf]
                t.structure { t in
                    t.field(2, i64: Int64(chunk.start))
                    t.field(3, struct: { t in
                        t.field(1, i32: leaf.physical.rawValue)
                        t.field(2, list: .i32, count: chunk.encodings.count) { t, i in t.zigzag(Int64(chunk.encodings[i].rawValue)) }
                        t.field(3, list: .binary, count: leaf.path.count) { t, i in
                            let bytes = Array(leaf.path[i].utf8)
                            t.varint(UInt64(bytes.count))
                            t.append(bytes)
                        }
                        t.field(4, i32: codec.rawValue)
                        t.field(5, i64: Int64(chunk.values))
                        t.field(6, i64: Int64(chunk.uncompressed))
                        t.field(7, i64: Int64(chunk.compressed))
                        t.field(9, i64: Int64(chunk.dataPageOffset))
                        if let d = chunk.dictionaryPageOffset { t.field(11, i64: Int64(d)) }
                        t.field(12, struct: { t in
                            t.field(3, i64: Int64(chunk.nulls))
                            if let (low, high) = chunk.bounds {  // max_value, min_value: exact
                                t.field(5, binary: high)
                                t.field(6, binary: low)
                                t.field(7, bool: true)
                                t.field(8, bool: true)
                            }
                        })
                    })
                }
            }
            t.field(2, i64: Int64(g.uncompressed))
            t.field(3, i64: Int64(g.rows))
            t.field(5, i64: Int64(g.start))
            t.field(6, i64: Int64(g.compressed))
            if ordinal <= Int(Int16.max) { t.field(7, i16: Int16(ordinal)) }
        }
    }

    private mutating func flushGroup() throws {
        guard pendingRows > 0 else { return }
        let batches = pending
        let rows = pendingRows
        pending = []
        pendingRows = 0
        pendingBytes = 0
        let start = offset
        var columns: [WrittenChunk] = []
        var leafIndex = 0
        for (c, field) in schema.fields.enumerated() {
            let count = WritePlan.leafCount(field.type)
            var shredders = (0..<count).map { LeafShredder(leaf: leaves[leafIndex + $0]) }
            for (batch, rows) in batches {
                Shredding.shred(batch.columns[c], type: field.type, nullable: field.nullable, leaves: &shredders, rows: rows)
            }
            for (k, shredder) in shredders.enumerated() {
                columns.append(try writeChunk(shredder, leaf: leafIndex + k))
            }
            leafIndex += count
        }
        groups.append(WrittenGroup(columns: columns, rows: rows, start: start, compressed: offset - start,
                                   uncompressed: columns.reduce(0) { $0 + $1.uncompressed }))
    }

    /// One column chunk: a dictionary page (when it pays), then data pages of about 1 MiB, each cut at a row boundary.
    private mutating func writeChunk(_ s: LeafShredder, leaf index: Int) throws -> WrittenChunk {
        let leaf = leaves[index]
        let start = offset
        var compressed = 0, uncompressed = 0
        var encodings: [ParquetEncoding] = [.rle]
        var dictionaryOffset: Int?
        let dictionary = s.dictionary()
        if let dictionary {
            dictionaryOffset = offset
            let (c, u) = try writePage(body: dictionary.plain, header: { t in
                t.field(7, struct: { t in
                    t.field(1, i32: Int32(dictionary.count))
                    t.field(2, i32: ParquetEncoding.plain.rawValue)
                })
            }, type: .dictionaryPage)
            compressed += c
            uncompressed += u
            encodings += [.plain, .rleDictionary]
        } else {
            encodings.append(.plain)
        }
        let dataOffset = offset
        let entries = s.defs.count
        var entry = 0, value = 0
        let pageBytes = 1 << 20
        while entry < entries {
            // Entries up to about a page of values, ending before a repetition level of 0.
            var end = entry, endValue = value, bytes = 0
            while end < entries {
                if end > entry && bytes >= pageBytes && (leaf.maxRep == 0 || s.reps[end] == 0) { break }
                if s.defs[end] == UInt8(leaf.maxDef) {
                    bytes += dictionary != nil ? 4 : s.valueSize(endValue)
                    endValue += 1
                }
                end += 1
            }
            var body: [UInt8] = []
            if leaf.maxRep > 0 { Hybrid.withLength(s.reps[entry..<end], width: ParquetReader.bitWidth(leaf.maxRep), into: &body) }
            if leaf.maxDef > 0 { Hybrid.withLength(s.defs[entry..<end], width: ParquetReader.bitWidth(leaf.maxDef), into: &body) }
            if let dictionary {
                let width = ParquetReader.bitWidth(max(dictionary.count - 1, 1))
                body.append(UInt8(width))
                Hybrid.encode(dictionary.indices[value..<endValue], width: width, into: &body)
            } else {
                s.plain(values: value..<endValue, into: &body)
            }
            let pageEntries = end - entry
            let (c, u) = try writePage(body: body, header: { t in
                t.field(5, struct: { t in
                    t.field(1, i32: Int32(pageEntries))
                    t.field(2, i32: (dictionary != nil ? ParquetEncoding.rleDictionary : .plain).rawValue)
                    t.field(3, i32: ParquetEncoding.rle.rawValue)
                    t.field(4, i32: ParquetEncoding.rle.rawValue)
                })
            }, type: .dataPage)
            compressed += c
            uncompressed += u
            entry = end
            value = endValue
        }
        return WrittenChunk(leaf: index, start: start, dataPageOffset: dataOffset, dictionaryPageOffset: dictionaryOffset,
                            compressed: compressed, uncompressed: uncompressed, values: entries, encodings: encodings,
                            nulls: s.nulls, bounds: s.minMax())
    }

    /// Compresses and writes one page; returns its compressed and uncompressed sizes, header included.
    private mutating func writePage(body: [UInt8], header: (inout ThriftWriter) -> Void, type: ParquetPageType) throws -> (Int, Int) {
        guard body.count <= Int(Int32.max) else {
            throw FormatError.unsupportedParquet("a page of \(body.count) bytes (one value over 2 GiB?) is past Parquet's 2 GiB page size; export such a column as Arrow")
        }
        let packed = try body.withUnsafeBytes { try codec.compress($0) }
        var t = ThriftWriter()
        t.structure { t in
            t.field(1, i32: type.rawValue)
            t.field(2, i32: Int32(body.count))
            t.field(3, i32: Int32(packed.count))
            header(&t)
        }
        try sink.write(t.bytes)
        try sink.write(packed)
        offset += t.bytes.count + packed.count
        return (t.bytes.count + packed.count, t.bytes.count + body.count)
    }
}
