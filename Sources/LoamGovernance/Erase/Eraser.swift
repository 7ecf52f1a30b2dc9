import Crypto
import Foundation
import Loam
import LoamFormat
import LoamQuery
import LoamStorage
import LoamTable
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What an erasure removed (or, in a dry run, would remove): counts only, never values.
public struct ErasureReport: Sendable, Encodable {
    public var datasets: [String]
    /// Distinct rows (row ids) erased, labels of them included.
    public var rows = 0
    /// Physical copies of those rows removed from fragments (an updated row has one per version written).
    public var copies = 0
    public var fragments = 0
    public var manifests = 0
    public var commits = 0
    public var artifacts = 0
    /// Text cells of the catalog (tracking tags and params, task queries …) the erased values were cut from.
    public var catalogCells = 0
    public var auditEntriesRedacted = 0
    public var historyLines = 0
    /// Distinct text values of the erased rows that no remaining row holds: what was removed everywhere.
    public var values = 0
    /// The audit entry recording the erasure.
    public var auditSeq: Int64?
    public var dryRun = false
    public var seconds = 0.0
}

/// One place where an erased value's bytes were still found.
public struct ErasureFinding: Sendable, Encodable, CustomStringConvertible {
    /// The file, relative to the repository's `.loam/`.
    public let file: String
    public let offset: Int
    /// Which value (its position in the list checked), never the value itself.
    public let value: Int
    public var description: String { "value #\(value + 1) at byte \(offset) of .loam/\(file)" }
}

/// Erasure from every version: the rows a condition matches, in any version of the named datasets (deleted
/// rows still on disk included), and their labels, leave every fragment, manifest statistic, commit message,
/// artifact, catalog cell and the SQL history. Objects are rewritten, never edited: each rewritten object is
/// recorded in the catalog's replacement map under the id it replaces, so commit ids stay valid and every
/// old commit reads as it did, less the erased rows. The work is a read of the fragments the condition may
/// match (zone maps prune the rest) and of the datasets' text columns (a value other rows still hold is not
/// the subject's to erase), and a rewrite of the fragments that held the rows and of the manifests naming them.
///
/// ```swift
/// let (report, values) = try await Eraser.erase(repo, datasets: ["users", "orders"], where: "user_id = 42")
/// let leftovers = try Eraser.scan(repo, for: values)   // [] : no file under .loam holds them
/// ```
public enum Eraser {
    /// Shortest text value searched for and removed (bytes): shorter ones are too common to be anyone's.
    public static let minimumValueBytes = 4

