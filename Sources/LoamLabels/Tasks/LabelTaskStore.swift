import Foundation

/// What the labels module keeps of tasks outside the versioned data: the task, its queue, its
/// members and who was handed which item. (The answers themselves are annotations, in the data.)
public protocol LabelTaskStore: Sendable {
    func create(_ task: LabelTask, items: [(rowID: UInt64, needed: Int, uncertainty: Double?)], manager: String) async throws
    func task(_ id: String) async throws -> LabelTask?
    func tasks(dataset: String?) async throws -> [LabelTask]
    func setStatus(_ id: String, _ status: String) async throws
    func setMember(_ task: String, user: String, role: TaskRole) async throws
    func members(_ task: String) async throws -> [String: TaskRole]
    /// The annotator's open assignment, else the first queued item they have not had that still needs
    /// someone, assigned to them atomically; nil when none is left.
    func next(_ task: String, annotator: String) async throws -> (rowID: UInt64, position: Int, needed: Int, uncertainty: Double?)?
    /// The annotator's assignment of the item, if any: "assigned", "submitted" or "skipped".
    func assignment(_ task: String, rowID: UInt64, annotator: String) async throws -> String?
    /// Marks an assignment done. A skip frees the item for someone else.
    func finish(_ task: String, rowID: UInt64, annotator: String, state: String) async throws
    /// Per annotator: (submitted, skipped, open); and the items every needed annotator has submitted.
    func progress(_ task: String) async throws -> (perAnnotator: [String: (submitted: Int, skipped: Int, open: Int)], complete: Int)
    /// Items of the task holding at least `answers` submitted answers, by `_rowid`.
    func answeredItems(_ task: String, atLeast answers: Int) async throws -> [UInt64]
    func item(_ task: String, rowID: UInt64) async throws -> (position: Int, needed: Int, uncertainty: Double?)?
}
