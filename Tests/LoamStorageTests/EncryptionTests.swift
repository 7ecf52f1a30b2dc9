import Foundation
import LoamFormat
@testable import LoamStorage
import LoamTestSupport
import Testing

/// The encrypted envelope on real files: sizes around segment boundaries, streamed and whole writes,
/// and every kind of damage (a flipped byte, a cut-off tail, swapped segments, another key) refused.
@Suite struct EncryptionTests {
    static func store(_ dir: URL, key: DataKey = .generate()) throws -> (EncryptedObjectStore, LocalObjectStore) {
        let local = try LocalObjectStore(root: dir)
        return (EncryptedObjectStore(base: local, keys: [key], active: key), local)
    }

    static func bytes(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    @Test func roundTripsAtEverySegmentBoundaryWholeAndStreamed() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (store, local) = try Self.store(dir)
        let s = ObjectEnvelope.segmentSize
        for count in [0, 1, 15, 16, 17, s - 1, s, s + 1, 2 * s, 3 * s + 5] {
            let plain = Self.bytes(count, seed: UInt8(count % 251))
            let id = try await store.put(plain)
            #expect(try await store.get(id).bytes == plain, "whole, \(count) bytes")
            let sealed = try await local.get(id).bytes
            #expect(Array(sealed.prefix(8)) == Array("LOAMENC1".utf8))
            #expect(sealed.count == 64 + count + 16 * max(1, (count + s - 1) / s))
            #expect(try await store.put(plain) == id)  // equal content is one object (a keyed-hash salt)
            // Streamed in odd-sized pieces: a random salt, the same plaintext back.
            var staged = try store.stage()
            var at = 0
            while at < count { let n = min(70_001, count - at); try staged.write(Array(plain[at..<(at + n)])); at += n }
            let streamed = try await store.publish(staged)
            #expect(streamed != id && staged.byteCount == count)
            #expect(try await store.get(streamed).bytes == plain, "streamed, \(count) bytes")
        }
        // No plaintext of a distinctive value reaches any file, temporary ones included.
        let marker = Array("a very distinctive plaintext".utf8)
        var staged = try store.stage()
        try staged.write(marker)
        _ = try await store.publish(staged)
        _ = try await store.put(marker + [1])
        for info in try await local.list() { #expect(!(try await local.get(info.id).bytes).contains(marker)) }
    }

    @Test func damageAndWrongKeysAreErrorsNeverWrongBytes() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = DataKey.generate()
        let (store, local) = try Self.store(dir, key: key)
        let plain = Self.bytes(3 * ObjectEnvelope.segmentSize + 100, seed: 7)
        let id = try await store.put(plain)
        let sealed = try await local.get(id).bytes
        let keys = [key.id: key]
        func opens(_ bytes: [UInt8], _ keys: [[UInt8]: DataKey]) -> Bool {
            (try? bytes.withUnsafeBytes { try ObjectEnvelope.open($0, keys: keys, what: "test") }) != nil
        }
        #expect(opens(sealed, keys))
        var flipped = sealed
        flipped[64 + 5] ^= 1
        #expect(!opens(flipped, keys))
        var header = sealed
        header[30] ^= 1  // the salt: another object key
        #expect(!opens(header, keys))
        let segment = ObjectEnvelope.segmentSize + 16
        #expect(!opens(Array(sealed.prefix(64 + 3 * segment)), keys))  // the last segment cut off: no final flag
        var swapped = Array(sealed.prefix(64))
        swapped += Array(sealed[(64 + segment)..<(64 + 2 * segment)])
        swapped += Array(sealed[64..<(64 + segment)])
        swapped += Array(sealed[(64 + 2 * segment)...])
        #expect(!opens(swapped, keys))
        let other = DataKey(id: key.id, key: DataKey.generate().key)
        #expect(!opens(sealed, [key.id: other]))
        #expect(!opens(sealed, [:]))
        #expect(!opens(Array("plain bytes, not an envelope at all, long enough to pass the header size check....".utf8), keys))
    }

    @Test func masterKeysWrapRotateAndRefuseStrangers() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let meta = try SQLiteMetaStore(path: dir.appendingPathComponent("catalog.sqlite").path)
        let first = try MasterKey.generate(file: dir.appendingPathComponent("k1").path)
        #expect(throws: StorageError.self) { _ = try MasterKey.generate(file: dir.appendingPathComponent("k1").path) }  // never overwrites
        let key = DataKey.generate()
        try meta.addDataKey(key, wrappedBy: first)
        #expect(try meta.dataKeys(with: first).map(\.hexID) == [key.hexID])
        let second = try MasterKey(bytes: Array(repeating: 9, count: 32), source: "test")
        #expect(throws: StorageError.self) { _ = try meta.dataKeys(with: second) }
        #expect(try await meta.rotateMasterKey(from: first, to: second) == 1)
        #expect(throws: StorageError.self) { _ = try meta.dataKeys(with: first) }
        let unwrapped = try meta.dataKeys(with: second)[0]
        let sealed = try [UInt8]([1, 2, 3]).withUnsafeBytes { try ObjectEnvelope.seal($0, with: key) }
        #expect(try sealed.withUnsafeBytes { try ObjectEnvelope.open($0, keys: [key.id: unwrapped], what: "test") }.count == 3)
        #expect(try MasterKey.fromEnvironment(["LOAM_MASTER_KEY": String(repeating: "ab", count: 32)]) != nil)
        #expect(throws: StorageError.self) { _ = try MasterKey.fromEnvironment(["LOAM_MASTER_KEY": "abc"]) }
        #expect(try MasterKey.fromEnvironment([:]) == nil)
    }
}