    public static func erase(_ repo: Repository, datasets: [String], where condition: String, dryRun: Bool = false,
                             wait: TimeInterval = 60) async throws -> (report: ErasureReport, values: [String]) {
        let started = Date()
        guard !datasets.isEmpty else { throw LoamError.invalidArgument("name at least one dataset to erase from") }
        var predicates: [String: RowPredicate] = [:]
        for dataset in datasets where !dataset.hasSuffix("__labels") {
            predicates[dataset] = try await RowPredicate(repository: repo, dataset: dataset, condition: condition)
        }
        guard let replacing = repo.objects as? ReplacingObjectStore, let catalog = repo.meta as? any ErasureStore else {
            throw LoamError.invalidArgument("this repository's catalog cannot record an erasure")
        }
        // Like gc: no writer may hold an object written against the versions about to be rewritten.
        guard let gate = try await repo.locks.acquire(.gate, exclusive: true, waitingAtMost: wait),
              let quiet = try await repo.locks.acquire(.writers, exclusive: true, waitingAtMost: wait) else {
            throw LoamError.busy("erase waited \(Int(wait)) s for the writes in progress to finish; nothing was erased — run it again later")
        }
        defer { quiet.release(); gate.release() }
        try replacing.refreshReplacements()
        if !dryRun { try await purgeReplaced(replacing, catalog) }

        let history = try await History.load(repo)
        let known = Set(history.names.values.flatMap { $0 })
        for dataset in datasets where !known.contains(dataset) {
            throw LoamError.invalidArgument("no version of any branch, tag or reflog entry holds a dataset '\(dataset)'")
        }
        let labelNames = Set(predicates.keys.map { $0 + "__labels" })
        var report = ErasureReport(datasets: datasets.sorted(), dryRun: dryRun)

        // 1. The rows the condition matches in any version: their row ids, which every copy of a row keeps.
        var erasedIDs: Set<UInt64> = []
        let reader = FragmentReader(objects: repo.objects)
        for (dataset, predicate) in predicates.sorted(by: { $0.key < $1.key }) {
            for (entry, manifests) in history.fragments(of: [dataset]) {
                var offsets: [Int]?
                for manifest in manifests where offsets == nil { offsets = try await predicate.physicalOffsets(entry, manifest) }
                guard let offsets, !offsets.isEmpty else { continue }
                var whole = entry
                whole.deletions = nil
                let ids = try await reader.read(whole, schema: manifests[0].schema, columnIDs: []).rowIDs
                for offset in offsets { erasedIDs.insert(ids.buffers[1].load(offset, as: UInt64.self)) }
            }
        }

        // 2. Every fragment holding a copy of those rows (or a label of one), rewritten without them.
        let sortedIDs = erasedIDs.sorted()
        func mayHold(_ entry: FragmentEntry) -> Bool {
            var lo = 0, hi = sortedIDs.count
            while lo < hi { let mid = (lo + hi) / 2; if sortedIDs[mid] < entry.minRowID { lo = mid + 1 } else { hi = mid } }
            return lo < sortedIDs.count && sortedIDs[lo] <= entry.maxRowID
        }
        var rewrites: [ObjectID: Rewrite] = [:]
        var candidates = Needles()
        var labelIDs: Set<UInt64> = []
        let targets = Set(predicates.keys).union(labelNames).union(datasets)
        let targetFragments = history.fragments(of: targets)
        for (entry, manifests) in targetFragments {
            let isLabels = manifests.contains { $0.schema.metadata?["loam.labels_of"] != nil }
            if !isLabels, !mayHold(entry) { continue }
            let file = try await FragmentFile(repo.objects, entry)
            let rowIDColumn = isLabels ? manifests[0].schema.columnID("row_id").flatMap { entry.columnIDs.firstIndex(of: $0) }.map { $0 + 1 } : nil
            var erased: [Int] = []
            for offset in 0..<file.rows {
                let id = file.uint64(column: 0, offset)
                if erasedIDs.contains(id) { erased.append(offset); continue }
                if let rowIDColumn, let subject = file.optionalUInt64(column: rowIDColumn, offset), erasedIDs.contains(subject) {
                    erased.append(offset)
                    labelIDs.insert(id)
                }
            }
            guard !erased.isEmpty else { continue }
            for offset in erased { candidates.collect(file.values(at: offset)) }
            rewrites[entry.object] = Rewrite(entry: entry, erased: erased, file: file)
        }
        report.rows = erasedIDs.count + labelIDs.count
        report.copies = rewrites.values.reduce(0) { $0 + $1.erased.count }
        report.fragments = rewrites.count

        // 3. A value any remaining row of these datasets still holds is not the subject's: it stays.
        for (entry, _) in targetFragments where !candidates.isEmpty {
            if let rewrite = rewrites[entry.object] {
                candidates.dropHeld(in: rewrite.file, skipping: Set(rewrite.erased))
            } else {
                candidates.dropHeld(in: try await FragmentFile(repo.objects, entry), skipping: [])
            }
        }
        let values = candidates.values
        report.values = values.count
        let affectedManifests = history.manifests.filter { _, manifest in
            manifest.fragments.contains { rewrites[$0.object] != nil } || manifest.schema.metadata?.values.contains { values.contains(where: $0.contains) } == true
        }
        report.manifests = affectedManifests.count
        report.commits = history.commits.values.filter { commit in values.contains { commit.message.contains($0) } }.count
        if dryRun || (rewrites.isEmpty && values.isEmpty) {
            if !dryRun { try catalog.checkpoint() }  // a cut-off erasure's catalog pages leave the WAL
            report.seconds = Date().timeIntervalSince(started)
            return (report, values)
        }

        // 4. The new objects: fragments, manifests, commits, artifacts. Nothing points to them yet.
        var replacements: [(old: ObjectID, new: ObjectID)] = []
        var fragmentEntries: [ObjectID: FragmentEntry?] = [:]
        let writer = FragmentWriter(objects: repo.objects)
        for (id, rewrite) in rewrites.sorted(by: { $0.key < $1.key }) {
            let written = try await rewrite.file.write(keeping: rewrite.kept, writer)
            fragmentEntries[id] = rewrite.kept.isEmpty ? nil : written
            replacements.append((id, written.object))  // an all-erased fragment maps to an empty one, so a cut-off erasure can finish
        }
        for (id, manifest) in affectedManifests.sorted(by: { $0.key < $1.key }) {
            var rewritten = manifest
            rewritten.fragments = []
            for entry in manifest.fragments {
                guard let rewrite = rewrites[entry.object] else { rewritten.fragments.append(entry); continue }
                guard var fresh = fragmentEntries[entry.object] ?? nil else { continue }
                if let vector = entry.deletions {
                    let kept = try DeletionVector(decoding: try await repo.objects.get(vector)).offsets.compactMap { rewrite.remap(Int($0)) }
                    if kept.count == fresh.rows { continue }  // every remaining row was deleted in this version
                    if !kept.isEmpty {
                        fresh.deletions = try await repo.objects.put(try DeletionVector(offsets: kept.map(UInt32.init)).encoded())
                        fresh.deletedRows = kept.count
                    }
                }
                rewritten.fragments.append(fresh)
            }
            if var metadata = rewritten.schema.metadata {
                for (key, value) in metadata { metadata[key] = redact(value, values) }
                rewritten.schema.metadata = metadata
            }
            replacements.append((id, try await repo.tables.save(rewritten)))
        }
        for (id, commit) in history.commits.sorted(by: { $0.key < $1.key }) where values.contains(where: commit.message.contains) {
            var rewritten = commit
            rewritten.message = redact(commit.message, values)
            replacements.append((id, try await repo.tables.save(rewritten)))
        }
        var artifacts: [(path: String, object: ObjectID, size: Int)] = []
        for (path, _) in try await repo.meta.indexedPaths(under: "") {
            // What the quality module keeps (`quality/`: profiles, key indexes) is derived from the rows, numbers, packed
            // strings and hashes where the erased bytes cannot be searched for: each is emptied, to be computed again.
            let derived = path.hasPrefix("quality/")
            guard derived ? !replacements.isEmpty : !values.isEmpty else { continue }
            guard let (object, _) = try await repo.meta.indexedObject(path: path) else { continue }
            let bytes = try await repo.objects.get(object)
            guard let blanked = derived ? (bytes.count > 0 ? [] : nil) : blank(bytes.buffer, values) else { continue }
            let fresh = try await repo.objects.put(blanked)
            artifacts.append((path, fresh, blanked.count))
            replacements.append((object, fresh))
        }
        report.artifacts = artifacts.count
        FailPoint.hit("erase-written")

        // 5. Outside the versioned data: the SQL history, and objects dead writers left in tmp/.
        report.historyLines = try redactHistory(repo.root, values)
        replacing.removeStaleTemporaryFiles(olderThan: -1)

        // 6. One catalog transaction makes the erasure: the replacement map, artifacts, catalog text, the audit entry.
        let holders = replacements.map { replacing.resolve($0.old) }
        let rowDigest = AuditEntry.digest(Array((erasedIDs.union(labelIDs)).sorted().map(String.init).joined(separator: ",").utf8))
        let mapDigest = AuditEntry.digest(Array(replacements.map { "\($0.old.hex)>\($0.new.hex)" }.joined(separator: "\n").utf8))
        let proof = """
            {"rows":\(report.rows),"copies":\(report.copies),"fragments":\(report.fragments),"manifests":\(report.manifests),\
            "commits":\(report.commits),"artifacts":\(report.artifacts),"values":\(report.values),\
            "row_ids_sha256":"\(rowDigest)","replacements_sha256":"\(mapDigest)"}
            """
        let target = "\(datasets.sorted().joined(separator: ", ")): \(report.rows) rows, \(report.copies) copies in \(report.fragments) fragments"
        let outcome = try await catalog.commitErasure(ErasureRecord(replacements: replacements, artifacts: artifacts, needles: values,
                                                                    target: target, proof: proof))
        (report.auditSeq, report.catalogCells, report.auditEntriesRedacted) = (outcome.seq, outcome.cells, outcome.auditEntries.count)
        FailPoint.hit("erase-recorded")

        // 7. The replaced objects go (a cut-off erasure finishes this at the next erase or gc).
        try replacing.refreshReplacements()
        for (replacement, holder) in zip(replacements, holders) {
            try await replacing.base.delete(replacement.old)
            if holder != replacement.old && holder != replacement.new { try await replacing.base.delete(holder) }
            FailPoint.hit("erase-deleted")
        }
        try catalog.checkpoint()
        report.seconds = Date().timeIntervalSince(started)
        return (report, values)
    }

