import Foundation
import LoamFormat
import LoamStorage
import LoamTable

/// Runs `produce(0..<count)` on up to `parallelism` tasks (at most `2 × parallelism`
/// results in flight) and hands the results to `consume` in index order, one at
/// a time; `consume` returns false to stop early.
public func concurrentlyInOrder<T: Sendable>(_ count: Int, parallelism: Int = ProcessInfo.processInfo.activeProcessorCount,
                                             produce: @escaping @Sendable (Int) async throws -> T,
                                             consume: (T) async throws -> Bool) async throws {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        var next = 0, wanted = 0
        var ready: [Int: T] = [:]
        func start() {
            let index = next
            next += 1
            group.addTask {
                try StatementLimit.check()  // between batches: a statement past its deadline stops here
                return (index, try await produce(index))
            }
        }
        while next < count && next < max(1, parallelism) * 2 { start() }
        while wanted < count, let (index, result) = try await group.next() {
            ready[index] = result
            while let result = ready.removeValue(forKey: wanted) {
                wanted += 1
                if next < count { start() }
                try StatementLimit.check()
                guard try await consume(result) else { group.cancelAll(); return }
            }
        }
    }
}

/// One dataset as of one commit: read-only, cheap to hold.
///
/// ```swift
/// let ds = try await repo.dataset("reviews", at: "v1")
/// try await ds.scan(columns: ["label"]) { batch in … }
/// ```
public struct Dataset: Sendable {
    public let name: String
    public let commit: ObjectID
    public let manifest: Manifest
    /// The user-visible schema (without `_rowid`).
    public let schema: Schema
    let reader: FragmentReader

    public var rowCount: Int { manifest.rowCount }
    public var fragmentCount: Int { manifest.fragments.count }

    /// Streams the live rows, fragment by fragment, as record batches of the
    /// chosen columns (all by default), optionally with `_rowid` first.
    /// With `pruning`, fragments whose zone maps rule out every row are skipped unread.
    public func scan(columns: [String]? = nil, includeRowID: Bool = false, limit: Int = .max, pruning: PruningPredicate? = nil,
                     _ body: (RecordBatch) async throws -> Void) async throws {
        let (ids, fields) = try projection(columns, includeRowID: includeRowID)
        let outSchema = Schema(fields: fields, metadata: schema.metadata)
        var remaining = limit
        let entries = kept(pruning)
        // From a remote store (S3) the next fragments are fetched while this one is consumed (more of them when
        // only some columns are: their ranged reads are small); a local one is mapped at once.
        let (reader, tableSchema) = (self.reader, manifest.schema)
        let readAhead = reader.objects.isLocal ? 0 : ids.count < manifest.schema.columns.count ? 6 : 2
        var pending: [Task<FragmentData, Error>] = []
        var next = 0
        do {
            while remaining > 0 {
                while next < entries.count && pending.count <= readAhead {
                    let entry = entries[next]
                    pending.append(Task { try await reader.read(entry, schema: tableSchema, columnIDs: ids, verifyingRowIDs: includeRowID) })
                    next += 1
                }
                guard !pending.isEmpty else { break }
                let data = try await pending.removeFirst().value
                var (rowIDs, arrays) = data.compacted()
                if rowIDs.length > remaining {
                    let keep = Array(0..<remaining)
                    rowIDs = rowIDs.take(keep)
                    arrays = arrays.map { $0.take(keep) }
                }
                remaining -= rowIDs.length
                try await body(RecordBatch(schema: outSchema, columns: (includeRowID ? [rowIDs] : []) + arrays, length: rowIDs.length))
            }
        } catch {
            for task in pending { task.cancel() }
            throw error
        }
        for task in pending { task.cancel() }  // read ahead past a limit
    }

    /// The fragments with live rows that `pruning` does not rule out.
    private func kept(_ pruning: PruningPredicate?) -> [FragmentEntry] {
        manifest.fragments.filter { $0.liveRows > 0 && (pruning?.mayMatch($0, schema: manifest.schema) ?? true) }
    }

