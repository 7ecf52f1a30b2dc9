import Foundation
import Loam
import LoamFormat
import LoamStorage

/// The temporary files of one statement that outgrew its memory budget: sorted runs,
/// hash partitions, a join's output. They live in `$LOAM_SPILL_DIR` (default: the
/// system's temporary folder) under `loam-spill-<pid>-<random>/`; each is unlinked
/// once it is mapped for reading, and the folder goes when the statement ends.
final class SpillSpace: @unchecked Sendable {
    private let lock = NSLock()
    private var folder: URL?
    private var made = 0

    /// A new empty file, open for writing.
    func create() throws -> (path: String, handle: FileHandle) {
        try lock.withLock {
            if folder == nil {
                let root = ProcessInfo.processInfo.environment["LOAM_SPILL_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? NSTemporaryDirectory()
                let url = URL(fileURLWithPath: root).appendingPathComponent("loam-spill-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                    if StorageError.isDiskFull(error) { throw StorageError.diskFull(path: url.path) }
                    throw StorageError.io("cannot create the spill folder \(url.path) (\((error as NSError).localizedDescription)); set LOAM_SPILL_DIR to a writable folder")
                }
                folder = url
            }
            made += 1
            let path = folder!.appendingPathComponent("\(made).spill").path
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                if errno == ENOSPC { throw StorageError.diskFull(path: path) }
                throw StorageError.io("cannot create the spill file \(path): \(String(cString: strerror(errno))); set LOAM_SPILL_DIR to a writable folder")
            }
            return (path, FileHandle(fileDescriptor: fd, closeOnDealloc: true))
        }
    }

    deinit { if let folder { try? FileManager.default.removeItem(at: folder) } }
}

/// A spill file being written: bytes are buffered and a full disk is `StorageError.diskFull`.
private final class SpillFile {
    let path: String
    let handle: FileHandle
    var pending: [UInt8] = []

    init(_ space: SpillSpace) throws {
        (path, handle) = try space.create()
        pending.reserveCapacity(1 << 20)
    }

    func flushIfFull() throws { if pending.count >= 1 << 20 { try flush() } }

    func flush() throws {
        try StorageError.writing(path) { try handle.write(contentsOf: pending) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, closes the file, maps it and unlinks it (the mapping keeps its pages).
    func finish() throws -> ByteStorage {
        try flush()
        try handle.close()
        let storage = try ByteStorage.map(path: path)
        unlink(path)
        return storage
    }
}

extension SpillFile: ByteSink {
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        pending.append(contentsOf: bytes)
        try flushIfFull()
    }
}

/// Rows of values written one after another: a tag byte per value, then its payload
/// (8 little-endian bytes for numbers, a length and bytes for text, a count and items
/// for lists and structs). Each row is its `out` values then its `keys`.
enum RowCodec {
    static func encode(_ values: [Value], into bytes: inout [UInt8]) {
        for value in values { encode(value, into: &bytes) }
    }

    private static func word(_ v: UInt64, _ bytes: inout [UInt8]) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    static func encode(_ value: Value, into bytes: inout [UInt8]) {
        switch value {
        case .null: bytes.append(0)
        case .bool(let b): bytes.append(b ? 2 : 1)
        case .int(let i): bytes.append(3); word(UInt64(bitPattern: i), &bytes)
        case .uint(let u): bytes.append(4); word(u, &bytes)
        case .float(let d): bytes.append(5); word(d.bitPattern, &bytes)
        case .string(let s): bytes.append(6); word(UInt64(s.utf8.count), &bytes); bytes.append(contentsOf: s.utf8)
        case .binary(let b): bytes.append(7); word(UInt64(b.count), &bytes); bytes.append(contentsOf: b)
        case .list(let items): bytes.append(8); word(UInt64(items.count), &bytes); encode(items, into: &bytes)
        case .structValue(let items): bytes.append(9); word(UInt64(items.count), &bytes); encode(items, into: &bytes)
        }
    }