    /// Every file under `.loam/` searched, byte by byte, for `values` (UTF-8): where any is still found.
    public static func scan(_ repo: Repository, for values: [String]) throws -> [ErasureFinding] {
        let base = repo.root.appendingPathComponent(Repository.folderName)
        var findings: [ErasureFinding] = []
        guard let walker = FileManager.default.enumerator(atPath: base.path) else { return [] }
        let needles = values.map { Array($0.utf8) }
        while let relative = walker.nextObject() as? String {
            let path = base.appendingPathComponent(relative).path
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue,
                  let data = contents(path), !data.isEmpty else { continue }
            data.withUnsafeBytes { raw in
                for (index, needle) in needles.enumerated() {
                    if let offset = find(needle, in: raw) { findings.append(ErasureFinding(file: relative, offset: offset, value: index)) }
                }
            }
        }
        return findings.sorted { ($0.file, $0.value) < ($1.file, $1.value) }
    }

    // MARK: - Helpers

    /// Descriptors of the catalog's files, kept open for the life of the process once scanned: closing any
    /// descriptor of a file drops every POSIX advisory lock the process holds on it — SQLite's among them.
    private static let descriptors = Mutex<[String: Int32]>([:])

    static func contents(_ path: String) -> [UInt8]? {
        guard (path as NSString).lastPathComponent.hasPrefix("catalog.sqlite") else {
            return FileManager.default.contents(atPath: path).map { [UInt8]($0) }
        }
        let fd: Int32 = descriptors.withLock { open in
            if let fd = open[path] { return fd }
            let fd = Glibc.open(path, O_RDONLY)
            if fd >= 0 { open[path] = fd }
            return fd
        }
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n <= 0 { break }
            done += n
        }
        return Array(bytes.prefix(done))
    }

    /// Deletes the files of objects the map says were replaced: what an erasure cut off after its catalog
    /// transaction had left.
    static func purgeReplaced(_ store: ReplacingObjectStore, _ catalog: any ErasureStore) async throws {
        var leftovers: [ObjectID] = []
        for id in store.replacedIDs where try await store.base.contains(id) { leftovers.append(id) }
        guard !leftovers.isEmpty else { return }
        catalog.bumpReplacementsVersion()  // the cut-off erasure may not have told other processes yet
        for id in leftovers { try await store.base.delete(id) }
    }

    static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, let base = haystack.baseAddress else { return nil }
        return needle.withUnsafeBytes { n -> Int? in
            // memchr to each candidate first byte, then memcmp (memmem is not in Glibc's default module).
            var at = 0
            let last = haystack.count - n.count
            while at <= last {
                guard let hit = memchr(base + at, Int32(n[0]), last - at + 1) else { return nil }
                let position = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + position, n.baseAddress!, n.count) == 0 { return position }
                at = position + 1
            }
            return nil
        }
    }

    static func redact(_ text: String, _ values: [String]) -> String {
        values.reduce(text) { $0.replacingOccurrences(of: $1, with: "[erased]") }
    }

    /// `bytes` with every occurrence of the values overwritten by as many `*` (so lengths and offsets inside
    /// a binary file stay as they were); nil when none occurs.
    static func blank(_ bytes: UnsafeRawBufferPointer, _ values: [String]) -> [UInt8]? {
        var out: [UInt8]?
        for value in values {
            let needle = Array(value.utf8)
            while true {
                let current = out ?? Array(bytes)
                guard let at = current.withUnsafeBytes({ find(needle, in: $0) }) else { break }
                var next = current
                for i in at..<(at + needle.count) { next[i] = UInt8(ascii: "*") }
                out = next
            }
        }
        return out
    }

    /// Removes the lines of `.loam/sql_history` holding any value (rewritten under a temporary name, then renamed).
    static func redactHistory(_ root: URL, _ values: [String]) throws -> Int {
        let url = root.appendingPathComponent(Repository.folderName).appendingPathComponent("sql_history")
        guard !values.isEmpty, let text = try? String(contentsOf: url, encoding: .utf8) else { return 0 }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let kept = lines.filter { line in !values.contains { line.contains($0) } }
        guard kept.count != lines.count else { return 0 }
        let temporary = url.appendingPathExtension("tmp")
        try Data(kept.joined(separator: "\n").utf8).write(to: temporary, options: .atomic)
        _ = rename(temporary.path, url.path)
        return lines.count - kept.count
    }
}

