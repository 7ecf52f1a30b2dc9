import Foundation
import LoamCloud
import LoamStorage
import LoamTestSupport
import Testing

/// The catalog contract (refs, reflog, row ids, datasets, settings, users and tokens, the object index, the
/// audit chain), run on SQLite and on PostgreSQL. "another" opens a second connection pool to the same
/// catalog, as a second process or server would.
@Suite struct MetaStoreConformanceTests {
    let a = try! ObjectID(hex: String(repeating: "a", count: 64))
    let b = try! ObjectID(hex: String(repeating: "b", count: 64))
    let c = try! ObjectID(hex: String(repeating: "c", count: 64))

    static func commitID(_ n: Int) -> ObjectID { try! ObjectID(hex: String(format: "%064x", n)) }

    @Test(arguments: BackendPair.available)
    func refsMoveByCompareAndSwapOnly(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let meta = try pair.catalog(in: dir).meta
        try await meta.compareAndSwap(branch: "main", expected: nil, new: a)
        try await meta.compareAndSwap(branch: "main", expected: a, new: b)
        await #expect(throws: StorageError.refConflict(branch: "main", expected: a.hex, actual: b.hex)) {
            try await meta.compareAndSwap(branch: "main", expected: a, new: c)
        }
        await #expect(throws: StorageError.self) { try await meta.compareAndSwap(branch: "main", expected: nil, new: c) }
        await #expect(throws: StorageError.invalidRefName("bad..name")) { try await meta.compareAndSwap(branch: "bad..name", expected: nil, new: c) }
        #expect(try await meta.ref(named: "main") == Ref(name: "main", kind: .branch, commit: b))
        try await meta.createRef(Ref(name: "v1", kind: .tag, commit: a))
        await #expect(throws: StorageError.refExists("v1")) { try await meta.createRef(Ref(name: "v1", kind: .tag, commit: b)) }
        // A tag is not a branch: compare-and-swap does not move it.
        await #expect(throws: StorageError.self) { try await meta.compareAndSwap(branch: "v1", expected: a, new: b) }
        try await meta.createRef(Ref(name: "Zeta", kind: .branch, commit: c))
        try await meta.createRef(Ref(name: "ärger", kind: .branch, commit: c))
        // Byte order, as SQLite sorts: upper case before lower, UTF-8 after ASCII.
        #expect(try await meta.refs(kind: nil).map(\.name) == ["Zeta", "main", "v1", "ärger"])
        #expect(try await meta.refs(kind: .tag).map(\.name) == ["v1"])
        try await meta.setCurrentBranch("Zeta")
        try await meta.renameRef("Zeta", to: "zeta")
        #expect(try await meta.currentBranch() == "zeta")  // the current branch follows its rename
        await #expect(throws: StorageError.refExists("main")) { try await meta.renameRef("zeta", to: "main") }
        await #expect(throws: StorageError.refNotFound("nope")) { try await meta.renameRef("nope", to: "other") }
        try await meta.deleteRef(named: "ärger")
        await #expect(throws: StorageError.refNotFound("ärger")) { try await meta.deleteRef(named: "ärger") }
        #expect(try await meta.ref(named: "ärger") == nil)
        let log = try await meta.refLog(since: Date(timeIntervalSinceNow: -600))
        #expect(log.first == RefLogEntry(name: "ärger", old: c, new: nil, time: log.first!.time))
        #expect(log.contains { $0.name == "main" && $0.old == a && $0.new == b })
        #expect(log.count == 8)  // main ×2, v1, Zeta, ärger, rename (two entries), delete
        #expect(try await meta.refLog(since: Date(timeIntervalSinceNow: 600)).isEmpty)
    }

    /// Eight writers, each with its own connection, increment one branch 15 times by compare-and-swap with
    /// retry: every increment lands (no lost update), and the reflog holds each move once.
    @Test(arguments: BackendPair.available)
    func concurrentWritersNeverLoseAnUpdate(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (meta, another) = try pair.catalog(in: dir)
        try await meta.compareAndSwap(branch: "main", expected: nil, new: Self.commitID(0))
        let writers = try (0..<8).map { _ in try another() }
        let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in writers {
                group.addTask {
                    var conflicts = 0
                    for _ in 0..<15 {
                        while true {
                            let head = try await writer.ref(named: "main")!.commit
                            let next = Self.commitID(Int(head.hex, radix: 16)! + 1)
                            do { try await writer.compareAndSwap(branch: "main", expected: head, new: next); break } catch StorageError.refConflict {
                                conflicts += 1
                            }
                        }
                    }
                    return conflicts
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(try await meta.ref(named: "main")?.commit == Self.commitID(120))
        let moves = try await meta.refLog(since: .distantPast).filter { $0.name == "main" }
        #expect(moves.count == 121)
        #expect(Set(moves.compactMap(\.new)).count == 121)
        print("\(pair): 120 increments by 8 writers, \(conflicts) conflicts retried")
    }

    /// A branch's turn on a shared catalog: while one process holds it, another's move of that branch fails as
    /// a lost race and another's turn waits; the holder's own move and other branches' moves go through.
    @Test(arguments: BackendPair.available.filter { $0 == .servers })
    func aHeldTurnMakesOtherWritersYield(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (holder, another) = try pair.catalog(in: dir)
        let other = try another()
        try await holder.compareAndSwap(branch: "main", expected: nil, new: a)
        try await holder.compareAndSwap(branch: "side", expected: nil, new: a)
        let order = Events()
        let waiter = try await holder.withBranchTurn("main") {
            await #expect(throws: StorageError.refConflict(branch: "main", expected: a.hex, actual: a.hex)) {
                try await other.compareAndSwap(branch: "main", expected: a, new: c)
            }
            try await other.compareAndSwap(branch: "side", expected: a, new: b)  // another branch's turn is free
            let waiter = Task { try await other.withBranchTurn("main") { await order.note("waiter") } }
            try await Task.sleep(nanoseconds: 300_000_000)
            await order.note("holder")
            try await BranchTurn.$held.withValue(true) { try await holder.compareAndSwap(branch: "main", expected: a, new: b) }
            return waiter
        }
        try await waiter.value
        #expect(await order.list == ["holder", "waiter"])
        try await other.compareAndSwap(branch: "main", expected: b, new: c)  // released: moves go through again
        #expect(try await holder.ref(named: "main")?.commit == c)
    }

    @Test(arguments: BackendPair.available)
    func rowIDRangesNeverOverlap(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, another) = try pair.catalog(in: dir)
        let stores = try (0..<4).map { _ in try another() }
        let ranges = try await withThrowingTaskGroup(of: [Range<UInt64>].self) { group in
            for store in stores {
                group.addTask { var r: [Range<UInt64>] = []; for n in 1...25 { r.append(try await store.allocateRowIDs(n)) }; return r }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted.first?.lowerBound == 0)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })  // contiguous, no overlap, no gap
        #expect(sorted.last?.upperBound == 4 * (1...25).reduce(0, +))
    }

    @Test(arguments: BackendPair.available)
    func datasetsSettingsAndTheObjectIndex(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let meta = try pair.catalog(in: dir).meta
        try await meta.registerDataset("reviews", createdBy: a)
        try await meta.registerDataset("reviews", createdBy: b)  // idempotent
        try await meta.registerDataset("Images", createdBy: a)
        #expect(try await meta.registeredDatasets() == ["Images", "reviews"])
        #expect(try await meta.setting("missing") == nil)
        try await meta.setSetting("k", "v1")
        try await meta.setSetting("k", "v2 — ünïcode")
        #expect(try await meta.setting("k") == "v2 — ünïcode")
        #expect(try await meta.currentBranch() == "main")
        try await meta.indexObject(path: "runs/1/model.pkl", object: a, size: 10)
        try await meta.indexObject(path: "runs/1/notes.txt", object: b, size: 3)
        try await meta.indexObject(path: "runs/10/x", object: b, size: 1)
        try await meta.indexObject(path: "runs/1/model.pkl", object: c, size: 12)  // replaces
        #expect(try await meta.indexedObject(path: "runs/1/model.pkl").map { [$0.object.hex, String($0.size)] } == [c.hex, "12"])
        #expect(try await meta.indexedPaths(under: "runs/1/").map(\.path) == ["runs/1/model.pkl", "runs/1/notes.txt"])
        #expect(try await meta.indexedPaths(under: "").count == 3)
        #expect(try await meta.indexedObjects() == [b, c])
        #expect(try await meta.removeIndexedObject(path: "runs/10/x"))
        #expect(try await !meta.removeIndexedObject(path: "runs/10/x"))
        #expect(try await meta.indexedObject(path: "nope") == nil)
    }

    @Test(arguments: BackendPair.available)
    func usersTokensAndTheAuditChain(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let meta = try pair.catalog(in: dir).meta
        try await AuditContext.$current.withValue(AuditContext(user: "ada", command: "loam user add")) {
            try await meta.addUser("ada")
            await #expect(throws: StorageError.invalid("user 'ada' exists")) { try await meta.addUser("ada") }
            let (_, stored) = Tokens.issue(user: "ada", role: "writer", dataset: "reviews", expires: Date(timeIntervalSince1970: 2_000_000_000))
            try await meta.addToken(stored)
            let back = try #require(try await meta.token(id: stored.id))
            #expect([back.id, back.user, back.role, back.dataset, back.salt, back.hash] == [stored.id, stored.user, stored.role, stored.dataset, stored.salt, stored.hash])
            #expect(abs(back.created.timeIntervalSince(stored.created)) < 1e-3 && back.expires == stored.expires)  // times as epoch seconds (a double)
            let (_, orphan) = Tokens.issue(user: "nobody", role: "reader", dataset: nil)
            await #expect(throws: StorageError.self) { try await meta.addToken(orphan) }
            let (_, second) = Tokens.issue(user: "ada", role: "admin", dataset: nil)
            try await meta.addToken(second)
            #expect(try await meta.tokens().map(\.id) == [stored.id, second.id])
            #expect(try await meta.revokeToken(id: second.id))
            #expect(try await !meta.revokeToken(id: second.id))
            try await meta.compareAndSwap(branch: "main", expected: nil, new: a)
            try await meta.appendAudit(action: "read", target: "reviews", detail: "GET /api/v1/datasets/reviews")
            #expect(try await meta.removeUser("ada") == 1)
            #expect(try await meta.users().isEmpty)
        }
        let entries = try await meta.auditEntries(user: nil, since: nil, containing: nil)
        #expect(entries.map(\.action) == ["add user", "create token", "create token", "revoke token", "create ref", "read", "remove user"])
        #expect(entries.allSatisfy { $0.user == "ada" })
        // The chain: each entry's hash covers its fields and the previous hash.
        var prev = AuditEntry.genesis
        for entry in entries {
            #expect(entry.prev == prev)
            #expect(entry.detailHash == AuditEntry.detailDigest(salt: entry.detailSalt, detail: entry.detail))
            #expect(entry.hash == AuditEntry.digest(AuditEntry.canonical(seq: entry.seq, time: entry.time, user: entry.user, action: entry.action,
                                                                         target: entry.target, detailHash: entry.detailHash, prev: entry.prev)))
            prev = entry.hash
        }
        #expect(try await meta.auditEntries(user: nil, since: nil, containing: "GET /api").map(\.action) == ["read"])
        #expect(try await meta.auditEntries(user: "bob", since: nil, containing: nil).isEmpty)
        #expect(try await meta.auditEntries(user: nil, since: Date(timeIntervalSinceNow: 600), containing: nil).isEmpty)
    }

    /// Appenders through separate connections still make one chain (no seq taken twice, no fork).
    @Test(arguments: BackendPair.available)
    func concurrentAuditAppendsMakeOneChain(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (meta, another) = try pair.catalog(in: dir)
        let writers = try (0..<6).map { _ in try another() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, writer) in writers.enumerated() {
                group.addTask { for k in 0..<10 { try await writer.appendAudit(action: "read", target: "w\(n)", detail: "\(k)") } }
            }
            try await group.waitForAll()
        }
        let entries = try await meta.auditEntries(user: nil, since: nil, containing: nil)
        #expect(entries.map(\.seq) == Array(1...60))
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $1.prev == $0.hash })
    }
}

/// What happened, in order, across tasks.
actor Events {
    private(set) var list: [String] = []
    func note(_ event: String) { list.append(event) }
}
