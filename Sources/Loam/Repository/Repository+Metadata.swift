import LoamStorage
import LoamTable

extension Repository {
    /// Sets (or, with nil, removes) one key of a dataset's schema metadata as one commit on the current branch:
    /// how capabilities keep a versioned per-dataset document (masking policies, expectations). Keys Loam
    /// gives meaning to start with `loam.`.
    @discardableResult
    public func setSchemaMetadata(_ key: String, _ value: String?, of dataset: String, message: String) async throws -> ObjectID {
        try await commit(message: message) { tree in
            var manifest = try await manifest(dataset, in: tree)
            var metadata = manifest.schema.metadata ?? [:]
            metadata[key] = value
            manifest.schema.metadata = metadata.isEmpty ? nil : metadata
            tree[dataset] = try await tables.save(manifest)
        }
    }
}
