import Crypto
import Foundation
import LoamFormat

/// A repository data key: 256 bits, named by 16 random bytes. Each object's own key is derived from it and
/// the object's salt (HKDF-SHA256), so no two objects share a key; the master key only wraps data keys.
public struct DataKey: Sendable {
    public let id: [UInt8]
    public let key: SymmetricKey

    public init(id: [UInt8], key: SymmetricKey) {
        precondition(id.count == 16)
        (self.id, self.key) = (id, key)
    }

    public static func generate() -> DataKey {
        DataKey(id: (0..<16).map { _ in UInt8.random(in: 0...255) }, key: SymmetricKey(size: .bits256))
    }

    public var hexID: String { id.map { String(format: "%02x", $0) }.joined() }

    /// The key of the object whose header holds `salt`.
    func objectKey(salt: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, salt: salt, info: Array("loam object key v1".utf8), outputByteCount: 32)
    }

    /// The salt of an object written whole: a keyed hash of its plaintext, so equal content is one object.
    func salt(for plaintext: UnsafeRawBufferPointer) -> [UInt8] {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Array("loam salt v1".utf8))
        mac.update(data: plaintext)
        return Array(mac.finalize())
    }
}

/// The envelope of an encrypted object (docs/FORMAT.md, "Encryption at rest"): a 64-byte header, then the
/// plaintext in 1 MiB segments, each sealed with AES-256-GCM under the object's key, the header as
/// associated data, and a nonce of the segment's index and whether it is the last — so a segment cannot be
/// moved, dropped, or the object cut short without the tag check failing.
public enum ObjectEnvelope {
    public static let magic = Array("LOAMENC1".utf8)
    public static let headerSize = 64
    public static let segmentSize = 1 << 20
    static let tagSize = 16

    public static func isEncrypted(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= headerSize && magic.indices.allSatisfy { bytes[$0] == magic[$0] }
    }

    static func header(keyID: [UInt8], salt: [UInt8]) -> [UInt8] {
        var header = magic + keyID + salt
        withUnsafeBytes(of: UInt32(segmentSize).littleEndian) { header += $0 }
        header += [0, 0, 0, 0]
        return header
    }

    static func nonce(_ index: UInt64, final: Bool) throws -> AES.GCM.Nonce {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: index.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt32(final ? 1 : 0).littleEndian) { bytes += $0 }
        return try AES.GCM.Nonce(data: bytes)
    }

    /// Encrypts a whole object (commits, manifests, deletion vectors, artifacts).
    public static func seal(_ plaintext: UnsafeRawBufferPointer, with dataKey: DataKey) throws -> [UInt8] {
        var sealer = SegmentSealer(dataKey: dataKey, salt: dataKey.salt(for: plaintext))
        return try sealer.header + sealer.feed(plaintext) + sealer.finish()
    }

    /// Decrypts an object into memory; any mismatch (a wrong key, a changed or cut byte) is an error naming `what`.
    public static func open(_ bytes: UnsafeRawBufferPointer, keys: [[UInt8]: DataKey], what: String) throws -> ByteStorage {
        guard isEncrypted(bytes) else { throw StorageError.encryption("\(what) is not encrypted, but this repository's objects are: it was put there by hand") }
        let keyID = Array(bytes[8..<24])
        guard let dataKey = keys[keyID] else {
            throw StorageError.encryption("\(what) is encrypted under data key \(keyID.map { String(format: "%02x", $0) }.joined()), which this repository's keyring lacks")
        }
        let header = Array(bytes[0..<headerSize])
        let size = Int(bytes.loadUnaligned(fromByteOffset: 56, as: UInt32.self).littleEndian)
        guard size == segmentSize else { throw StorageError.encryption("\(what) has segments of \(size) bytes; this version reads \(segmentSize)") }
        let key = dataKey.objectKey(salt: Array(bytes[24..<56]))
        let body = bytes.count - headerSize
        guard body >= tagSize else { throw StorageError.encryption("\(what) is cut short: no segment follows its header") }
        // Every segment but the last holds segmentSize bytes; the last 0 … segmentSize; each adds a tag.
        let segments = (body + segmentSize + tagSize - 1) / (segmentSize + tagSize)
        let plainCount = body - segments * tagSize
        guard plainCount >= (segments - 1) * segmentSize, plainCount <= segments * segmentSize else {
            throw StorageError.encryption("\(what) has a damaged length")
        }
        return try ByteStorage.filling(plainCount) { out in
            var read = headerSize, written = 0
            for index in 0..<segments {
                let final = index == segments - 1
                let count = final ? plainCount - written : segmentSize
                let box = try AES.GCM.SealedBox(nonce: nonce(UInt64(index), final: final),
                                                ciphertext: UnsafeRawBufferPointer(rebasing: bytes[read..<(read + count)]),
                                                tag: UnsafeRawBufferPointer(rebasing: bytes[(read + count)..<(read + count + tagSize)]))
                let plain: Data
                do { plain = try AES.GCM.open(box, using: key, authenticating: header) } catch {
                    throw StorageError.encryption("\(what) does not decrypt (segment \(index + 1) of \(segments)): the master key is not this repository's, or the file was changed")
                }
                plain.withUnsafeBytes { (out + written).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                read += count + tagSize
                written += count
            }
        }
    }
}