    /// Reads the value at `offset` (moved past it). The bytes are Loam's own, just written.
    static func decode(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) -> Value {
        func word() -> UInt64 {
            defer { offset += 8 }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        let tag = bytes[offset]
        offset += 1
        switch tag {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(Int64(bitPattern: word()))
        case 4: return .uint(word())
        case 5: return .float(Double(bitPattern: word()))
        case 6, 7:
            let count = Int(word())
            defer { offset += count }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
            return tag == 6 ? .string(String(decoding: slice, as: UTF8.self)) : .binary(Array(slice))
        default:
            let count = Int(word())
            let items = (0..<count).map { _ in decode(bytes, &offset) }
            return tag == 8 ? .list(items) : .structValue(items)
        }
    }
}

typealias OutputRow = (out: [Value], keys: [Value])

/// A file of rows (`RowCodec`), written once and then read from the start.
private final class RowFile {
    private let file: SpillFile
    private(set) var rows = 0

    init(_ space: SpillSpace) throws { file = try SpillFile(space) }

    func append(_ row: OutputRow) throws {
        RowCodec.encode(row.out, into: &file.pending)
        RowCodec.encode(row.keys, into: &file.pending)
        rows += 1
        try file.flushIfFull()
    }

    func finish(widths: (out: Int, keys: Int)) throws -> RowCursor { RowCursor(storage: try file.finish(), rows: rows, widths: widths) }
}

/// Reads a finished `RowFile` row by row.
private struct RowCursor {
    let storage: ByteStorage
    let rows: Int
    let widths: (out: Int, keys: Int)
    private var offset = 0
    private var read = 0

    init(storage: ByteStorage, rows: Int, widths: (out: Int, keys: Int)) {
        (self.storage, self.rows, self.widths) = (storage, rows, widths)
    }

    /// The start of the bytes not yet given back to the kernel.
    private var kept = 0

    mutating func next() -> OutputRow? {
        guard read < rows else { return nil }
        read += 1
        let bytes = UnsafeRawBufferPointer(start: storage.base, count: storage.count)
        var at = offset
        defer { offset = at }
        // Read pages are dropped from the mapping as the cursor moves on, so a merge of many runs
        // holds about a megabyte of each, not every byte it has read.
        if offset - kept >= 4 << 20 {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let end = offset / page * page
            madvise(UnsafeMutableRawPointer(mutating: storage.base + kept), end - kept, MADV_DONTNEED)
            kept = end
        }
        let out = (0..<widths.out).map { _ in RowCodec.decode(bytes, &at) }
        let keys = (0..<widths.keys).map { _ in RowCodec.decode(bytes, &at) }
        return (out, keys)
    }
}

/// The rows a SELECT keeps before its last step — to deduplicate them (DISTINCT), sort
/// them (ORDER BY) or hand them out after grouping — held within the statement's memory
/// budget. When the budget refuses more, the rows held go to disk: sorted runs for ORDER BY
/// (merged at the end: an external merge sort), hash partitions of the output for DISTINCT
/// (each deduplicated on its own), plain runs otherwise. `finish` hands them out in order.
final class RowCollector {
    private let order: [OrderItem]
    private let distinct: Bool
    private let space: SpillSpace
    private let widths: (out: Int, keys: Int)
    private var rows: [OutputRow] = []
    private var held = 0
    private var runs: [RowCursor] = []
    private var partitions: [RowFile]?
    static let partitionCount = 32
    /// How many rows `finish` hands out at a time.
    static let chunk = 65_536

    init(order: [OrderItem], distinct: Bool, widths: (out: Int, keys: Int), space: SpillSpace) {
        (self.order, self.distinct, self.widths, self.space) = (order, distinct, widths, space)
    }

    deinit { StatementLimit.release(held) }

    func add(_ more: [OutputRow]) throws {
        guard !more.isEmpty else { return }
        let bytes = more.reduce(0) { $0 + MemoryEstimate.bytes($1.out) + MemoryEstimate.bytes($1.keys) }
        if !StatementLimit.reserve(bytes) {
            try spill()
            if !StatementLimit.reserve(bytes) {  // more than the whole budget in one step: straight to disk
                rows = more
                try spill()
                return
            }
        }
        held += bytes
        rows += more
    }

    /// `list` in ORDER BY order. Row numbers are sorted, not rows (moving a row retains and releases
    /// its arrays), comparing the keys laid out flat; ties keep arrival order.
    private func sort(_ list: inout [OutputRow]) throws {
        guard !order.isEmpty, list.count > 1 else { return }
        var ticker = StatementTicker()
        let order = self.order, width = order.count
        var keys = ContiguousArray<Value>()
        keys.reserveCapacity(list.count * width)
        for row in list { keys.append(contentsOf: row.keys) }
        var numbers = Array(0..<list.count)
        try keys.withUnsafeBufferPointer { k in
            try numbers.sort { a, b in
                try ticker.tick()
                for i in 0..<width { if let first = order[i].compare(k[a * width + i], k[b * width + i]) { return first } }
                return a < b
            }
        }
        list = numbers.map { list[$0] }
    }

