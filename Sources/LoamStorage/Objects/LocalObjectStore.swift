import Crypto
import Foundation
import LoamFormat
#if canImport(Glibc)
import Glibc
#endif

/// Objects as files under `objects/ab/cdef…` in a local folder, written to
/// `tmp/`, fsynced and renamed into place so a reader never sees a partial object.
public struct LocalObjectStore: ObjectStore {
    public let root: URL
    private let objects: URL
    private let temporary: URL
    /// `objects/` as a path string: reads build object paths by concatenation, not through `URL`.
    private let objectsPath: String

    public init(root: URL) throws {
        self.root = root
        objects = root.appendingPathComponent("objects")
        temporary = root.appendingPathComponent("tmp")
        objectsPath = objects.path
        for dir in [objects, temporary] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }
    }

    public func path(_ id: ObjectID) -> URL { URL(fileURLWithPath: filePath(id)) }
    public func file(_ id: ObjectID) -> URL? { path(id) }

    private func filePath(_ id: ObjectID) -> String {
        let hex = id.hex
        return objectsPath + "/" + hex.prefix(2) + "/" + hex.dropFirst(2)
    }

    public func stage() throws -> StagedObject { try stage(sealer: nil) }

    /// A temporary file that encrypts what is written to it when `sealer` is given.
    func stage(sealer: SegmentSealer?) throws -> StagedObject {
        try StagedObject(url: temporary.appendingPathComponent(UUID().uuidString + ".tmp"), sealer: sealer)
    }

    public func put(_ bytes: [UInt8]) async throws -> ObjectID {
        var staged = try stage()
        do {
            try staged.write(bytes)
            return try await publish(staged)
        } catch {
            staged.discard()
            throw error
        }
    }

    public func publish(_ staged: StagedObject) async throws -> ObjectID {
        let id = try staged.seal()
        FailPoint.hit("object-sealed")
        let destination = path(id)
        if FileManager.default.fileExists(atPath: destination.path) {
            // Re-used content: refresh its time so a concurrent `gc` treats it as new and leaves it.
            _ = utimes(destination.path, nil)
            staged.discard()
            return id
        }
        let folder = destination.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        guard rename(staged.url.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            staged.discard()
            throw StorageError.io("cannot move object into \(destination.path): \(reason)")
        }
        Self.syncDirectory(folder)
        FailPoint.hit("object-published")
        return id
    }

    /// Makes a rename durable: the directory entry must reach the disk too.
    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    public func get(_ id: ObjectID) async throws -> ByteView {
        let file = filePath(id)
        do { return ByteView(storage: try ByteStorage.map(path: file)) } catch {
            if access(file, F_OK) != 0 { throw StorageError.objectNotFound(id.hex) }
            throw error
        }
    }

    public func contains(_ id: ObjectID) async throws -> Bool {
        access(filePath(id), F_OK) == 0
    }

    public func ids(withPrefix prefix: String) async throws -> [ObjectID] {
        let lower = prefix.lowercased()
        guard lower.count >= 4, lower.allSatisfy(\.isHexDigit) else { return [] }
        let folder = objects.appendingPathComponent(String(lower.prefix(2)))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let rest = lower.dropFirst(2)
        return names.filter { $0.hasPrefix(rest) }.compactMap { try? ObjectID(hex: String(lower.prefix(2)) + $0) }.sorted()
    }

    public func delete(_ id: ObjectID) async throws {
        try? FileManager.default.removeItem(at: path(id))
    }

    public func list() async throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        for folder in (try? FileManager.default.contentsOfDirectory(atPath: objects.path)) ?? [] where folder.count == 2 {
            let dir = objects.appendingPathComponent(folder)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
                guard let id = try? ObjectID(hex: folder + name) else { continue }
                let attributes = try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(name).path)
                result.append(ObjectInfo(id: id, bytes: (attributes?[.size] as? Int) ?? 0,
                                         modified: (attributes?[.modificationDate] as? Date) ?? Date()))
            }
        }
        return result
    }

    /// Removes temporary files left by writers that died (they were never published).
    public func removeStaleTemporaryFiles(olderThan age: TimeInterval) {
        StagedObject.removeStale(in: temporary, olderThan: age)
    }
}
