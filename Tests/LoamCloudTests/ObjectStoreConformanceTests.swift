import Foundation
import LoamCloud
import LoamFormat
import LoamStorage
import LoamTestSupport
import Testing

/// The ObjectStore contract, run on the local folder and on S3 (SeaweedFS, signatures checked).
@Suite struct ObjectStoreConformanceTests {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: state >> 33) }
    }

    @Test(arguments: BackendPair.available)
    func putGetContainsListDelete(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try pair.objectStore(in: dir)
        let hello = Array("hello".utf8), empty: [UInt8] = []
        let id = try await store.put(hello)
        #expect(id == hello.withUnsafeBytes { ObjectID.hash($0) })
        #expect(try await store.put(hello) == id)  // the same content twice is one object
        let emptyID = try await store.put(empty)
        #expect(try await store.get(id).bytes == hello)
        #expect(try await store.get(emptyID).count == 0)
        #expect(try await store.contains(id))
        let missing = try ObjectID(hex: String(repeating: "e", count: 64))
        #expect(try await !store.contains(missing))
        await #expect(throws: StorageError.objectNotFound(missing.hex)) { _ = try await store.get(missing) }
        #expect(try await store.ids(withPrefix: String(id.hex.prefix(6))) == [id])
        #expect(try await store.ids(withPrefix: "ab") == [])  // fewer than 4 digits: no search
        let listed = try await store.list()
        #expect(Set(listed.map(\.id)) == [id, emptyID])
        #expect(listed.first { $0.id == id }?.bytes == 5)
        #expect(abs(listed.first { $0.id == id }!.modified.timeIntervalSinceNow) < 600)
        try await store.delete(id)
        #expect(try await !store.contains(id))
        try await store.delete(id)  // deleting what is gone is not an error
        #expect(try await store.list().map(\.id) == [emptyID])
    }

    @Test(arguments: BackendPair.available)
    func rangedReadsReturnExactlyTheBytesAsked(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try pair.objectStore(in: dir)
        let data = Self.bytes(100_000, seed: 7)
        let id = try await store.put(data)
        for range in [0..<1, 0..<100_000, 99_999..<100_000, 4_096..<70_001, 12..<12] {
            let read = try await store.read(id, range: range)
            #expect(read.bytes == Array(data[range]), "range \(range)")
        }
        await #expect(throws: StorageError.self) { _ = try await store.read(id, range: 99_000..<100_001) }
        let missing = try ObjectID(hex: String(repeating: "d", count: 64))
        await #expect(throws: StorageError.objectNotFound(missing.hex)) { _ = try await store.read(missing, range: 0..<10) }
    }

    /// A staged object over the part size goes up as a multipart upload (three 5 MiB parts here) and reads back whole.
    @Test(arguments: BackendPair.available)
    func stagedObjectsStreamUpInParts(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try pair.objectStore(in: dir, partSize: 5 << 20)
        let data = Self.bytes(12 << 20 | 12_345, seed: 11)
        let staged = try store.stage()
        for start in stride(from: 0, to: data.count, by: 1 << 20) {
            try data[start..<min(data.count, start + (1 << 20))].withUnsafeBytes { try staged.write($0) }
        }
        let id = try await store.publish(staged)
        #expect(id == data.withUnsafeBytes { ObjectID.hash($0) })
        #expect(!FileManager.default.fileExists(atPath: staged.url.path) || pair == .embedded)  // the staged file is gone once uploaded
        let back = try await store.get(id)
        #expect(back.count == data.count)
        #expect(ObjectID.hash(back.buffer) == id)
        // Published again (the same content): nothing changes, no error.
        let again = try store.stage()
        try data.withUnsafeBytes { try again.write($0) }
        #expect(try await store.publish(again) == id)
        #expect(try await store.list().map(\.id) == [id])
    }

    @Test(arguments: BackendPair.available)
    func listingPagesThroughMoreThanOnePage(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try pair.objectStore(in: dir)
        // 1,100 objects: S3 answers at most 1,000 keys a page, so the listing must follow the continuation token.
        let ids = try await withThrowingTaskGroup(of: ObjectID.self) { group in
            for n in 0..<1_100 { group.addTask { try await store.put(Array("object \(n)".utf8)) } }
            return try await group.reduce(into: Set<ObjectID>()) { $0.insert($1) }
        }
        #expect(Set(try await store.list().map(\.id)) == ids)
    }
}