    /// Spills the rows held when they take more than a quarter of the budget, leaving room for
    /// the operator that feeds this one (grouping a partition).
    func makeRoom() throws {
        if let budget = StatementLimit.memory, held > budget.limit / 4 { try spill() }
    }

    /// Sends the rows held to disk and returns their memory to the budget.
    private func spill() throws {
        guard !rows.isEmpty else { return }
        try StatementLimit.check()
        if distinct {
            if partitions == nil { partitions = try (0..<Self.partitionCount).map { _ in try RowFile(space) } }
            for row in rows {
                var hasher = Hasher()
                hasher.combine(row.out)
                try partitions![Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.partitionCount))].append(row)
            }
        } else {
            try sort(&rows)
            let run = try RowFile(space)
            for row in rows { try run.append(row) }
            runs.append(try run.finish(widths: widths))
        }
        rows = []
        StatementLimit.release(held)
        held = 0
    }

    /// Hands every row out, in order, `chunk` rows at a time; `emit` returns false to stop.
    func finish(_ emit: ([OutputRow]) async throws -> Bool) async throws {
        if let partitions {
            try spill()
            let after = RowCollector(order: order, distinct: false, widths: widths, space: space)
            for partition in partitions {
                var cursor = try partition.finish(widths: widths)
                var seen = Set<[Value]>()
                var kept: [OutputRow] = []
                var charged = 0  // the set of rows seen (its slots; the rows themselves are charged as kept)
                defer { StatementLimit.release(charged) }
                while let row = cursor.next() {
                    if seen.insert(row.out).inserted { kept.append(row) }
                    if kept.count == Self.chunk {
                        try after.add(kept)
                        kept = []
                        try StatementLimit.charge(Self.chunk * 48, for: "the distinct rows of one of \(Self.partitionCount) partitions of DISTINCT")
                        charged += Self.chunk * 48
                    }
                }
                try after.add(kept)
            }
            return try await after.finish(emit)
        }
        if distinct {
            var seen = Set<[Value]>()
            rows = rows.filter { seen.insert($0.out).inserted }
        }
        try sort(&rows)
        if runs.isEmpty {
            var start = 0
            while start < rows.count {
                let end = min(start + Self.chunk, rows.count)
                guard try await emit(Array(rows[start..<end])) else { return }
                start = end
            }
            return
        }
        if order.isEmpty {  // runs in arrival order, then what is still held
            for var run in runs {
                var chunk: [OutputRow] = []
                while let row = run.next() {
                    chunk.append(row)
                    if chunk.count == Self.chunk { guard try await emit(chunk) else { return }; chunk = [] }
                }
                if !chunk.isEmpty { guard try await emit(chunk) else { return } }
            }
            if !rows.isEmpty { _ = try await emit(rows) }
            return
        }
        try await merge(emit)
    }

    /// The k-way merge of the sorted runs and the sorted rows still held: a binary heap of source
    /// numbers, ordered by each source's current row (ties: the earlier source first).
    private func merge(_ emit: ([OutputRow]) async throws -> Bool) async throws {
        var cursors = runs
        var memoryIndex = 0
        let memory = cursors.count  // the source number of the rows held in memory
        func next(_ source: Int) -> OutputRow? {
            if source == memory {
                guard memoryIndex < rows.count else { return nil }
                memoryIndex += 1
                return rows[memoryIndex - 1]
            }
            return cursors[source].next()
        }
        let order = self.order
        var heads = [[Value]](repeating: [], count: memory + 1)  // each source's current row's keys
        var outs = [[Value]](repeating: [], count: memory + 1)
        func before(_ a: Int, _ b: Int) -> Bool {
            for (i, item) in order.enumerated() { if let first = item.compare(heads[a][i], heads[b][i]) { return first } }
            return a < b
        }
        var heap: [Int] = []
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && before(heap[l], heap[m]) { m = l }
                if r < heap.count && before(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for source in 0...memory {
            guard let row = next(source) else { continue }
            (heads[source], outs[source]) = (row.keys, row.out)
            heap.append(source)
        }
        for i in stride(from: heap.count / 2, through: 0, by: -1) { siftDown(i) }
        var chunk: [OutputRow] = []
        chunk.reserveCapacity(Self.chunk)
        var ticker = StatementTicker()
        while let top = heap.first {
            try ticker.tick()
            chunk.append((outs[top], heads[top]))
            if let row = next(top) { (heads[top], outs[top]) = (row.keys, row.out) } else { heap[0] = heap[heap.count - 1]; heap.removeLast() }
            if !heap.isEmpty { siftDown(0) }
            if chunk.count == Self.chunk { guard try await emit(chunk) else { return }; chunk.removeAll(keepingCapacity: true) }
        }
        if !chunk.isEmpty { _ = try await emit(chunk) }
    }
}

/// Record batches written to a spill file as Arrow IPC and mapped back: a join's output
/// or one hash partition of an input, held on disk rather than in the budget.
final class BatchSpill {
    private let schema: Schema
    private var writer: IPCWriter<SpillFileSink>
    private(set) var rows = 0

