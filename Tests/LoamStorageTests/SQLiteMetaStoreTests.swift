import Foundation
import LoamStorage
import LoamTestSupport
import Testing

@Suite struct SQLiteMetaStoreTests {
    let a = try! ObjectID(hex: String(repeating: "a", count: 64))
    let b = try! ObjectID(hex: String(repeating: "b", count: 64))
    let c = try! ObjectID(hex: String(repeating: "c", count: 64))

    @Test func branchMovesAreCompareAndSwap() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let meta = try SQLiteMetaStore(path: dir.appendingPathComponent("catalog.sqlite").path)
        try await meta.compareAndSwap(branch: "main", expected: nil, new: a)
        try await meta.compareAndSwap(branch: "main", expected: a, new: b)
        await #expect(throws: StorageError.refConflict(branch: "main", expected: a.hex, actual: b.hex)) {
            try await meta.compareAndSwap(branch: "main", expected: a, new: c)
        }
        #expect(try await meta.ref(named: "main")?.commit == b)
        await #expect(throws: StorageError.self) { try await meta.compareAndSwap(branch: "main", expected: nil, new: c) }
    }

    @Test func concurrentWritersFromOneStartingPointOnlyOneWins() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("catalog.sqlite").path
        let meta = try SQLiteMetaStore(path: path)
        try await meta.compareAndSwap(branch: "main", expected: nil, new: a)
        // Separate connections, as separate processes would have.
        let stores = try (0..<8).map { _ in try SQLiteMetaStore(path: path) }
        let targets = try (0..<8).map { try ObjectID(hex: String(repeating: "\($0)", count: 64)) }
        let wins = await withTaskGroup(of: Bool.self) { group in
            for (store, target) in zip(stores, targets) {
                group.addTask { (try? await store.compareAndSwap(branch: "main", expected: a, new: target)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
        #expect(try await targets.contains(meta.ref(named: "main")!.commit))
    }

    @Test func rowIDRangesNeverOverlapAcrossConnections() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("catalog.sqlite").path
        let stores = try (0..<4).map { _ in try SQLiteMetaStore(path: path) }
        let ranges = try await withThrowingTaskGroup(of: [Range<UInt64>].self) { group in
            for store in stores {
                group.addTask { var r: [Range<UInt64>] = []; for n in 1...25 { r.append(try await store.allocateRowIDs(n)) }; return r }
            }
            return try await group.reduce([]) { $0 + $1 }
        }
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        for (x, y) in zip(sorted, sorted.dropFirst()) { #expect(x.upperBound == y.lowerBound) }
        #expect(sorted.reduce(0) { $0 + $1.count } == 4 * (25 * 26 / 2))
    }

    @Test func tagsRefsAndSettingsPersistAcrossReopen() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("catalog.sqlite").path
        do {
            let meta = try SQLiteMetaStore(path: path)
            try await meta.createRef(Ref(name: "v1", kind: .tag, commit: a))
            await #expect(throws: StorageError.refExists("v1")) { try await meta.createRef(Ref(name: "v1", kind: .tag, commit: b)) }
            await #expect(throws: StorageError.invalidRefName("bad name")) { try await meta.createRef(Ref(name: "bad name", kind: .tag, commit: b)) }
            try await meta.setCurrentBranch("dev")
            try await meta.registerDataset("reviews", createdBy: a)
        }
        let reopened = try SQLiteMetaStore(path: path)
        #expect(try await reopened.refs(kind: .tag).map(\.name) == ["v1"])
        #expect(try await reopened.currentBranch() == "dev")
        #expect(try await reopened.registeredDatasets() == ["reviews"])
        try await reopened.deleteRef(named: "v1")
        #expect(try await reopened.ref(named: "v1") == nil)
    }
}
