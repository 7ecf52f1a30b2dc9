import Foundation
import LoamFormat
#if canImport(Glibc)
import Glibc
#endif

/// Reads an input in large chunks into one reusable buffer, so memory stays
/// bounded whatever the file's size. Parsers scan `base[0..<end]` directly.
/// The input is a file or bytes already in memory (an upload); `path` is the
/// name errors give it.
final class ChunkedFileReader {
    let path: String
    private let fd: Int32
    /// Bytes in memory, read from `memoryOffset` on, instead of the file.
    private let memory: ByteStorage?
    private var memoryOffset = 0
    private(set) var base: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var end = 0
    private(set) var consumedBefore = 0
    private(set) var atEOF = false
    let totalBytes: Int

    init(path: String, chunkSize: Int = 4 << 20) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw LoamError.fileNotFound(path)
        }
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw LoamError.badInput(file: path, line: nil, column: nil, message: "cannot open: \(String(cString: strerror(errno)))") }
        totalBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        capacity = chunkSize
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        memory = nil
    }

    /// Reads `bytes`, named `name` in errors.
    init(name: String, bytes: ByteStorage, chunkSize: Int = 4 << 20) {
        path = name
        fd = -1
        memory = bytes
        totalBytes = bytes.count
        capacity = chunkSize
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    /// The reader for an import's input.
    convenience init(_ input: ImportInput) throws {
        switch input {
        case .file(let path): try self.init(path: path)
        case .bytes(let bytes, let name): self.init(name: name, bytes: bytes)
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        base.deallocate()
    }

    /// Bytes consumed so far (for progress).
    func bytesRead(at position: Int) -> Int { consumedBefore + position }

    @inline(__always) func byte(_ i: Int) -> UInt8 { base.load(fromByteOffset: i, as: UInt8.self) }

    /// Keeps bytes from `keepFrom` on, reads more after them. Returns false at end of file.
    /// Either way positions shift: the byte at `keepFrom` moves to 0, so callers subtract `keepFrom`.
    func refill(keepFrom: Int) throws -> Bool {
        let kept = end - keepFrom
        if kept > 0 && keepFrom > 0 { base.copyMemory(from: base + keepFrom, byteCount: kept) }
        consumedBefore += keepFrom
        end = kept
        if atEOF { return false }
        if end == capacity {  // one record longer than the buffer: grow
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
            bigger.copyMemory(from: base, byteCount: end)
            base.deallocate()
            base = bigger
            capacity *= 2
        }
        let n: Int
        if let memory {
            n = min(capacity - end, memory.count - memoryOffset)
            if n > 0 { (base + end).copyMemory(from: memory.base + memoryOffset, byteCount: n) }
            memoryOffset += n
        } else {
            n = read(fd, base + end, capacity - end)
        }
        if n < 0 { throw LoamError.badInput(file: path, line: nil, column: nil, message: "read failed: \(String(cString: strerror(errno)))") }
        if n == 0 { atEOF = true; return false }
        end += n
        return true
    }
}
