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

    public func profile(_ name: String, at ref: String = "HEAD") async throws -> DatasetProfile {
        let commit = try await repository.resolve(ref)
        let dataset = try await repository.dataset(name, at: commit.hex)
        let schema = dataset.manifest.schema
        var merged = try schema.columns.map { ColumnProfile(type: try $0.field().type.name) }
        var computed = 0, fragments = 0
        for entry in dataset.manifest.fragments where entry.liveRows > 0 {
            fragments += 1
            let key = entry.object.hex + "/" + (entry.deletions?.hex ?? "none")
            let fragment: FragmentProfile
            if let kept = try await store.fragmentProfile(key) {
                fragment = kept
            } else {
                // Sketched from the stored values: a masking policy applies when a profile is shown, not here.
                fragment = try await ReadPolicy.$role.withValue(nil) { try await sketch(entry, schema) }
                try await store.saveFragmentProfile(fragment, key: key)
                computed += 1
            }
            for (i, column) in schema.columns.enumerated() {
                if let kept = fragment.columns[String(column.id ?? 0)] {
                    merged[i].merge(kept)
                } else {
                    merged[i].merge(.missing(type: try column.field().type, count: entry.liveRows))
                }
            }
        }
        return DatasetProfile(dataset: name, commit: commit.hex, rows: dataset.rowCount, fragments: fragments, computed: computed,
                              columns: zip(schema.columns, merged).map { DatasetProfile.Column(name: $0.name, id: $0.id ?? 0, profile: $1) })
    }

    /// One fragment's live rows, every column it holds.
    func sketch(_ entry: FragmentEntry, _ schema: TableSchema) async throws -> FragmentProfile {
        let ids = entry.columnIDs.filter { id in schema.columns.contains { $0.id == id } }
        let data = try await FragmentReader(objects: repository.objects).read(entry, schema: schema, columnIDs: ids)
        var columns: [String: ColumnProfile] = [:]
        for (id, array) in zip(ids, data.columns) { columns[String(id)] = ColumnProfile.compute(array, rows: data.live) }
        return FragmentProfile(columns: columns)
    }
}
