import Foundation
import Loam
import LoamFormat
import LoamTable

/// Profiles of datasets at any ref, from per-fragment sketches: a fragment (under its deletion vector) is
/// read and sketched once, and kept in the `QualityStore`; a profile merges its fragments' sketches, so
/// profiling after an append reads only the appended fragments, and after a delete only the fragments
/// whose deletion vector changed.
///
/// ```swift
/// let profile = try await Profiler(repository: repo).profile("reviews", at: "v1")
/// for column in profile.columns { print(column.name, column.profile.nulls) }
/// ```
public struct Profiler: Sendable {
    public let repository: Repository
    public let store: any QualityStore

    public init(repository: Repository, store: (any QualityStore)? = nil) {
        self.repository = repository
        self.store = store ?? RepositoryQualityStore(repository: repository)
    }

    /// With `only`, the profile of those columns alone, computed for a gate: a fragment without a kept profile is
    /// sketched in those columns and nothing is kept (the next full profile keeps its sketches and checkpoint).
    public func profile(_ name: String, at ref: String = "HEAD", only: Set<String>? = nil) async throws -> DatasetProfile {
        let commit = try await repository.resolve(ref)
        let dataset = try await repository.dataset(name, at: commit.hex)
        let schema = dataset.manifest.schema
        let entries = dataset.manifest.fragments.filter { $0.liveRows > 0 }
        let keys = entries.map(\.profileKey)
        // Checkpoints: the merge of the first i fragments, kept under a hash chain of their keys, so a profile
        // after an append merges the kept sum of the others with the new fragment's sketch.
        var chain: [String] = [], link = ""
        for key in keys {
            let text = link + "|" + key
            link = XXHash64.text(XXHash64.hash(Array(text.utf8), seed: 1)) + XXHash64.text(XXHash64.hash(Array(text.utf8), seed: 2))
            chain.append(link)
        }
        let wanted: Set<Int>? = only.map { names in Set(schema.columns.filter { names.contains($0.name) }.compactMap(\.id)) }
        var merged = try schema.columns.map { ColumnProfile(type: try $0.field().type.name) }
        var first = 0
        for i in stride(from: keys.count, to: 0, by: -1) {
            guard let checkpoint = try await store.fragmentProfile("merged/" + chain[i - 1]) else { continue }
            merged = try Self.add(checkpoint, rows: checkpoint.rows ?? 0, to: merged, schema)
            first = i
            break
        }
        // The fragments after the checkpoint: kept sketches read, missing ones computed on every core, merged in fragment order.
        var computed = 0
        let pending = Array(zip(entries, keys).dropFirst(first))
        try await concurrentlyInOrder(pending.count, produce: { [self] i in
            let (entry, key) = pending[i]
            if let kept = try await store.fragmentProfile(key) { return (kept, entry.liveRows, false) }
            // Sketched from the stored values: a masking policy applies when a profile is shown, not here.
            let fragment = try await ReadPolicy.$role.withValue(nil) { try await sketch(entry, schema, only: wanted) }
            if wanted == nil { try await store.saveFragmentProfile(fragment, key: key) }
            return (fragment, entry.liveRows, true)
        }, consume: { (fragment: FragmentProfile, rows: Int, fresh: Bool) in
            merged = try Self.add(fragment, rows: rows, to: merged, schema)
            if fresh { computed += 1 }
            return true
        })
        if wanted == nil, first < keys.count, let last = chain.last {
            var checkpoint = FragmentProfile(columns: Dictionary(uniqueKeysWithValues: zip(schema.columns, merged).map { (String($0.id ?? 0), $1) }))
            checkpoint.rows = entries.reduce(0) { $0 + $1.liveRows }
            try await store.saveFragmentProfile(checkpoint, key: "merged/" + last)
        }
        let fragments = entries.count
        return DatasetProfile(dataset: name, commit: commit.hex, rows: dataset.rowCount, fragments: fragments, computed: computed,
                              columns: zip(schema.columns, merged).filter { only?.contains($0.0.name) ?? true }
                                  .map { DatasetProfile.Column(name: $0.name, id: $0.id ?? 0, profile: $1) })
    }

    /// `merged` with `part` (a fragment's sketches, or a checkpoint's) added; a column `part` lacks counts as `rows` nulls.
    static func add(_ part: FragmentProfile, rows: Int, to merged: [ColumnProfile], _ schema: TableSchema) throws -> [ColumnProfile] {
        var out = merged
        for (i, column) in schema.columns.enumerated() {
            if let kept = part.columns[String(column.id ?? 0)] {
                out[i].merge(kept)
            } else {
                out[i].merge(.missing(type: try column.field().type, count: rows))
            }
        }
        return out
    }

    /// One fragment's live rows, every column it holds (or those of them in `only`).
    func sketch(_ entry: FragmentEntry, _ schema: TableSchema, only: Set<Int>? = nil) async throws -> FragmentProfile {
        let ids = entry.columnIDs.filter { id in schema.columns.contains { $0.id == id } && only?.contains(id) ?? true }
        let data = try await FragmentReader(objects: repository.objects).read(entry, schema: schema, columnIDs: ids)
        var columns: [String: ColumnProfile] = [:]
        for (id, array) in zip(ids, data.columns) { columns[String(id)] = ColumnProfile.compute(array, rows: data.live) }
        return FragmentProfile(columns: columns)
    }
}

extension FragmentEntry {
    /// The fragment as its live rows stand: its object and deletion vector ("none" without one), the key of its kept profile.
    var profileKey: String { object.hex + "/" + (deletions?.hex ?? "none") }
}
