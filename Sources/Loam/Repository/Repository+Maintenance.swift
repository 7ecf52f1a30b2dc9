import Foundation
import LoamFormat
import LoamStorage
import LoamTable

/// What `gc` deleted (or, in a dry run, would delete).
public struct GCReport: Sendable {
    public let reachable: Int
    public let deleted: Int
    public let deletedBytes: Int
    /// Unreachable objects kept because they are newer than the grace period (a writer may be using them).
    public let keptRecent: Int
    public let dryRun: Bool
}

/// One problem `fsck` found.
public struct FsckProblem: Sendable, CustomStringConvertible {
    public let object: ObjectID
    public let kind: String
    public let ref: String
    public let problem: String
    public var description: String { "\(kind) \(object.short) (reached from \(ref)): \(problem)" }
}

/// Bytes one dataset holds at one branch head, split by whether other branch heads share them.
public struct StorageUsage: Sendable {
    public let branch: String
    public let dataset: String
    public let bytes: Int
    public let unique: Int
    public var shared: Int { bytes - unique }
}

extension Repository {
    /// The roots garbage collection keeps: every branch and tag, and every
    /// commit a ref pointed at within the retention window.
    func roots(retention: TimeInterval) async throws -> [(name: String, commit: ObjectID)] {
        var roots = try await meta.refs(kind: nil).map { ($0.name, $0.commit) }
        for entry in try await meta.refLog(since: Date().addingTimeInterval(-retention)) {
            if let old = entry.old { roots.append(("reflog of \(entry.name)", old)) }
            if let new = entry.new { roots.append(("reflog of \(entry.name)", new)) }
        }
        return roots
    }

    /// Deletes objects no branch, tag or recently-referenced commit reaches.
    /// Objects written or re-used within `grace` are kept even if unreachable.
    ///
    /// Safe beside running writers by protocol, whatever `grace` is: gc first
    /// stops new writers at `WriteLocks.gate`, then waits (up to `wait` seconds)
    /// until every registered writer has committed or given up, and only then
    /// reads the refs, lists and deletes. An object a writer re-uses is either
    /// reachable by then or re-used after gc is done (and so written again).
    @discardableResult
    public func gc(retention: TimeInterval = 7 * 86_400, grace: TimeInterval = 3_600, dryRun: Bool = false,
                   wait: TimeInterval = 60) async throws -> GCReport {
        guard let gate = try await locks.acquire(.gate, exclusive: true, waitingAtMost: wait),
              let quiet = try await locks.acquire(.writers, exclusive: true, waitingAtMost: wait) else {
            throw LoamError.busy("gc waited \(Int(wait)) s for the writes in progress (an open transaction, a long import) to finish; nothing was deleted — run it again later")
        }
        defer { quiet.release(); gate.release() }
        try objects.refreshReplacements()
        // List before walking: an object written after the listing is not a candidate at all.
        let listed = try await objects.list()
        let reach = try await Reachability.walk(try await roots(retention: retention), tables: tables)
        if let problem = reach.problems.first {
            throw TableError.corrupt("gc stopped before deleting anything: \(problem.kind.rawValue) \(problem.id.short) is \(problem.problem); run `loam fsck`")
        }
        // Objects named outside commits (experiment artifacts) are roots too.
        let artifacts = try await meta.indexedObjects()
        let cutoff = Date().addingTimeInterval(-grace)
        // Objects an erasure replaced go whatever else points to them (an erasure cut off before it deleted them).
        let replaced = (objects as? ReplacingObjectStore)?.replacedIDs ?? []
        if !dryRun, listed.contains(where: { replaced.contains($0.id) }) {
            (meta as? any ErasureStore)?.bumpReplacementsVersion()  // an erasure cut off before it told other processes
        }
        var deleted = 0, bytes = 0, kept = 0
        for info in listed where replaced.contains(info.id) || (reach.objects[info.id] == nil && !artifacts.contains(info.id)) {
            if info.modified > cutoff && !replaced.contains(info.id) { kept += 1; continue }
            deleted += 1
            bytes += info.bytes
            if !dryRun {
                try await objects.delete(info.id)
                FailPoint.hit("gc-deleted")
            }
        }
        if !dryRun { objects.removeStaleTemporaryFiles(olderThan: grace) }
        return GCReport(reachable: reach.objects.count, deleted: deleted, deletedBytes: bytes, keptRecent: kept, dryRun: dryRun)
    }

