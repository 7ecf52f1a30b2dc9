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
    let batchOffsets: [Int]
    /// How each field lies in the file, when Loam stores it as another type (`Wire`).
    let wires: [Wire]
    /// The dictionaries in force for each record batch (files: the same for all; streams: as of that batch).
    let batchDictionaries: [[Int64: ArrowArray]]
    /// The data's numbers are big-endian (the file says so); they are swapped as they are read.
    let bigEndian: Bool

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
        let layout = bytes.count >= 6 && Array(bytes.prefix(6)) == magic ? try Self.openFile(bytes) : try Self.openStream(bytes)
        (schema, wires, batchOffsets, bigEndian) = (layout.schema, layout.wires, layout.batches, layout.bigEndian)
        // Dictionary batches, in order: each defines (or, as a delta, extends) one dictionary.
        var values: [Int64: (Field, Wire)] = [:]
        func collect(_ wire: Wire) {
            switch wire {
            case .dictionary(let id, _, _, let field, let valueWire): values[id] = (field, valueWire); collect(valueWire)
            case .children(let wires): wires.forEach(collect)
            case .converted(_, .largeList(let w)), .converted(_, .listView(_, let w)), .converted(_, .runEnds(_, _, let w)): collect(w)
            default: break
            }
        }
        layout.wires.forEach(collect)
        var current: [Int64: ArrowArray] = [:]
        var perBatch: [[Int64: ArrowArray]] = []
        for event in layout.events {
            guard let position = event else { perBatch.append(current); continue }
            guard let message = try Self.readMessage(bytes, at: position), let header = try message.message.table(slot: 2),
                  let batch = try header.table(slot: 1) else { throw FormatError.malformed("dictionary batch at byte \(position) is malformed") }
            let id: Int64 = try header.scalar(slot: 0, default: 0)
            let delta = try header.bool(slot: 2)
            guard let (field, wire) = values[id] else { throw FormatError.malformed("dictionary batch at byte \(position) has id \(id), which no field uses") }
            var decoder = try Self.decoder(for: batch, message: message, data: data, what: "dictionary \(id)")
            decoder.dictionaries = current
            decoder.bigEndian = layout.bigEndian
            decoder.maxNodeLength = 8 * (message.bodyLength + 1)  // (dictionaries are decoded at open: always bounded)
            let array = try decoder.array(field, wire: wire)
            if delta, let old = current[id] {
                current[id] = ArrowArray.gather(from: [old, array], (0..<old.length).map { (0, $0) } + (0..<array.length).map { (1, $0) })
            } else {
                current[id] = array
            }
        }
        batchDictionaries = perBatch
    }

    /// Where a file's or stream's messages lie: the schema, the record batches, and the order of dictionary and record batches.
    private struct Layout {
        var schema: Schema
        var wires: [Wire]
        var bigEndian: Bool
        var batches: [Int]
        /// In order: a dictionary batch's position, or nil for a record batch.
        var events: [Int?]
    }

    /// A decoder over one record batch (of a record-batch or dictionary message), with its compression.
    private static func decoder(for header: FlatBufferTable, message: Message, data: ByteView, what: String) throws -> BatchDecoder {
        var codec: Codec?
        if let compression = try header.table(slot: 3) {
            let type: Int8 = try compression.scalar(slot: 0, default: 0)
            let method: Int8 = try compression.scalar(slot: 1, default: 0)
            guard method == 0, type == 0 || type == 1 else {
                throw FormatError.unsupported("\(what) uses compression type \(type), method \(method); Loam reads LZ4_FRAME and ZSTD buffers")
            }
            codec = type == 1 ? .zstd : .lz4Frame
        }
        guard let nodes = try header.vector(slot: 1, elementSize: 16),
              let buffers = try header.vector(slot: 2, elementSize: 16) else {
            throw FormatError.malformed("\(what) lacks nodes or buffers")
        }
        var decoder = BatchDecoder(header: header, nodes: nodes, buffers: buffers, data: data,
                                   bodyStart: message.bodyStart, bodyLength: message.bodyLength)
        decoder.codec = codec
        if let (start, count) = try header.vector(slot: 4, elementSize: 8) {
            decoder.variadicCounts = try (0..<count).map { Int(try header.int64(at: start + 8 * $0)) }
        }
        return decoder
    }

    private static func openFile(_ bytes: UnsafeRawBufferPointer) throws -> Layout {
        guard bytes.count >= 8 + 10, Array(bytes.suffix(6)) == Array("ARROW1".utf8) else {
            throw FormatError.malformed("file starts with ARROW1 but does not end with it (truncated?)")
        }
        let footerLength = Int(try FlatBufferTable.read(bytes, bytes.count - 10, as: Int32.self))
        let footerStart = bytes.count - 10 - footerLength
        guard footerLength > 0, footerStart >= 8 else { throw FormatError.malformed("footer length \(footerLength) is out of range") }
        let footerBytes = UnsafeRawBufferPointer(rebasing: bytes[footerStart..<(bytes.count - 10)])
        let footer = try FlatBufferTable.root(of: footerBytes)
        guard let schemaTable = try footer.table(slot: 1) else { throw FormatError.malformed("footer has no schema") }
        let (schema, wires, bigEndian) = try IPCSchema.decodeWithWire(schemaTable)
        func blocks(_ slot: Int, _ what: String) throws -> [Int] {
            guard let (start, count) = try footer.vector(slot: slot, elementSize: 24) else { return [] }
            return try (0..<count).map { i in
                let offset = Int(try footer.int64(at: start + 24 * i))
                guard offset >= 8, offset < footerStart else { throw FormatError.malformed("\(what) block \(i) points outside the file") }
                return offset
            }
        }
        let dictionaries = try blocks(2, "dictionary batch"), offsets = try blocks(3, "record batch")
        // A file's dictionaries (deltas included) all apply to every batch.
        return Layout(schema: schema, wires: wires, bigEndian: bigEndian, batches: offsets,
                      events: dictionaries.map { $0 } + offsets.map { _ in nil })
    }

    private static func openStream(_ bytes: UnsafeRawBufferPointer) throws -> Layout {
        var position = 0
        guard let first = try readMessage(bytes, at: position) else { throw FormatError.malformed("stream is empty") }
        guard first.headerType == 1, let header = try first.message.table(slot: 2) else {
            throw FormatError.malformed("stream does not start with a schema message")
        }
        let (schema, wires, bigEndian) = try IPCSchema.decodeWithWire(header)
        position = first.end
        var offsets: [Int] = []
        /// In order: a dictionary batch's position, or nil for a record batch.
        var events: [Int?] = []
        while let message = try readMessage(bytes, at: position) {
            switch message.headerType {
            case 3: offsets.append(position); events.append(nil)
            case 2: events.append(position)
            default: throw FormatError.malformed("unexpected message type \(message.headerType) at byte \(position)")
            }
            position = message.end
        }
        return Layout(schema: schema, wires: wires, bigEndian: bigEndian, batches: offsets, events: events)
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
        let length = Int(try header.scalar(slot: 0, default: Int64(0)))
        if let perByte = maxRowsPerBodyByte {
            let (allowed, overflow) = perByte.multipliedReportingOverflow(by: message.bodyLength + 1)
            guard length >= 0, overflow || length <= allowed else {
                throw FormatError.malformed("record batch \(index) claims \(length) rows in a \(message.bodyLength)-byte body "
                    + "(more than \(perByte) rows per byte; raise the bound with --max-rows-per-byte if the file is genuine)")
            }
        }
        var decoder = try Self.decoder(for: header, message: message, data: data, what: "record batch \(index)")
        decoder.dictionaries = batchDictionaries[index]
        decoder.bigEndian = bigEndian
        decoder.maxNodeLength = maxRowsPerBodyByte.map { $0.multipliedReportingOverflow(by: message.bodyLength + 1).partialValue }
        let wantedSet = Set(wanted)
        var decoded: [Int: ArrowArray] = [:]
        for (i, field) in schema.fields.enumerated() {
            let column = try decoder.array(field, wire: wires[i], validate: wantedSet.contains(i))
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
struct BatchDecoder {
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
    /// The dictionaries in force for this batch, by id.
    var dictionaries: [Int64: ArrowArray] = [:]
    /// How many data buffers each view column carries (the record batch's variadicBufferCounts), in column order.
    var variadicCounts: [Int] = []
    var variadicIndex = 0
    /// Numbers in the buffers are big-endian: `native` swaps each as a buffer is read.
    var bigEndian = false
    /// The most values any node may claim (set from `IPCReader.maxRowsPerBodyByte`), nil for no bound.
    var maxNodeLength: Int?

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
        // A few bytes may not claim gigabytes (the allocation comes before the codec can disagree): at most
        // 64 MiB, or 4096 times the compressed bytes.
        guard raw <= max(Int64(64 << 20), 4096 * Int64(length)) else {
            throw FormatError.unsupported("a compressed buffer of column '\(field)' claims \(raw) bytes from \(length) (more than 4096:1 past 64 MiB); "
                + "write the file with smaller batches or without compression")
        }
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

    /// `view` with each `width`-byte number in native (little-endian) order: a swapped copy when the data is big-endian.
    func native(_ view: ByteView, width: Int) -> ByteView {
        guard bigEndian, width > 1, view.count >= width else { return view }
        let count = view.count / width * width
        let storage = ByteStorage.filling(count) { out in
            let from = view.pointer.assumingMemoryBound(to: UInt8.self), to = out.assumingMemoryBound(to: UInt8.self)
            var i = 0
            while i < count {
                for b in 0..<width { to[i + b] = from[i + width - 1 - b] }
                i += width
            }
        }
        return ByteView(storage: storage)
    }

    /// The next field node: (length, null count), bounded so no size computed from them can overflow.
    mutating func node(_ field: Field) throws -> (Int, Int) {
        guard nodeIndex < nodes.count else { throw FormatError.malformed("column '\(field.name)' has no field node") }
        let at = nodes.start + 16 * nodeIndex
        nodeIndex += 1
        let length = Int(try header.int64(at: at))
        let nullCount = Int(try header.int64(at: at + 8))
        guard length >= 0, length <= 1 << 40, nullCount >= 0, nullCount <= length else {
            throw FormatError.malformed("column '\(field.name)' has length \(length) and null count \(nullCount)")
        }
        if let maxNodeLength, length > maxNodeLength {  // a nested or zero-width node claiming more values than its body can hold
            throw FormatError.malformed("column '\(field.name)' claims \(length) values in a \(bodyLength)-byte body")
        }
        return (length, nullCount)
    }

    /// With `validate` false the array is only walked (nodes and buffers
    /// consumed, bounds checked) and must not be read.
    mutating func array(_ field: Field, wire: Wire = .direct, validate: Bool = true) throws -> ArrowArray {
        switch wire {
        case .direct, .converted(_, .same): return try stored(field, childWires: nil, validate: validate)
        case .children(let wires): return try stored(field, childWires: wires, validate: validate)
        case .converted(_, let how): return try converted(field, how, validate: validate)
        case .dictionary(let id, let indexBytes, let signed, _, _):
            return try dictionaryColumn(field, id: id, indexBytes: indexBytes, signed: signed, validate: validate)
        }
    }

    /// A column in the layout of the type Loam stores it as.
    mutating func stored(_ field: Field, childWires: [Wire]?, validate: Bool) throws -> ArrowArray {
        let (length, nullCount) = try node(field)
        var views: [ByteView] = []
        for _ in 0..<field.type.bufferCount { views.append(try nextBuffer(field.name)) }
        if bigEndian, views.count > 1 {
            switch field.type {
            case .utf8, .binary, .list: views[1] = native(views[1], width: 4)
            case .largeUtf8, .largeBinary: views[1] = native(views[1], width: 8)
            default: if let width = field.type.byteWidth { views[1] = native(views[1], width: width) }
            }
        }
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
                let child = try array(item, wire: childWires?.first ?? .direct, validate: validate)
                guard child.length >= previous else {
                    throw FormatError.malformed("list column '\(field.name)' points past its \(child.length) items")
                }
                children = [child]
            } else {
                try need(views[2], previous, "data")
            }
        case .fixedSizeList(let item, let size):
            let child = try array(item, wire: childWires?.first ?? .direct, validate: validate)
            let (items, overflow) = length.multipliedReportingOverflow(by: size)
            guard !overflow, child.length >= items else {
                throw FormatError.malformed("fixed_size_list column '\(field.name)' has \(child.length) items for \(length) rows of \(size)")
            }
            children = [child]
        case .structType(let fields):
            children = try fields.enumerated().map { i, child in try array(child, wire: childWires?[i] ?? .direct, validate: validate) }
            guard children.allSatisfy({ $0.length >= length }) else {
                throw FormatError.malformed("struct column '\(field.name)' has a child shorter than itself")
            }
        default:
            try need(views[1], length * (field.type.byteWidth ?? 0), "value")
        }
        return ArrowArray(type: field.type, length: length, nullCount: nullCount, buffers: views, children: children)
    }
}