/// Seals a stream of plaintext into the envelope's segments as it is written (fragments are streamed).
public struct SegmentSealer: Sendable {
    public let header: [UInt8]
    private let key: SymmetricKey
    private var buffer: [UInt8] = []
    private var index: UInt64 = 0

    public init(dataKey: DataKey, salt: [UInt8]) {
        header = ObjectEnvelope.header(keyID: dataKey.id, salt: salt)
        key = dataKey.objectKey(salt: salt)
    }

    /// Sealed segments ready to write: all but the last segment's worth of plaintext, which `finish` seals.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
        buffer.append(contentsOf: bytes)
        var out: [UInt8] = []
        var start = 0
        while buffer.count - start > ObjectEnvelope.segmentSize {
            out += try seal(buffer[start..<(start + ObjectEnvelope.segmentSize)], final: false)
            start += ObjectEnvelope.segmentSize
        }
        if start > 0 { buffer.removeFirst(start) }
        return out
    }

    public mutating func finish() throws -> [UInt8] {
        defer { buffer = [] }
        return try seal(buffer[...], final: true)
    }

    private mutating func seal(_ plaintext: ArraySlice<UInt8>, final: Bool) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key, nonce: ObjectEnvelope.nonce(index, final: final), authenticating: header)
        index += 1
        return Array(box.ciphertext) + Array(box.tag)
    }
}

/// An object store whose files are encrypted envelopes: writes seal, reads open into memory. Ids are the
/// SHA-256 of the file's bytes as before, so fsck, gc and the replacement map work unchanged.
public final class EncryptedObjectStore: ObjectStore {
    public let base: LocalObjectStore
    /// Every data key of the repository by id (older objects may use older keys); `active` seals new objects.
    private let keys: [[UInt8]: DataKey]
    private let active: DataKey

    public init(base: LocalObjectStore, keys: [DataKey], active: DataKey) {
        self.base = base
        self.keys = Dictionary(keys.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.active = active
    }

    public func put(_ bytes: [UInt8]) async throws -> ObjectID {
        try await base.put(try bytes.withUnsafeBytes { try ObjectEnvelope.seal($0, with: active) })
    }

    public func stage() throws -> StagedObject {
        let salt = (0..<32).map { _ in UInt8.random(in: 0...255) }  // a streamed object: random salt
        return try base.stage(sealer: SegmentSealer(dataKey: active, salt: salt))
    }

    public func publish(_ staged: StagedObject) async throws -> ObjectID { try await base.publish(staged) }

    public func get(_ id: ObjectID) async throws -> ByteView {
        let sealed = try await base.get(id)
        return ByteView(storage: try ObjectEnvelope.open(sealed.buffer, keys: keys, what: "object \(id.short)"))
    }

    public func contains(_ id: ObjectID) async throws -> Bool { try await base.contains(id) }
    public func ids(withPrefix prefix: String) async throws -> [ObjectID] { try await base.ids(withPrefix: prefix) }
    public func delete(_ id: ObjectID) async throws { try await base.delete(id) }
    public func list() async throws -> [ObjectInfo] { try await base.list() }
    public func removeStaleTemporaryFiles(olderThan age: TimeInterval) { base.removeStaleTemporaryFiles(olderThan: age) }
    public func stored(_ id: ObjectID) async throws -> ByteView { try await base.get(id) }
    public func file(_ id: ObjectID) -> URL? { base.file(id) }
}