    init(schema: Schema, space: SpillSpace) throws {
        self.schema = schema
        writer = try IPCWriter(schema: schema, format: .file, sink: SpillFileSink(try SpillFile(space)))
    }

    func write(_ batch: RecordBatch) throws {
        guard batch.length > 0 else { return }
        try writer.write(RecordBatch(schema: schema, columns: batch.columns, length: batch.length))
        rows += batch.length
    }

    /// The batches written, read from the mapped file (their bytes stay on disk, paged in on use).
    func finish() throws -> [RecordBatch] {
        let storage = try writer.finish().file.finish()
        return try IPCReader(data: ByteView(storage: storage)).batches()
    }
}

/// Record batches an operator produces (a join's output), held in memory while the budget
/// allows and written to one spill file from then on. The batches it holds stay charged.
final class BatchCollector {
    private let schema: Schema
    private let space: SpillSpace
    private var batches: [RecordBatch] = []
    private var held = 0
    private var file: BatchSpill?

    init(schema: Schema, space: SpillSpace) { (self.schema, self.space) = (schema, space) }

    func add(_ batch: RecordBatch) throws {
        guard batch.length > 0 else { return }
        if let file { return try file.write(batch) }
        let bytes = MemoryEstimate.bytes(batch.columns)
        if StatementLimit.reserve(bytes) {
            held += bytes
            batches.append(batch)
            return
        }
        try spill()
        try file!.write(batch)
    }

    /// Sends the batches held to the spill file (from now on every batch goes there) and returns their memory.
    func spill() throws {
        guard file == nil else { return }
        let file = try BatchSpill(schema: schema, space: space)
        for held in batches { try file.write(held) }
        self.file = file
        batches = []
        StatementLimit.release(held)
        held = 0
    }

    func finish() throws -> [RecordBatch] { try file?.finish() ?? batches }
}

/// `SpillFile` as the IPC writer's sink (the writer owns its sink by value).
private struct SpillFileSink: ByteSink {
    let file: SpillFile
    init(_ file: SpillFile) { self.file = file }
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws { try file.write(bytes) }
}

/// Which of `count` partitions each row falls in, by the hash of its key values (as
/// `Evaluator.hashKey` gives them, so 1 and 1.0 meet). A row with a NULL key goes to
/// partition `nulls` (a group of its own, or a left row that keeps its place), or to none
/// (-1) when nil: a join's right rows with a NULL key match nothing. A different `salt`
/// splits a partition that is still too large along other lines.
func partitionNumbers(_ keys: [(Int) -> Value], rows: Int, count: Int, salt: Int, nulls: Int? = 0) -> [Int] {
    (0..<rows).map { i in
        var hasher = Hasher()
        hasher.combine(salt)
        for key in keys {
            let value = Evaluator.hashKey(key(i))
            if value.isNull { return nulls ?? -1 }
            hasher.combine(value)
        }
        return Int(UInt(bitPattern: hasher.finalize()) % UInt(count))
    }
}

/// The rows of `columns` split by partition number: for each partition with rows, its columns.
func split(_ columns: [ArrowArray], by numbers: [Int], count: Int) -> [(partition: Int, columns: [ArrowArray], rows: Int)] {
    var picks = [[Int]](repeating: [], count: count)
    for (i, p) in numbers.enumerated() where p >= 0 { picks[p].append(i) }
    return picks.enumerated().compactMap { p, rows in rows.isEmpty ? nil : (p, columns.map { $0.take(rows) }, rows.count) }
}
