/// Reads Arrow IPC files and streams without copying: arrays point into the
/// given bytes (usually a memory-mapped file). Every offset and length is
/// checked, so corrupt input is an error, not a crash.
///
/// ```swift
/// let reader = try IPCReader(data: ByteView(storage: try ByteStorage.map(path: "data.arrow")))
/// for i in 0..<reader.batchCount { let batch = try reader.batch(i) }
/// ```
public struct IPCReader: Sendable {
    public let schema: Schema
    public let data: ByteView
    /// File offsets of the record-batch messages.
    private let batchOffsets: [Int]

    public var batchCount: Int { batchOffsets.count }

    /// When set, a record batch may declare at most this many rows per byte of its body
    /// (plus one byte's worth), so a few bytes cannot claim billions of rows of a zero-width
    /// column (`fixed_size_list<…, 0>`, `struct<>`). Every column with data takes at least a
    /// bit per row, so 8 refuses no real file; imports set it, Loam's own fragments need not.
    public var maxRowsPerBodyByte: Int?

    public init(data: ByteView) throws {
        self.data = data
        let bytes = data.buffer
        let magic: [UInt8] = Array("ARROW1".utf8)
        if bytes.count >= 6, Array(bytes.prefix(6)) == magic {
            (schema, batchOffsets) = try Self.openFile(bytes)
        } else {
            (schema, batchOffsets) = try Self.openStream(bytes)
        }
    }

    private static func openFile(_ bytes: UnsafeRawBufferPointer) throws -> (Schema, [Int]) {
        guard bytes.count >= 8 + 10, Array(bytes.suffix(6)) == Array("ARROW1".utf8) else {
            throw FormatError.malformed("file starts with ARROW1 but does not end with it (truncated?)")
        }
        let footerLength = Int(try FlatBufferTable.read(bytes, bytes.count - 10, as: Int32.self))
        let footerStart = bytes.count - 10 - footerLength
        guard footerLength > 0, footerStart >= 8 else { throw FormatError.malformed("footer length \(footerLength) is out of range") }
        let footerBytes = UnsafeRawBufferPointer(rebasing: bytes[footerStart..<(bytes.count - 10)])
        let footer = try FlatBufferTable.root(of: footerBytes)
        guard let schemaTable = try footer.table(slot: 1) else { throw FormatError.malformed("footer has no schema") }
        let schema = try IPCSchema.decode(schemaTable)
        if let (_, count) = try footer.vector(slot: 2, elementSize: 24), count > 0 {
            throw FormatError.unsupported("the file holds dictionary batches; decode dictionary columns before importing")
        }
        var offsets: [Int] = []
        if let (start, count) = try footer.vector(slot: 3, elementSize: 24) {
            for i in 0..<count {
                let offset = Int(try footer.int64(at: start + 24 * i))
                guard offset >= 8, offset < footerStart else { throw FormatError.malformed("record batch block \(i) points outside the file") }
                offsets.append(offset)
            }
        }
        return (schema, offsets)
    }

    private static func openStream(_ bytes: UnsafeRawBufferPointer) throws -> (Schema, [Int]) {
        var position = 0
        guard let first = try readMessage(bytes, at: position) else { throw FormatError.malformed("stream is empty") }
        guard first.headerType == 1, let header = try first.message.table(slot: 2) else {
            throw FormatError.malformed("stream does not start with a schema message")
        }
        let schema = try IPCSchema.decode(header)
        position = first.end
        var offsets: [Int] = []
        while let message = try readMessage(bytes, at: position) {
            switch message.headerType {
            case 3: offsets.append(position)
            case 2: throw FormatError.unsupported("the stream holds dictionary batches; decode dictionary columns before importing")
            default: throw FormatError.malformed("unexpected message type \(message.headerType) at byte \(position)")
            }
            position = message.end
        }
        return (schema, offsets)
    }

    struct Message {
        let message: FlatBufferTable
        let headerType: UInt8
        let bodyStart: Int
        let bodyLength: Int
        var end: Int { bodyStart + bodyLength }
    }