/// A fragment that held erased rows: which offsets go.
struct Rewrite {
    let entry: FragmentEntry
    /// Physical offsets erased, ascending.
    let erased: [Int]
    let file: FragmentFile

    var kept: [Int] {
        var out: [Int] = []
        var next = 0
        for offset in 0..<file.rows {
            if next < erased.count && erased[next] == offset { next += 1; continue }
            out.append(offset)
        }
        return out
    }

    /// An offset of the old fragment in the new one; nil for an erased row.
    func remap(_ offset: Int) -> Int? {
        var lo = 0, hi = erased.count
        while lo < hi { let mid = (lo + hi) / 2; if erased[mid] < offset { lo = mid + 1 } else { hi = mid } }
        if lo < erased.count && erased[lo] == offset { return nil }
        return offset - lo
    }
}

/// Every version a repository's refs and reflog reach: the commits, and the manifests their trees name.
struct History {
    var commits: [ObjectID: Commit] = [:]
    var manifests: [ObjectID: Manifest] = [:]
    /// The dataset names each manifest appears under.
    var names: [ObjectID: Set<String>] = [:]

    static func load(_ repo: Repository) async throws -> History {
        var roots = try await repo.meta.refs(kind: nil).map(\.commit)
        for move in try await repo.meta.refLog(since: .distantPast) { roots += [move.old, move.new].compactMap { $0 } }
        var history = History()
        var queue = roots
        while let id = queue.popLast() {
            guard history.commits[id] == nil else { continue }
            let commit: Commit
            do { commit = try await repo.tables.commit(id) } catch StorageError.objectNotFound {
                continue  // a reflog entry older than gc's retention: its commit is gone already
            }
            history.commits[id] = commit
            queue += commit.parents
            for (name, manifest) in commit.tree {
                history.names[manifest, default: []].insert(name)
                if history.manifests[manifest] == nil { history.manifests[manifest] = try await repo.tables.manifest(manifest) }
            }
        }
        return history
    }