    /// Reads the fragments that `pruning` keeps, up to `parallelism` at once,
    /// and runs `transform` on each one's live rows (concurrently, on any
    /// thread); `consume` then receives the results one at a time in fragment
    /// order and returns false to stop early. At most `2 × parallelism`
    /// fragments are mapped or waiting at any moment, so memory stays bounded
    /// however large the dataset.
    public func scanFragments<T: Sendable>(columns: [String]? = nil, includeRowID: Bool = false, pruning: PruningPredicate? = nil,
                                           parallelism: Int = ProcessInfo.processInfo.activeProcessorCount,
                                           transform: @escaping @Sendable (RecordBatch) throws -> T,
                                           consume: (T) async throws -> Bool) async throws {
        let (ids, fields) = try projection(columns, includeRowID: includeRowID)
        let outSchema = Schema(fields: fields, metadata: schema.metadata)
        let entries = kept(pruning)
        let (reader, tableSchema) = (self.reader, manifest.schema)
        try await concurrentlyInOrder(entries.count, parallelism: parallelism, produce: { index in
            let data = try await reader.read(entries[index], schema: tableSchema, columnIDs: ids, verifyingRowIDs: includeRowID)
            let (rowIDs, arrays) = data.compacted()
            return try transform(RecordBatch(schema: outSchema, columns: (includeRowID ? [rowIDs] : []) + arrays, length: rowIDs.length))
        }, consume: consume)
    }

    /// Column ids to read and the output fields (with `_rowid` first when asked) for `columns` (all by default).
    func projection(_ columns: [String]?, includeRowID: Bool) throws -> (ids: [Int], fields: [Field]) {
        var ids: [Int] = []
        var fields: [Field] = includeRowID ? [RowID.field] : []
        for name in columns ?? manifest.schema.names {
            guard let spec = manifest.schema.columns.first(where: { $0.name == name }), let id = spec.id else {
                throw TableError.unknownColumn(name, dataset: self.name, available: manifest.schema.names)
            }
            ids.append(id)
            fields.append(try spec.field())
        }
        return (ids, fields)
    }

    /// The first `n` live rows as one batch.
    public func head(_ n: Int, columns: [String]? = nil, includeRowID: Bool = false) async throws -> [RecordBatch] {
        var batches: [RecordBatch] = []
        try await scan(columns: columns, includeRowID: includeRowID, limit: n) { batches.append($0) }
        return batches
    }
}

extension Repository {
    public func dataset(_ name: String, at ref: String = "HEAD") async throws -> Dataset {
        // Inside a transaction, HEAD is its pending tree.
        if ref == "HEAD", let transaction = Repository.transaction {
            let manifest = try await manifest(name, in: transaction.tree)
            return Dataset(name: name, commit: transaction.base, manifest: manifest, schema: try manifest.schema.arrowSchema(),
                           reader: FragmentReader(objects: objects))
        }
        let id = try await tables.resolve(ref)
        let commit = try await tables.commit(id)
        let manifest = try await manifest(name, in: commit.tree)
        return Dataset(name: name, commit: id, manifest: manifest, schema: try manifest.schema.arrowSchema(),
                       reader: FragmentReader(objects: objects))
    }

    /// Dataset names at `ref`, sorted.
    public func datasets(at ref: String = "HEAD") async throws -> [String] {
        if ref == "HEAD", let transaction = Repository.transaction { return transaction.tree.keys.sorted() }
        return try await tables.commit(try await tables.resolve(ref)).tree.keys.sorted()
    }

    /// Commits reachable from `ref` by first parents, newest first.
    public func log(from ref: String = "HEAD", limit: Int = .max) async throws -> [(id: ObjectID, commit: Commit)] {
        try await tables.history(from: try await tables.resolve(ref), limit: limit)
    }

    public func resolve(_ ref: String) async throws -> ObjectID { try await tables.resolve(ref) }

    public func currentBranch() async throws -> String { try await meta.currentBranch() }

    /// Tags `ref` (default HEAD) as `name`.
    @discardableResult
    public func tag(_ name: String, at ref: String = "HEAD") async throws -> ObjectID {
        let id = try await tables.resolve(ref)
        try await meta.createRef(Ref(name: name, kind: .tag, commit: id))
        return id
    }

    public func tags() async throws -> [Ref] { try await meta.refs(kind: .tag) }
    public func branches() async throws -> [Ref] { try await meta.refs(kind: .branch) }
}

/// What one commit did to one dataset, relative to its first parent.
public struct DatasetChange: Sendable, Equatable {
    public enum Kind: String, Sendable { case created, dropped, modified }
    public let dataset: String
    public let kind: Kind
    public let rowsBefore: Int
    public let rowsAfter: Int

    public init(dataset: String, kind: Kind, rowsBefore: Int, rowsAfter: Int) {
        self.dataset = dataset
        self.kind = kind
        self.rowsBefore = rowsBefore
        self.rowsAfter = rowsAfter
    }
}

