import Foundation
import LoamFormat
import LoamStorage
import LoamTestSupport
import Testing

@Suite struct LocalObjectStoreTests {
    @Test func objectsAreAddressedByTheirSHA256() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try LocalObjectStore(root: dir)
        let id = try await store.put(Array("abc".utf8))
        #expect(id.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("objects/ba/7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").path))
        #expect(try await store.get(id).bytes == Array("abc".utf8))
        // Writing the same bytes again is a no-op returning the same id.
        #expect(try await store.put(Array("abc".utf8)) == id)
        // Nothing is left in tmp/.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tmp").path).isEmpty)
    }

    @Test func stagedObjectsStreamLargeContent() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try LocalObjectStore(root: dir)
        var staged = try store.stage()
        var expected: [UInt8] = []
        for i in 0..<50 {
            let chunk = [UInt8](repeating: UInt8(i), count: 100_000)
            try staged.write(chunk)
            expected += chunk
        }
        let id = try await store.publish(staged)
        #expect(try await store.get(id).bytes == expected)
        #expect(try await store.put(expected) == id)
    }

    @Test func prefixesFindObjectsAndMissingObjectsAreNamed() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try LocalObjectStore(root: dir)
        let id = try await store.put([1, 2, 3])
        #expect(try await store.ids(withPrefix: String(id.hex.prefix(6))) == [id])
        #expect(try await store.ids(withPrefix: "zz").isEmpty)
        try await store.delete(id)
        await #expect(throws: StorageError.objectNotFound(id.hex)) { _ = try await store.get(id) }
        #expect(throws: StorageError.self) { _ = try ObjectID(hex: "not-a-hash") }
    }
}