    /// Walks everything reachable from every ref, re-hashing each object; returns what is missing or corrupt.
    public func fsck() async throws -> (checked: Int, problems: [FsckProblem]) {
        let roots = try await meta.refs(kind: nil).map { ($0.name, $0.commit) }
        let reach = try await Reachability.walk(roots, tables: tables, verify: true)
        return (reach.objects.count, reach.problems.map { FsckProblem(object: $0.id, kind: $0.kind.rawValue, ref: $0.root, problem: $0.problem) })
    }

    /// Rewrites runs of small fragments, and fragments with deleted rows, into
    /// fragments of about `targetRows` live rows, as one commit. Row ids, row
    /// order and every older version stay as they were.
    @discardableResult
    public func compact(_ dataset: String, targetRows: Int = 65_536) async throws -> (commit: ObjectID, before: Int, after: Int) {
        var counts = (0, 0)
        let id = try await commit(message: "Compact \(dataset)") { tree in
            var manifest = try await manifest(dataset, in: tree)
            let reader = FragmentReader(objects: objects)
            let writer = FragmentWriter(objects: objects)
            let ids = manifest.schema.columns.compactMap(\.id)
            let fields = try manifest.schema.columns.map { try $0.field() }
            var result: [FragmentEntry] = []
            var pending: [FragmentData] = []
            var pendingRows = 0
            func flush() async throws {
                guard !pending.isEmpty else { return }
                var picks: [(source: Int, index: Int)] = []
                for (s, data) in pending.enumerated() { for i in 0..<data.liveCount { picks.append((s, data.physical(i))) } }
                var start = 0
                while start < picks.count {
                    let slice = Array(picks[start..<min(start + targetRows, picks.count)])
                    let columns = ids.indices.map { c in ArrowArray.gather(from: pending.map { $0.columns[c] }, slice) }
                    let rowIDs = ArrowArray.gather(from: pending.map(\.rowIDs), slice)
                    result.append(try await writer.write(columns: columns, columnIDs: ids, fields: fields, rowIDs: rowIDs))
                    start += targetRows
                }
                pending = []
                pendingRows = 0
            }
            for entry in manifest.fragments {
                let needsWork = entry.deletedRows > 0 || entry.liveRows < targetRows / 2 || entry.columnIDs != ids
                if !needsWork { try await flush(); result.append(entry); continue }
                pending.append(try await reader.read(entry, schema: manifest.schema, columnIDs: ids))
                pendingRows += entry.liveRows
                if pendingRows >= targetRows { try await flush() }
            }
            try await flush()
            counts = (manifest.fragments.count, result.count)
            manifest.fragments = result
            tree[dataset] = try await tables.save(manifest)
        }
        return (id, counts.0, counts.1)
    }

    /// Bytes per dataset at each branch head, and how many of them no other branch head shares.
    public func storageReport() async throws -> [StorageUsage] {
        var perBranch: [(branch: String, dataset: String, objects: [ObjectID: Int])] = []
        for branch in try await meta.refs(kind: .branch) {
            for (dataset, manifestID) in try await tables.commit(branch.commit).tree.sorted(by: { $0.key < $1.key }) {
                var sizes: [ObjectID: Int] = [:]
                for fragment in try await tables.manifest(manifestID).fragments {
                    sizes[fragment.object] = fragment.bytes
                    if let vector = fragment.deletions { sizes[vector] = try await objects.get(vector).count }
                }
                perBranch.append((branch.name, dataset, sizes))
            }
        }
        return perBranch.map { entry in
            let others = perBranch.filter { $0.branch != entry.branch }
            let unique = entry.objects.filter { id, _ in !others.contains { $0.objects[id] != nil } }.values.reduce(0, +)
            return StorageUsage(branch: entry.branch, dataset: entry.dataset, bytes: entry.objects.values.reduce(0, +), unique: unique)
        }
    }
}
