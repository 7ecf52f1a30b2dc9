/// Writes the Arrow IPC file format (`ARROW1` magic, messages, footer) or the
/// stream format, with every buffer on an 8-byte boundary; uncompressed unless
/// `compression` names ZSTD or LZ4_FRAME (Arrow's per-buffer body compression).
///
/// ```swift
/// var sink = MemorySink()
/// var writer = try IPCWriter(schema: schema, format: .file, sink: sink)
/// try writer.write(batch)
/// sink = try writer.finish()      // sink.bytes opens in pyarrow.ipc.open_file
/// ```
public struct IPCWriter<Sink: ByteSink> {
    public enum Format: Sendable { case file, stream }

    static var magic: [UInt8] { Array("ARROW1".utf8) }

    public let schema: Schema
    public let format: Format
    private var sink: Sink
    private var position = 0
    private var blocks: [(offset: Int64, metaLength: Int32, bodyLength: Int64)] = []
    /// `.zstd` or `.lz4Frame`: each buffer is written as its 8-byte uncompressed length and the compressed bytes.
    public var compression: Codec? = nil

    public init(schema: Schema, format: Format, sink: Sink) throws {
        self.schema = schema
        self.format = format
        self.sink = sink
        if format == .file { try emit(Self.magic + [0, 0]) }
        var b = FlatBufferBuilder()
        let schemaTable = IPCSchema.encode(schema, into: &b)
        _ = try writeMessage(&b, headerType: 1, header: schemaTable, bodyLength: 0)
    }

    private mutating func emit(_ bytes: [UInt8]) throws {
        try sink.write(bytes)
        position += bytes.count
    }

    private mutating func emit(_ view: ByteView, length: Int) throws {
        try sink.write(UnsafeRawBufferPointer(rebasing: view.buffer.prefix(length)))
        position += length
    }

    /// Writes the encapsulated message (continuation, length, flatbuffer, padding) and returns its block.
    private mutating func writeMessage(_ b: inout FlatBufferBuilder, headerType: UInt8, header: FlatBufferBuilder.Offset,
                                       bodyLength: Int) throws -> (Int64, Int32) {
        b.startTable()
        b.add(slot: 0, Int16(4))  // MetadataVersion.V5
        b.add(slot: 1, headerType)
        b.addOffset(slot: 2, header)
        b.add(slot: 3, Int64(bodyLength))
        let message = b.endTable()
        let metadata = b.finish(message)
        let padded = (metadata.count + 8 + 7) / 8 * 8 - 8
        let start = Int64(position)
        var prefix: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
        withUnsafeBytes(of: Int32(padded).littleEndian) { prefix.append(contentsOf: $0) }
        try emit(prefix)
        try emit(metadata)
        try emit([UInt8](repeating: 0, count: padded - metadata.count))
        return (start, Int32(8 + padded))
    }

    public mutating func write(_ batch: RecordBatch) throws {
        guard batch.columns.count == schema.fields.count else {
            throw FormatError.typeMismatch("record batch has \(batch.columns.count) columns, schema has \(schema.fields.count)")
        }
        var nodes: [[(value: Int64, width: Int)]] = []
        var buffers: [(view: ByteView, length: Int)] = []
        let codec = compression
        func collect(_ array: ArrowArray) throws {
            nodes.append([(Int64(array.length), 8), (Int64(array.nullCount), 8)])
            for (i, buffer) in array.buffers.enumerated() {
                // A validity bitmap is optional when nothing is null.
                let length = (i == 0 && array.nullCount == 0) ? 0 : buffer.count
                if let codec, length > 0 {
                    var framed: [UInt8] = []
                    withUnsafeBytes(of: Int64(length).littleEndian) { framed.append(contentsOf: $0) }
                    framed += try codec.compress(UnsafeRawBufferPointer(rebasing: buffer.buffer.prefix(length)))
                    buffers.append((ByteView(copying: framed), framed.count))
                } else {
                    buffers.append((buffer, length))
                }
            }
            try array.children.forEach(collect)
        }
        for (column, field) in zip(batch.columns, schema.fields) {
            guard column.length == batch.length else {
                throw FormatError.typeMismatch("column '\(field.name)' has \(column.length) rows, the batch has \(batch.length)")
            }
            try collect(column)
        }
        var offset = 0
        var layout: [[(value: Int64, width: Int)]] = []
        for buffer in buffers {
            layout.append([(Int64(offset), 8), (Int64(buffer.length), 8)])
            offset += (buffer.length + 7) / 8 * 8
        }
        let bodyLength = offset

        var b = FlatBufferBuilder()
        let nodesVector = b.createStructVector(nodes, structSize: 16)
        let buffersVector = b.createStructVector(layout, structSize: 16)
        var bodyCompression: FlatBufferBuilder.Offset?
        if let codec {
            b.startTable()
            b.add(slot: 0, Int8(codec == .zstd ? 1 : 0))  // CompressionType: LZ4_FRAME = 0, ZSTD = 1; method BUFFER (0) by default
            bodyCompression = b.endTable()
        }
        b.startTable()
        b.add(slot: 0, Int64(batch.length))
        b.addOffset(slot: 1, nodesVector)
        b.addOffset(slot: 2, buffersVector)
        if let bodyCompression { b.addOffset(slot: 3, bodyCompression) }
        let header = b.endTable()
        let (start, metaLength) = try writeMessage(&b, headerType: 3, header: header, bodyLength: bodyLength)
        for buffer in buffers {
            try emit(buffer.view, length: buffer.length)
            try emit([UInt8](repeating: 0, count: (8 - buffer.length % 8) % 8))
        }
        blocks.append((start, metaLength, Int64(bodyLength)))
    }

    /// Writes the end-of-stream marker (and for files the footer) and returns the sink.
    public mutating func finish() throws -> Sink {
        try emit([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
        if format == .file {
            var b = FlatBufferBuilder()
            let schemaTable = IPCSchema.encode(schema, into: &b)
            let dictionaries = b.createStructVector([], structSize: 24)
            let batches = b.createStructVector(blocks.map { [($0.offset, 8), (Int64($0.metaLength), 4), ($0.bodyLength, 8)] },
                                               structSize: 24)
            b.startTable()
            b.add(slot: 0, Int16(4))
            b.addOffset(slot: 1, schemaTable)
            b.addOffset(slot: 2, dictionaries)
            b.addOffset(slot: 3, batches)
            let footer = b.finish(b.endTable())
            try emit(footer)
            var tail: [UInt8] = []
            withUnsafeBytes(of: Int32(footer.count).littleEndian) { tail.append(contentsOf: $0) }
            try emit(tail + Self.magic)
        }
        return sink
    }
}

extension IPCWriter where Sink == MemorySink {
    /// The bytes of an Arrow IPC file or stream holding `batches`.
    public static func bytes(schema: Schema, batches: [RecordBatch], format: Format = .file) throws -> [UInt8] {
        var writer = try IPCWriter(schema: schema, format: format, sink: MemorySink())
        for batch in batches { try writer.write(batch) }
        return try writer.finish().bytes
    }
}