    /// The distinct fragments of the datasets `names`, each with the manifests that list it.
    func fragments(of datasets: Set<String>) -> [(entry: FragmentEntry, manifests: [Manifest])] {
        var order: [ObjectID] = []
        var found: [ObjectID: (FragmentEntry, [Manifest])] = [:]
        for (id, manifest) in manifests.sorted(by: { $0.key < $1.key }) where !(names[id] ?? []).isDisjoint(with: datasets) {
            for entry in manifest.fragments {
                if found[entry.object] == nil { order.append(entry.object); found[entry.object] = (entry, []) }
                found[entry.object]!.1.append(manifest)
            }
        }
        return order.map { (found[$0]!.0, found[$0]!.1) }
    }
}

/// A fragment file read whole: every column of every physical row, deleted ones included.
struct FragmentFile {
    let fields: [Field]
    let columns: [[ArrowArray]]   // per column, per record batch
    let starts: [Int]             // first offset of each batch
    let rows: Int
    let entry: FragmentEntry

    init(_ objects: any ObjectStore, _ entry: FragmentEntry) async throws {
        let reader = try IPCReader(data: try await objects.get(entry.object))
        let batches = try (0..<reader.batchCount).map { try reader.batch($0) }
        fields = reader.schema.fields
        columns = fields.indices.map { c in batches.map { $0.columns[c] } }
        var starts: [Int] = [], total = 0
        for batch in batches { starts.append(total); total += batch.length }
        (self.starts, rows, self.entry) = (starts, total, entry)
        guard rows == entry.rows else { throw LoamError.invalidArgument("fragment \(entry.object.short) does not match its manifest entry; run `loam fsck`") }
    }