    /// Reads the encapsulated message at `position`; nil at end-of-stream.
    static func readMessage(_ bytes: UnsafeRawBufferPointer, at position: Int) throws -> Message? {
        if position == bytes.count { return nil }
        var cursor = position
        var length = try FlatBufferTable.read(bytes, cursor, as: Int32.self)
        cursor += 4
        if length == -1 {  // continuation marker, then the real length
            length = try FlatBufferTable.read(bytes, cursor, as: Int32.self)
            cursor += 4
        }
        if length == 0 { return nil }
        guard length > 0, cursor + Int(length) <= bytes.count else {
            throw FormatError.malformed("message at byte \(position) has metadata length \(length), past the end of the data")
        }
        let metadata = UnsafeRawBufferPointer(rebasing: bytes[cursor..<(cursor + Int(length))])
        let message = try FlatBufferTable.root(of: metadata)
        let headerType: UInt8 = try message.scalar(slot: 1, default: 0)
        let bodyLength = Int(try message.scalar(slot: 3, default: Int64(0)))
        let bodyStart = cursor + Int(length)
        guard bodyLength >= 0, bodyLength <= bytes.count - bodyStart else {
            throw FormatError.malformed("message at byte \(position) has a \(bodyLength)-byte body, past the end of the data")
        }
        return Message(message: message, headerType: headerType, bodyStart: bodyStart, bodyLength: bodyLength)
    }

    /// Record batch `index`, with arrays pointing into `data`.
    public func batch(_ index: Int) throws -> RecordBatch {
        try batch(index, columns: Array(schema.fields.indices))
    }

    /// Only the columns at `columns` (in that order) of record batch `index`.
    /// The others are skipped unchecked, so reading a few columns of a wide
    /// batch costs what those columns cost.
    public func batch(_ index: Int, columns wanted: [Int]) throws -> RecordBatch {
        let bytes = data.buffer
        guard let message = try Self.readMessage(bytes, at: batchOffsets[index]), message.headerType == 3,
              let header = try message.message.table(slot: 2) else {
            throw FormatError.malformed("record batch \(index) is not a record batch message")
        }
        var codec: Codec?
        if let compression = try header.table(slot: 3) {
            let type: Int8 = try compression.scalar(slot: 0, default: 0)
            let method: Int8 = try compression.scalar(slot: 1, default: 0)
            guard method == 0, type == 0 || type == 1 else {
                throw FormatError.unsupported("record batch \(index) uses compression type \(type), method \(method); Loam reads LZ4_FRAME and ZSTD buffers")
            }
            codec = type == 1 ? .zstd : .lz4Frame
        }
        let length = Int(try header.scalar(slot: 0, default: Int64(0)))
        if let perByte = maxRowsPerBodyByte {
            let (allowed, overflow) = perByte.multipliedReportingOverflow(by: message.bodyLength + 1)
            guard length >= 0, overflow || length <= allowed else {
                throw FormatError.malformed("record batch \(index) claims \(length) rows in a \(message.bodyLength)-byte body "
                    + "(more than \(perByte) rows per byte; raise the bound with --max-rows-per-byte if the file is genuine)")
            }
        }
        guard let nodes = try header.vector(slot: 1, elementSize: 16),
              let buffers = try header.vector(slot: 2, elementSize: 16) else {
            throw FormatError.malformed("record batch \(index) lacks nodes or buffers")
        }
        var decoder = BatchDecoder(header: header, nodes: nodes, buffers: buffers, data: data,
                                   bodyStart: message.bodyStart, bodyLength: message.bodyLength)
        decoder.codec = codec
        let wantedSet = Set(wanted)
        var decoded: [Int: ArrowArray] = [:]
        for (i, field) in schema.fields.enumerated() {
            let column = try decoder.array(field, validate: wantedSet.contains(i))
            guard wantedSet.contains(i) else { continue }  // walked for its buffers' positions, never returned
            guard column.length == length else {
                throw FormatError.malformed("column '\(field.name)' has \(column.length) rows in a \(length)-row batch")
            }
            decoded[i] = column
        }
        return RecordBatch(schema: Schema(fields: wanted.map { schema.fields[$0] }, metadata: schema.metadata),
                           columns: wanted.map { decoded[$0]! }, length: length)
    }

    public func batches() throws -> [RecordBatch] { try (0..<batchCount).map(batch) }
}

/// Walks a record batch's nodes and buffers in pre-order, checking each against the body.
private struct BatchDecoder {
    let header: FlatBufferTable
    let nodes: (start: Int, count: Int)
    let buffers: (start: Int, count: Int)
    let data: ByteView
    let bodyStart: Int
    let bodyLength: Int
    var nodeIndex = 0
    var bufferIndex = 0
    /// Body compression: each non-empty buffer is an 8-byte uncompressed length (-1: stored as is) and the codec's bytes.
    var codec: Codec?

    init(header: FlatBufferTable, nodes: (start: Int, count: Int), buffers: (start: Int, count: Int),
         data: ByteView, bodyStart: Int, bodyLength: Int) {
        self.header = header
        self.nodes = nodes
        self.buffers = buffers
        self.data = data
        self.bodyStart = bodyStart
        self.bodyLength = bodyLength
    }

