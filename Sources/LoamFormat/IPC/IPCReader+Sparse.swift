import Foundation

extension IPCReader {
    /// Where a file of one record batch lies: the offset where the batch's body begins (the bytes before it
    /// hold the magic, the schema and the batch's metadata), then the offset where each top-level column's
    /// buffers end, in file order — column `i` is bytes `spans[i]..<spans[i + 1]`. Nil for a file this cannot
    /// describe so (a stream, several batches, dictionaries, types converted as they are read).
    public func columnSpans() -> [Int]? {
        guard batchCount == 1, batchDictionaries.first?.isEmpty ?? true,
              let counts = Self.bufferCounts(schema, wires),
              let message = try? Self.readMessage(data.buffer, at: batchOffsets[0]), message.headerType == 3,
              let header = try? message.message.table(slot: 2),
              let (start, count) = try? header.vector(slot: 2, elementSize: 16), count == counts.reduce(0, +) else { return nil }
        guard (try? header.int64(at: start)) == 0 else { return nil }  // column 0 begins the body
        var spans = [message.bodyStart], index = 0
        for n in counts.dropLast() {  // where each column ends: where the next one's first buffer begins
            index += n
            guard let offset = try? header.int64(at: start + 16 * index) else { return nil }
            spans.append(message.bodyStart + Int(offset))
        }
        spans.append(message.end)
        guard zip(spans, spans.dropFirst()).allSatisfy({ $0 <= $1 }) else { return nil }
        return spans
    }

    /// How many buffers each top-level field spans in a batch's body (pre-order); nil when a field is not
    /// stored in its own layout.
    static func bufferCounts(_ schema: Schema, _ wires: [Wire]) -> [Int]? {
        func count(_ field: Field, _ wire: Wire) -> Int? {
            let childWires: [Wire]
            switch wire {
            case .direct, .converted(_, .same): childWires = field.type.children.map { _ in .direct }
            case .children(let ws): childWires = ws
            default: return nil
            }
            var total = field.type.bufferCount
            for (child, w) in zip(field.type.children, childWires) {
                guard let n = count(child, w) else { return nil }
                total += n
            }
            return total
        }
        var counts: [Int] = []
        for (field, wire) in zip(schema.fields, wires) {
            guard let n = count(field, wire) else { return nil }
            counts.append(n)
        }
        return counts
    }

