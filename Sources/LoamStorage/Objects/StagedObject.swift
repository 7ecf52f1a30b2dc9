import Crypto
import Foundation
import LoamFormat

/// A temporary file that hashes what is written to it; the IPC writer
/// streams fragments into one, then the store publishes it under its hash.
public final class StagedObject: ByteSink {
    public let url: URL
    private let handle: FileHandle
    private var hasher = SHA256()
    private var pending: [UInt8] = []
    /// Bytes written (the plaintext's, when the object is encrypted).
    public private(set) var byteCount = 0
    /// Encrypts what is written, segment by segment, in an encrypted repository; plaintext never reaches the file.
    private var sealer: SegmentSealer?

    init(url: URL, sealer: SegmentSealer? = nil) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            if SQLiteMetaStore.diskIsFull(url.path) { throw StorageError.diskFull(path: url.path) }
            throw StorageError.io("cannot create temporary file \(url.path): check that the repository is writable")
        }
        self.url = url
        handle = try FileHandle(forWritingTo: url)
        pending.reserveCapacity(1 << 20)
        self.sealer = sealer
        if let header = sealer?.header { try header.withUnsafeBytes { try store($0) } }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        byteCount += bytes.count
        guard var sealer else { return try store(bytes) }
        let sealed = try sealer.feed(bytes)
        self.sealer = sealer
        if !sealed.isEmpty { try sealed.withUnsafeBytes { try store($0) } }
    }

    /// Hashes and writes bytes as the file holds them.
    private func store(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: bytes)
        if pending.count + bytes.count > 1 << 20 { try flush() }
        if bytes.count >= 1 << 20 {
            try StorageError.writing(url.path) { try handle.write(contentsOf: bytes) }
        } else {
            pending.append(contentsOf: bytes)
        }
    }

    /// Writes out the bytes still buffered, so the file can be read before it is sealed.
    public func flush() throws {
        if !pending.isEmpty {
            try StorageError.writing(url.path) { try handle.write(contentsOf: pending) }
            pending.removeAll(keepingCapacity: true)
        }
    }

    /// A new temporary file in `folder` (which exists; a remote store stages here before it uploads).
    public static func temporary(in folder: URL) throws -> StagedObject {
        try StagedObject(url: folder.appendingPathComponent(UUID().uuidString + ".tmp"))
    }

    /// Removes the files in `folder` last written more than `age` seconds ago: writers that died left them.
    public static func removeStale(in folder: URL, olderThan age: TimeInterval) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names {
            let url = folder.appendingPathComponent(name)
            let modified = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? Date()
            if Date().timeIntervalSince(modified) > age { try? FileManager.default.removeItem(at: url) }
        }
    }

    /// Flushes, fsyncs and closes the file; returns the content hash.
    public func seal() throws -> ObjectID {
        if var sealer {
            let last = try sealer.finish()
            self.sealer = nil
            try last.withUnsafeBytes { try store($0) }
        }
        try flush()
        try StorageError.writing(url.path) {
            try handle.synchronize()
            try handle.close()
        }
        return ObjectID(digest: hasher.finalize())
    }

    /// Removes the temporary file (after publishing or on failure).
    public func discard() {
        try? handle.close()
        try? FileManager.default.removeItem(at: url)
    }
}