extension Repository {
    /// The datasets that `commit` created, dropped or modified, with row counts.
    public func changes(in commit: ObjectID) async throws -> [DatasetChange] {
        let current = try await tables.commit(commit)
        var parentTree: Tree = [:]
        if let parent = current.parents.first { parentTree = try await tables.commit(parent).tree }
        var changes: [DatasetChange] = []
        for name in Set(current.tree.keys).union(parentTree.keys).sorted() {
            let before = parentTree[name], after = current.tree[name]
            guard before != after else { continue }
            let rowsBefore = try await tables.manifest(before)?.rowCount ?? 0
            let rowsAfter = try await tables.manifest(after)?.rowCount ?? 0
            changes.append(DatasetChange(dataset: name, kind: before == nil ? .created : after == nil ? .dropped : .modified,
                                         rowsBefore: rowsBefore, rowsAfter: rowsAfter))
        }
        return changes
    }
}

/// Fragments a series of takes keeps mapped between calls (a training stream reads the same
/// fragments batch after batch); the most recent `capacity` stay.
public final class FragmentCache: @unchecked Sendable {
    private var entries: [String: FragmentData] = [:]
    private var order: [String] = []
    private let capacity: Int
    private let lock = NSLock()

    public init(capacity: Int = 256) { self.capacity = capacity }

    func get(_ fragment: Int, _ ids: [Int]) -> FragmentData? {
        lock.withLock { entries["\(fragment):\(ids)"] }
    }

    func keep(_ fragment: Int, _ ids: [Int], _ data: FragmentData) {
        lock.withLock {
            let key = "\(fragment):\(ids)"
            if entries.updateValue(data, forKey: key) == nil { order.append(key) }
            if order.count > capacity { entries[order.removeFirst()] = nil }
        }
    }
}

extension Dataset {
    /// The rows at `positions` (0-based among live rows, in dataset order),
    /// returned in the order asked. Only the fragments holding them are read.
    public func take(_ positions: [Int], columns: [String]? = nil, includeRowID: Bool = false, cache: FragmentCache? = nil) async throws -> RecordBatch {
        let (ids, fields) = try projection(columns, includeRowID: includeRowID)
        // Live-row offsets where each fragment starts.
        var starts: [Int] = []
        var total = 0
        for entry in manifest.fragments { starts.append(total); total += entry.liveRows }
        // Which fragment holds each position (the last whose start is <= it).
        var holders: [Int] = []
        holders.reserveCapacity(positions.count)
        for position in positions {
            guard position >= 0 && position < total else {
                throw TableError.invalidArgument("row position \(position) is out of range: dataset '\(name)' has \(total) rows")
            }
            var lo = 0, hi = starts.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if starts[mid] <= position { lo = mid } else { hi = mid - 1 }
            }
            holders.append(lo)
        }
        // Each fragment needed is read once (the cache first); from a remote store, four at a time.
        var needed: [Int] = []
        var slots: [Int: Int] = [:]  // fragment index → source slot
        for f in holders where slots[f] == nil { slots[f] = needed.count; needed.append(f) }
        var sources: [FragmentData?] = needed.map { cache?.get($0, ids) }
        let missing = needed.indices.filter { sources[$0] == nil }
        let parallel = reader.objects.isLocal ? 1 : 4
        let (reader, tableSchema, fragments, wanted) = (self.reader, manifest.schema, manifest.fragments, needed)
        var arrived = 0
        try await concurrentlyInOrder(missing.count, parallelism: parallel, produce: { i in
            try await reader.read(fragments[wanted[missing[i]]], schema: tableSchema, columnIDs: ids)
        }, consume: { data in
            sources[missing[arrived]] = data
            cache?.keep(wanted[missing[arrived]], ids, data)
            arrived += 1
            return true
        })
        let sourcesList = sources.compactMap { $0 }
        var picks: [(source: Int, index: Int)] = []
        picks.reserveCapacity(positions.count)
        for (position, f) in zip(positions, holders) { picks.append((slots[f]!, sourcesList[slots[f]!].physical(position - starts[f]))) }
        var columns: [ArrowArray] = []
        if includeRowID { columns.append(positions.isEmpty ? .nulls(type: .uint64, count: 0) : .gather(from: sourcesList.map(\.rowIDs), picks)) }
        for (c, field) in fields.dropFirst(includeRowID ? 1 : 0).enumerated() {
            columns.append(positions.isEmpty ? .nulls(type: field.type, count: 0) : .gather(from: sourcesList.map { $0.columns[c] }, picks))
        }
        return RecordBatch(schema: Schema(fields: fields, metadata: schema.metadata), columns: columns, length: positions.count)
    }
}