    func locate(_ offset: Int) -> (batch: Int, row: Int) {
        var batch = starts.count - 1
        while starts[batch] > offset { batch -= 1 }
        return (batch, offset - starts[batch])
    }

    func uint64(column: Int, _ offset: Int) -> UInt64 {
        let (b, r) = locate(offset)
        return columns[column][b].buffers[1].load(r, as: UInt64.self)
    }

    func optionalUInt64(column: Int, _ offset: Int) -> UInt64? {
        let (b, r) = locate(offset)
        if case .uint(let v) = columns[column][b].value(at: r) { return v }
        if case .int(let v) = columns[column][b].value(at: r) { return UInt64(bitPattern: v) }
        return nil
    }

    /// The row's data cells (not `_rowid`).
    func values(at offset: Int) -> [Value] {
        let (b, r) = locate(offset)
        return (1..<fields.count).map { columns[$0][b].value(at: r) }
    }

    func write(keeping offsets: [Int], _ writer: FragmentWriter) async throws -> FragmentEntry {
        let picks = offsets.map(locate).map { (source: $0.batch, index: $0.row) }
        let gathered = columns.map { ArrowArray.gather(from: $0, picks) }
        return try await writer.write(columns: Array(gathered.dropFirst()), columnIDs: entry.columnIDs, fields: Array(fields.dropFirst()),
                                      rowIDs: gathered[0])
    }
}

/// The erased rows' text values (at least `Eraser.minimumValueBytes` long, at any nesting), less those other rows hold.
struct Needles {
    private var byLength: [Int: Set<[UInt8]>] = [:]

    var isEmpty: Bool { byLength.isEmpty }
    var values: [String] { byLength.values.flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) }.sorted() }

    mutating func collect(_ cells: [Value]) {
        for cell in cells {
            switch cell {
            case .string(let text) where text.utf8.count >= Eraser.minimumValueBytes:
                byLength[text.utf8.count, default: []].insert(Array(text.utf8))
            case .list(let items), .structValue(let items): collect(items)
            default: break
            }
        }
    }

    /// Drops every candidate a top-level text cell of `file` holds, but in the rows `skipping`.
    mutating func dropHeld(in file: FragmentFile, skipping: Set<Int>) {
        for (c, field) in file.fields.enumerated() where field.type == .utf8 || field.type == .largeUtf8 {
            for (b, array) in file.columns[c].enumerated() {
                for r in 0..<array.length where !array.isNull(r) {
                    if isEmpty { return }
                    let bytes = array.bytes(at: r)
                    guard var set = byLength[bytes.count], !skipping.contains(file.starts[b] + r) else { continue }
                    let key = Array(bytes)
                    guard set.remove(key) != nil else { continue }
                    byLength[bytes.count] = set.isEmpty ? nil : set
                }
            }
        }
    }
}
