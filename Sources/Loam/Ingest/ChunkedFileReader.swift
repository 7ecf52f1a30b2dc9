import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a file in large chunks so memory stays bounded whatever its size.
final class ChunkedFileReader {
    let path: String
    private let fd: Int32
    private(set) var buffer: [UInt8]
    private(set) var start = 0
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
        buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    deinit { close(fd) }

    /// Bytes consumed so far (for progress).
    func bytesRead(at position: Int) -> Int { consumedBefore + position }

    /// Keeps bytes from `keepFrom` on, reads more after them. Returns false at end of file.
    /// Either way positions shift: the byte at `keepFrom` moves to 0, so callers subtract `keepFrom`.
    func refill(keepFrom: Int) throws -> Bool {
        let kept = end - keepFrom
        if kept > 0 && keepFrom > 0 {
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + keepFrom, byteCount: kept)
            }
        }
        consumedBefore += keepFrom
        start = 0
        end = kept
        if atEOF { return false }
        if end == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
        let n = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress! + end, raw.count - end) }
        if n < 0 { throw LoamError.badInput(file: path, line: nil, column: nil, message: "read failed: \(String(cString: strerror(errno)))") }
        if n == 0 { atEOF = true; return false }
        end += n
        return true
    }
}
