import Foundation

/// Who may do what in a task; each role includes the ones before it.
public enum TaskRole: String, Sendable, CaseIterable, Codable, Comparable {
    /// Labels the items handed to them; sees only their own answers.
    case annotator
    /// Also sees every answer and resolves disagreements.
    case reviewer
    /// Also adds members and closes the task.
    case manager

    var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: TaskRole, b: TaskRole) -> Bool { a.rank < b.rank }
}

/// A labelling task: items (rows of one dataset, chosen by a query) to be labelled under one schema,
/// each by `annotators` independent people for an `overlap` fraction of the items (one person for the rest).
public struct LabelTask: Sendable, Equatable, Encodable {
    public let id: String
    public let dataset: String
    public let schema: String
    public let query: String
    /// The commit the query read.
    public let commit: String
    public let annotators: Int
    public let overlap: Double
    public let items: Int
    /// Whether items are queued most uncertain first (model pre-labels with scores existed).
    public let activeLearning: Bool
    public let createdBy: String
    public let createdAt: Int64
    public var status: String

    enum CodingKeys: String, CodingKey {
        case id, dataset, schema, query, commit, annotators, overlap, items, status
        case activeLearning = "active_learning", createdBy = "created_by", createdAt = "created_at"
    }
}

/// One item as an annotator or reviewer sees it.
public struct TaskItem: Sendable, Equatable, Encodable {
    public let task: String
    public let rowID: UInt64
    /// Its place in the queue (0 first).
    public let position: Int
    /// How many independent annotators it needs.
    public let needed: Int
    /// 1 − the pre-label's score, when a model pre-labelled it.
    public let uncertainty: Double?
    /// The asking annotator's own earlier answer, if any (never anyone else's).
    public let yours: String?
    /// The model pre-label, offered as a suggestion.
    public let suggestion: String?

    enum CodingKeys: String, CodingKey {
        case task, position, needed, uncertainty, yours, suggestion
        case rowID = "row_id"
    }
}

/// Where a task stands, overall and per annotator.
public struct TaskProgress: Sendable, Encodable {
    public struct Annotator: Sendable, Encodable {
        public let annotator: String
        public let submitted: Int
        public let skipped: Int
        public let open: Int
    }
    public let task: String
    public let items: Int
    /// Items whose every needed annotator has submitted.
    public let complete: Int
    public let annotations: Int
    public let annotators: [Annotator]
}

/// An item its annotators answered differently, for a reviewer: every answer, side by side.
public struct Disagreement: Sendable, Encodable {
    public struct Answer: Sendable, Encodable {
        public let annotator: String
        public let value: String
    }
    public let rowID: UInt64
    public let answers: [Answer]
    /// The reviewer's resolution, when there is one.
    public let resolution: String?

    enum CodingKeys: String, CodingKey {
        case answers, resolution
        case rowID = "row_id"
    }
}