    /// A reader over some top-level columns of an Arrow IPC file of `size` bytes kept elsewhere (object
    /// storage), fetching only what they need into a zero-filled image of the file that the reader reads as
    /// usual; the other columns' bytes are never fetched (they decode as zeros, unvalidated, and
    /// `batch(_:columns:)` drops them). With the file's `columnSpans` (kept in the manifest), one round of
    /// ranged reads: the bytes before the body and the wanted columns (ranges less than `gap` apart fetched as
    /// one). Without them, two: the first and last `tail` bytes (schema, footer, usually the batch's
    /// metadata), then the wanted columns' buffers.
    ///
    /// Nil when reading in part would not pay or cannot be done — a file under four tails, wanted columns
    /// making up half the body or more, dictionaries, converted types, a footer longer than `tail` — so the
    /// caller reads the file whole (and any corruption is reported there).
    ///
    /// ```swift
    /// let reader = try await IPCReader.sparse(size: entry.bytes, spans: entry.layout, columns: [0, 3]) { try await store.read(id, range: $0) }
    /// ```
    public static func sparse(size: Int, spans: [Int]? = nil, columns wanted: [Int], tail: Int = 64 << 10, gap: Int = 256 << 10,
                              fetch: @escaping @Sendable (Range<Int>) async throws -> ByteView) async throws -> IPCReader? {
        guard size > 4 * tail else { return nil }  // small: one GET costs less than several
        if let spans, spans.count >= 2, spans.last! <= size - 10, wanted.allSatisfy({ $0 >= 0 && $0 < spans.count - 1 }) {
            let pieces = wanted.map { spans[$0]..<spans[$0 + 1] }
            guard pieces.reduce(0, { $0 + $1.count }) * 2 < spans.last! - spans[0] else { return nil }
            let image = Image(size: spans.last!)
            try await image.fill(merged([0..<spans[0]] + pieces, gap: gap), fetch)
            // Bytes 8 up to the body's end are an Arrow stream (the schema message, the batch's): read as one.
            if let reader = try? IPCReader(data: ByteView(storage: image.storage, offset: 8, count: spans.last! - 8)),
               reader.schema.fields.count == spans.count - 1 { return reader }
        }
        let image = Image(size: size)
        try await image.fill([0..<tail, (size - tail)..<size], fetch)
        let bytes = UnsafeRawBufferPointer(image.bytes)
        guard Array(bytes[(size - 6)...]) == Array("ARROW1".utf8) else { return nil }
        let footerLength = Int(try FlatBufferTable.read(bytes, size - 10, as: Int32.self))
        let footerStart = size - 10 - footerLength
        guard footerLength > 0, footerStart >= size - tail else { return nil }
        let footer = try FlatBufferTable.root(of: UnsafeRawBufferPointer(rebasing: bytes[footerStart..<(size - 10)]))
        guard let schemaTable = try footer.table(slot: 1) else { return nil }
        let (schema, wires, _) = try IPCSchema.decodeWithWire(schemaTable)
        if let (_, count) = try footer.vector(slot: 2, elementSize: 24), count > 0 { return nil }  // dictionary batches
        guard let counts = bufferCounts(schema, wires), wanted.allSatisfy({ counts.indices.contains($0) }) else { return nil }

        // The record batches' blocks (offset, metadata length, body length); metadata past the head, fetched.
        guard let (start, count) = try footer.vector(slot: 3, elementSize: 24) else { return nil }
        let blocks = try (0..<count).map { i -> (offset: Int, metadata: Int, body: Int) in
            let at = start + 24 * i
            let block = (offset: Int(try footer.int64(at: at)), metadata: Int(try footer.int32(at: at + 8)), body: Int(try footer.int64(at: at + 16)))
            guard block.offset >= 8, block.metadata > 0, block.body >= 0, block.offset + block.metadata + block.body <= footerStart else {
                throw FormatError.malformed("record batch block \(i) points outside the file")
            }
            return block
        }
        try await image.fill(blocks.map { $0.offset..<($0.offset + $0.metadata) }.filter { $0.upperBound > tail }, fetch)

        // The wanted columns' buffers in each batch.
        let wantedSet = Set(wanted)
        var pieces: [Range<Int>] = [], bodyBytes = 0
        for block in blocks {
            guard let message = try readMessage(bytes, at: block.offset), message.headerType == 3, let header = try message.message.table(slot: 2),
                  let (bufferStart, bufferCount) = try header.vector(slot: 2, elementSize: 16), bufferCount == counts.reduce(0, +) else { return nil }
            bodyBytes += message.bodyLength
            var index = 0
            for (column, n) in counts.enumerated() {
                defer { index += n }
                guard wantedSet.contains(column) else { continue }
                for b in index..<(index + n) {
                    let offset = Int(try header.int64(at: bufferStart + 16 * b)), length = Int(try header.int64(at: bufferStart + 16 * b + 8))
                    guard offset >= 0, length >= 0, offset <= message.bodyLength, length <= message.bodyLength - offset else { return nil }
                    if length > 0 { pieces.append((message.bodyStart + offset)..<(message.bodyStart + offset + length)) }
                }
            }
        }
        guard pieces.reduce(0, { $0 + $1.count }) * 2 < bodyBytes else { return nil }
        try await image.fill(merged(pieces, gap: gap), fetch)
        return try IPCReader(data: ByteView(storage: image.storage))
    }

    /// The ranges in order, those less than `gap` apart joined.
    private static func merged(_ pieces: [Range<Int>], gap: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        for piece in pieces.sorted(by: { $0.lowerBound < $1.lowerBound }) where !piece.isEmpty {
            if let last = ranges.last, piece.lowerBound - last.upperBound < gap {
                ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, piece.upperBound)
            } else {
                ranges.append(piece)
            }
        }
        return ranges
    }

    /// A zero-filled image of a file (untouched pages cost no memory) that fetched ranges are copied into.
    private final class Image: @unchecked Sendable {
        let storage: ByteStorage
        let bytes: UnsafeMutableRawBufferPointer

        init(size: Int) {
            let memory = calloc(size, 1)!
            bytes = UnsafeMutableRawBufferPointer(start: memory, count: size)
            storage = ByteStorage(base: UnsafeRawPointer(memory), count: size) { pointer, _ in free(UnsafeMutableRawPointer(mutating: pointer)) }
        }

        /// Every range fetched, four at a time, checked for its length and copied into place.
        func fill(_ ranges: [Range<Int>], _ fetch: @escaping @Sendable (Range<Int>) async throws -> ByteView) async throws {
            try await withThrowingTaskGroup(of: (Range<Int>, ByteView).self) { group in
                var next = 0
                func start() {
                    guard next < ranges.count else { return }
                    let range = ranges[next]
                    next += 1
                    group.addTask { (range, try await fetch(range)) }
                }
                for _ in 0..<4 { start() }
                while let (range, view) = try await group.next() {
                    guard range.lowerBound >= 0, range.upperBound <= bytes.count, view.count == range.count else {
                        throw FormatError.malformed("bytes \(range.lowerBound)..<\(range.upperBound) came back as \(view.count) bytes")
                    }
                    UnsafeMutableRawBufferPointer(rebasing: bytes[range]).copyMemory(from: view.buffer)
                    start()
                }
            }
        }
    }
}
