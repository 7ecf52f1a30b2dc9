import Foundation
import LoamStorage
import LoamTable

/// A commit as the CLI (`log --json`, `show --json`) and the REST API (`/log`, `/commits/{id}`) show it.
public struct CommitView: Encodable, Sendable, Equatable {
    public let id: String
    public let parents: [String]
    public let author: String
    public let message: String
    /// ISO 8601 with milliseconds, UTC.
    public let time: String
    public let timeMillis: Int64
    /// Dataset name → manifest id.
    public let tree: [String: String]
    /// What the commit changed per dataset; only where asked for (`show`, `/commits/{id}`).
    public let changes: [ChangeView]?

    enum CodingKeys: String, CodingKey {
        case id, parents, author, message, time, tree, changes
        case timeMillis = "time_millis"
    }

    public init(id: ObjectID, commit: Commit, changes: [DatasetChange]? = nil) {
        self.id = id.hex
        parents = commit.parents.map(\.hex)
        author = commit.author
        message = commit.message
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        time = formatter.string(from: commit.date)
        timeMillis = commit.timeMillis
        tree = commit.tree.mapValues(\.hex)
        self.changes = changes.map { $0.map(ChangeView.init) }
    }
}

/// What one commit did to one dataset.
public struct ChangeView: Encodable, Sendable, Equatable {
    public let dataset: String
    /// created, dropped or modified.
    public let kind: String
    public let rowsBefore: Int
    public let rowsAfter: Int

    enum CodingKeys: String, CodingKey {
        case dataset, kind
        case rowsBefore = "rows_before", rowsAfter = "rows_after"
    }

    public init(_ change: DatasetChange) {
        dataset = change.dataset
        kind = change.kind.rawValue
        rowsBefore = change.rowsBefore
        rowsAfter = change.rowsAfter
    }
}

/// A branch or tag.
public struct RefView: Encodable, Sendable, Equatable {
    public let name: String
    public let commit: String

    public init(_ ref: Ref) {
        name = ref.name
        commit = ref.commit.hex
    }
}

/// The repository: current branch, head and refs (`GET /api/v1/repository`).
public struct RepositoryView: Encodable, Sendable {
    public let currentBranch: String
    public let head: String?
    public let format: Int
    public let branches: [RefView]
    public let tags: [RefView]

    enum CodingKeys: String, CodingKey {
        case head, format, branches, tags
        case currentBranch = "current_branch"
    }
}

extension Repository {
    /// `ref`'s commit, with its per-dataset changes when `changes` is true.
    public func commitView(_ ref: String, changes: Bool = false) async throws -> CommitView {
        let id = try await resolve(ref)
        return CommitView(id: id, commit: try await tables.commit(id), changes: changes ? try await self.changes(in: id) : nil)
    }

    /// Commits from `ref` by first parents, newest first.
    public func logView(from ref: String = "HEAD", limit: Int = .max) async throws -> [CommitView] {
        try await log(from: ref, limit: limit).map { CommitView(id: $0.id, commit: $0.commit) }
    }

    public func repositoryView() async throws -> RepositoryView {
        RepositoryView(currentBranch: try await currentBranch(), head: try? await resolve("HEAD").hex, format: 1,
                       branches: try await branches().map(RefView.init), tags: try await tags().map(RefView.init))
    }
}