    mutating func nextBuffer(_ field: String) throws -> ByteView {
        guard bufferIndex < buffers.count else { throw FormatError.malformed("column '\(field)' needs more buffers than the batch lists") }
        let at = buffers.start + 16 * bufferIndex
        bufferIndex += 1
        let offset = Int(try header.int64(at: at))
        let length = Int(try header.int64(at: at + 8))
        guard offset >= 0, length >= 0, offset <= bodyLength, length <= bodyLength - offset else {
            throw FormatError.malformed("a buffer of column '\(field)' lies outside the message body")
        }
        let view = data.slice(bodyStart + offset, length)
        guard let codec, length > 0 else { return view }
        guard length >= 8 else { throw FormatError.malformed("a compressed buffer of column '\(field)' is \(length) bytes, too short for its length prefix") }
        let raw = Int64(littleEndian: view.pointer.loadUnaligned(as: Int64.self))
        if raw == -1 { return view.slice(8, length - 8) }
        guard raw >= 0, raw <= 1 << 34 else { throw FormatError.malformed("a compressed buffer of column '\(field)' declares \(raw) bytes") }
        let packed = UnsafeRawBufferPointer(rebasing: view.buffer[8...])
        do {
            let storage = try ByteStorage.filling(Int(raw)) { out in
                try codec.decompress(packed, into: UnsafeMutableRawBufferPointer(start: out, count: Int(raw)))
            }
            return ByteView(storage: storage)
        } catch let error as FormatError {
            throw FormatError.malformed("a buffer of column '\(field)': \(error)")
        }
    }

    /// With `validate` false the array is only walked (nodes and buffers
    /// consumed, bounds checked) and must not be read.
    mutating func array(_ field: Field, validate: Bool = true) throws -> ArrowArray {
        guard nodeIndex < nodes.count else { throw FormatError.malformed("column '\(field.name)' has no field node") }
        let at = nodes.start + 16 * nodeIndex
        nodeIndex += 1
        let length = Int(try header.int64(at: at))
        let nullCount = Int(try header.int64(at: at + 8))
        // Lengths come from the file: bound them so no size computed from them can overflow.
        guard length >= 0, length <= 1 << 40, nullCount >= 0, nullCount <= length else {
            throw FormatError.malformed("column '\(field.name)' has length \(length) and null count \(nullCount)")
        }
        var views: [ByteView] = []
        for _ in 0..<field.type.bufferCount { views.append(try nextBuffer(field.name)) }
        let bitmapBytes = (length + 7) / 8
        func need(_ view: ByteView, _ bytes: Int, _ what: String) throws {
            guard view.count >= bytes else {
                throw FormatError.malformed("column '\(field.name)': \(what) buffer has \(view.count) bytes, needs \(bytes)")
            }
        }
        if nullCount > 0 { try need(views[0], bitmapBytes, "validity") }
        var children: [ArrowArray] = []
        switch field.type {
        case .bool:
            try need(views[1], bitmapBytes, "value")
        case .utf8, .binary, .largeUtf8, .largeBinary, .list:
            let wide = field.type == .largeUtf8 || field.type == .largeBinary
            let width = wide ? 8 : 4
            try need(views[1], length == 0 ? 0 : (length + 1) * width, "offset")
            var previous = 0
            for i in 0..<(length == 0 || !validate ? 0 : length + 1) {
                let value = wide ? Int(views[1].load(i, as: Int64.self)) : Int(views[1].load(i, as: Int32.self))
                guard value >= previous || i == 0, value >= 0 else {
                    throw FormatError.malformed("column '\(field.name)' has decreasing offsets at row \(i)")
                }
                previous = value
            }
            if length == 0 { views[1] = ByteView(copying: [0, 0, 0, 0, 0, 0, 0, 0]) }
            if case .list(let item) = field.type {
                let child = try array(item, validate: validate)
                guard child.length >= previous else {
                    throw FormatError.malformed("list column '\(field.name)' points past its \(child.length) items")
                }
                children = [child]
            } else {
                try need(views[2], previous, "data")
            }
        case .fixedSizeList(let item, let size):
            let child = try array(item, validate: validate)
            let (items, overflow) = length.multipliedReportingOverflow(by: size)
            guard !overflow, child.length >= items else {
                throw FormatError.malformed("fixed_size_list column '\(field.name)' has \(child.length) items for \(length) rows of \(size)")
            }
            children = [child]
        case .structType(let fields):
            children = try fields.map { try array($0, validate: validate) }
            guard children.allSatisfy({ $0.length >= length }) else {
                throw FormatError.malformed("struct column '\(field.name)' has a child shorter than itself")
            }
        default:
            try need(views[1], length * (field.type.byteWidth ?? 0), "value")
        }
        return ArrowArray(type: field.type, length: length, nullCount: nullCount, buffers: views, children: children)
    }
}
