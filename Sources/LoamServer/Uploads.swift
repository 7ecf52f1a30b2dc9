import Foundation
import Hummingbird
import LoamFormat
#if canImport(Glibc)
import Glibc
#endif

/// Request bodies of imports, streamed to files under `.loam/uploads/` instead of held in
/// memory (the import then maps the file), at most `limit` at a time. Each file is locked
/// (`flock`) while its request runs, so a server starting up can tell the files a crashed
/// server left behind (unlocked) from those of another live server, and remove only those.
actor Uploads {
    let folder: URL
    let limit: Int
    private var active = 0

    init(folder: URL, limit: Int) {
        self.folder = folder
        self.limit = limit
    }

    /// One upload in progress: its file, open and locked.
    final class File: @unchecked Sendable {
        let url: URL
        let fd: Int32
        init(url: URL, fd: Int32) {
            self.url = url
            self.fd = fd
        }
        deinit {
            unlink(url.path)
            close(fd)  // also drops the lock
        }
    }

    /// Writes `body` to a new file under the folder, refusing more than `maxBytes` bytes
    /// and more than `limit` uploads at once; returns the file, mapped, for the import.
    func receive(_ body: RequestBody, maxBytes: Int) async throws -> (File, ByteStorage) {
        guard active < limit else {
            throw APIError(status: .serviceUnavailable, code: "busy",
                           message: "\(limit) uploads are already in progress; send this one again shortly")
        }
        active += 1
        defer { active -= 1 }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent(UUID().uuidString + ".upload")
        let fd = open(url.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw APIError(status: .internalServerError, code: "internal", message: "cannot store the upload: \(String(cString: strerror(errno)))") }
        _ = flock(fd, LOCK_EX)
        let file = File(url: url, fd: fd)
        var total = 0
        for try await buffer in body {
            total += buffer.readableBytes
            guard total <= maxBytes else {
                throw APIError(status: .contentTooLarge, code: "too_large",
                               message: "the body is larger than this server's limit of \(maxBytes >> 20) MiB (loam serve --max-upload-mb)")
            }
            try buffer.withUnsafeReadableBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        let reason = errno == ENOSPC ? "the disk is full" : String(cString: strerror(errno))
                        throw APIError(status: .insufficientStorage, code: "disk_full", message: "cannot store the upload: \(reason)")
                    }
                    offset += n
                }
            }
        }
        return (file, total == 0 ? ByteStorage(copying: UnsafeRawBufferPointer(start: nil, count: 0)) : try ByteStorage.map(path: url.path))
    }

    /// Removes upload files no live server holds (a crashed server's), at start.
    nonisolated static func removeStale(in folder: URL) -> Int {
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".upload") {
            let path = folder.appendingPathComponent(name).path
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { unlink(path); removed += 1 }
            close(fd)
        }
        return removed
    }
}
