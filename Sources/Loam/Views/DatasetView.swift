import LoamFormat
import LoamStorage

/// A dataset at one commit, with its schema (`loam schema --json`, `GET /api/v1/datasets/{name}`).
public struct DatasetView: Encodable, Sendable, Equatable {
    public struct Column: Encodable, Sendable, Equatable {
        public let name: String
        public let type: String
        public let nullable: Bool
        public let metadata: [String: String]
    }

    public let name: String
    public let commit: String
    public let rows: Int
    public let fragments: Int
    public let schema: [Column]

    public init(_ ds: Dataset) {
        name = ds.name
        commit = ds.commit.hex
        rows = ds.rowCount
        fragments = ds.fragmentCount
        schema = ds.schema.fields.map { Column(name: $0.name, type: $0.type.name, nullable: $0.nullable, metadata: $0.metadata) }
    }
}

/// A dataset in a listing (`loam datasets --json`, `GET /api/v1/datasets`).
public struct DatasetSummary: Encodable, Sendable, Equatable {
    public let name: String
    public let rows: Int
    public let fragments: Int
    public let columns: [String]

    public init(_ ds: Dataset) {
        name = ds.name
        rows = ds.rowCount
        fragments = ds.fragmentCount
        columns = ds.schema.fields.map(\.name)
    }
}

extension Repository {
    /// Every dataset at `ref` (those `include` accepts), summarized.
    public func datasetSummaries(at ref: String = "HEAD", include: (String) -> Bool = { _ in true }) async throws -> [DatasetSummary] {
        var out: [DatasetSummary] = []
        for name in try await datasets(at: ref) where include(name) { out.append(DatasetSummary(try await dataset(name, at: ref))) }
        return out
    }
}
