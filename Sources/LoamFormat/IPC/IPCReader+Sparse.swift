import Foundation

extension IPCReader {
    /// A reader over some top-level columns of an Arrow IPC file of `size` bytes kept elsewhere (object
    /// storage), fetching only what they need: the footer (the last `tail` bytes), each record batch's
    /// metadata, and the byte ranges of the wanted columns' buffers (ranges less than `gap` apart are fetched
    /// as one), all laid into a zero-filled image of the file that the reader reads as usual. The other
    /// columns' bytes are never fetched: they decode as zeros, unvalidated, and `batch(_:columns:)` drops them.
    ///
    /// Nil when the file is not one this can read in part — smaller than four tails, dictionary batches, a type
    /// whose buffers are converted as they are read, a footer longer than `tail`, or wanted columns covering
    /// most of the body —
    /// so the caller reads it whole (and any corruption is reported there).
    ///
    /// ```swift
    /// let reader = try await IPCReader.sparse(size: entry.bytes, columns: [0, 3]) { try await store.read(id, range: $0) }
    /// ```
    public static func sparse(size: Int, columns wanted: [Int], tail: Int = 64 << 10, gap: Int = 256 << 10,
                              fetch: @escaping @Sendable (Range<Int>) async throws -> ByteView) async throws -> IPCReader? {
        let magic = Array("ARROW1".utf8)
        guard size > 4 * tail else { return nil }  // small: one GET costs less than three
        let memory = calloc(size, 1)!  // untouched pages of the image cost no memory
        let image = ByteStorage(base: UnsafeRawPointer(memory), count: size) { pointer, _ in free(UnsafeMutableRawPointer(mutating: pointer)) }
        let bytes = UnsafeMutableRawBufferPointer(start: memory, count: size)
        func place(_ view: ByteView, at offset: Int) throws {
            guard offset >= 0, view.count <= size - offset else { throw FormatError.malformed("a fetched range passes the end of the \(size)-byte file") }
            UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + view.count)]).copyMemory(from: view.buffer)
        }
        let tailStart = max(0, size - tail)
        let end = try await fetch(tailStart..<size)
        guard end.count == size - tailStart else { return nil }
        try place(end, at: tailStart)
        guard Array(UnsafeRawBufferPointer(rebasing: bytes[(size - 6)...])) == magic else { return nil }
        let footerLength = Int(try FlatBufferTable.read(UnsafeRawBufferPointer(bytes), size - 10, as: Int32.self))
        let footerStart = size - 10 - footerLength
        guard footerLength > 0, footerStart >= tailStart, footerStart >= 8 else { return nil }
        let footer = try FlatBufferTable.root(of: UnsafeRawBufferPointer(rebasing: bytes[footerStart..<(size - 10)]))
        guard let schemaTable = try footer.table(slot: 1) else { return nil }
        let (schema, wires, _) = try IPCSchema.decodeWithWire(schemaTable)
        if let (_, count) = try footer.vector(slot: 2, elementSize: 24), count > 0 { return nil }  // dictionary batches
        // How many buffers each top-level column spans, in the body's pre-order.
        func buffers(_ field: Field, _ wire: Wire) -> Int? {
            let childWires: [Wire]
            switch wire {
            case .direct, .converted(_, .same): childWires = field.type.children.map { _ in .direct }
            case .children(let ws): childWires = ws
            default: return nil
            }
            var count = field.type.bufferCount
            for (child, w) in zip(field.type.children, childWires) {
                guard let n = buffers(child, w) else { return nil }
                count += n
            }
            return count
        }
        var spans: [Int] = []
        for (field, wire) in zip(schema.fields, wires) {
            guard let n = buffers(field, wire) else { return nil }
            spans.append(n)
        }
        let wantedSet = Set(wanted)
        guard wantedSet.allSatisfy({ schema.fields.indices.contains($0) }) else { return nil }

        // The record batches' blocks: (offset, metadata length, body length); their metadata, fetched at once.
        guard let (start, count) = try footer.vector(slot: 3, elementSize: 24) else { return nil }
        let blocks = try (0..<count).map { i -> (offset: Int, metadata: Int, body: Int) in
            let at = start + 24 * i
            let block = (offset: Int(try footer.int64(at: at)), metadata: Int(try footer.int32(at: at + 8)),
                         body: Int(try footer.int64(at: at + 16)))
            guard block.offset >= 8, block.metadata > 0, block.body >= 0, block.offset + block.metadata + block.body <= footerStart else {
                throw FormatError.malformed("record batch block \(i) points outside the file")
            }
            return block
        }
        for (range, view) in try await fetchAll(blocks.map { $0.offset..<($0.offset + $0.metadata) }, fetch) { try place(view, at: range.lowerBound) }

        // The wanted columns' buffers in each batch, merged into few ranges.
        var ranges: [Range<Int>] = [], wantedBytes = 0, bodyBytes = 0
        for block in blocks {
            guard let message = try readMessage(UnsafeRawBufferPointer(bytes), at: block.offset), message.headerType == 3,
                  let header = try message.message.table(slot: 2), let (bufferStart, bufferCount) = try header.vector(slot: 2, elementSize: 16),
                  bufferCount == spans.reduce(0, +) else { return nil }
            bodyBytes += message.bodyLength
            var index = 0, pieces: [Range<Int>] = []
            for (column, n) in spans.enumerated() {
                defer { index += n }
                guard wantedSet.contains(column) else { continue }
                for b in index..<(index + n) {
                    let offset = Int(try header.int64(at: bufferStart + 16 * b)), length = Int(try header.int64(at: bufferStart + 16 * b + 8))
                    guard offset >= 0, length >= 0, offset <= message.bodyLength, length <= message.bodyLength - offset else { return nil }
                    if length > 0 { pieces.append((message.bodyStart + offset)..<(message.bodyStart + offset + length)) }
                }
            }
            for piece in pieces.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                wantedBytes += piece.count
                if let last = ranges.last, piece.lowerBound - last.upperBound < gap {
                    ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, piece.upperBound)
                } else {
                    ranges.append(piece)
                }
            }
        }
        guard wantedBytes * 2 < bodyBytes else { return nil }  // most of the file: one whole GET is cheaper
        for (range, view) in try await fetchAll(ranges, fetch) { try place(view, at: range.lowerBound) }
        try place(ByteView(copying: magic + [0, 0]), at: 0)
        return try IPCReader(data: ByteView(storage: image))
    }

    /// Every range fetched, four at a time; each answer checked for its length.
    private static func fetchAll(_ ranges: [Range<Int>], _ fetch: @escaping @Sendable (Range<Int>) async throws -> ByteView) async throws -> [(Range<Int>, ByteView)] {
        try await withThrowingTaskGroup(of: (Range<Int>, ByteView).self) { group in
            var out: [(Range<Int>, ByteView)] = [], next = 0
            func start() {
                guard next < ranges.count else { return }
                let range = ranges[next]
                next += 1
                group.addTask { (range, try await fetch(range)) }
            }
            for _ in 0..<4 { start() }
            while let (range, view) = try await group.next() {
                guard view.count == range.count else {
                    throw FormatError.malformed("bytes \(range.lowerBound)..<\(range.upperBound) came back as \(view.count) bytes")
                }
                out.append((range, view))
                start()
            }
            return out
        }
    }
}
