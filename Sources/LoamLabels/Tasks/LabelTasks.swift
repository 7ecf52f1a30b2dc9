import Foundation
import Loam
import LoamCloud
import LoamFormat
import LoamQuery
import LoamStorage
import LoamTable

/// Every rule of labelling tasks: which rows a task holds, who gets which item next (k independent
/// annotators for the overlapped items, most uncertain first when a model pre-labelled them), that an
/// annotator sees only their own answers, submissions and skips, reviewers' resolutions, progress and
/// agreement — and the roles each step needs. The answers are annotations (`Labeler`), tagged with the task.
///
/// ```swift
/// let tasks = try LabelTasks(repository: repo)
/// let task = try await tasks.create(dataset: "reviews", schema: "sentiment", query: "SELECT _rowid FROM reviews",
///                                   annotators: 3, overlap: 0.2, by: "mia")
/// try await tasks.setMember(task.id, user: "ana", role: .annotator, by: "mia")
/// if let item = try await tasks.next(task.id, annotator: "ana") {
///     try await tasks.submit(task.id, rowID: item.rowID, annotator: "ana", input: .text("positive"))
/// }
/// ```
public struct LabelTasks: Sendable {
    public let labels: Labeler
    public let store: any LabelTaskStore

    public init(labels: Labeler, store: any LabelTaskStore) {
        self.labels = labels
        self.store = store
    }

    /// Tasks over the repository's own catalog: its SQLite file, or its PostgreSQL database.
    public init(repository: Repository) throws {
        let store: any LabelTaskStore
        switch repository.meta {
        case let catalog as SQLiteMetaStore: store = try SQLiteLabelTaskStore(catalog: catalog)
        case let catalog as PostgresMetaStore: store = PostgresLabelTaskStore(catalog: catalog)
        default: throw LabelError.invalid("this repository's catalog (\(type(of: repository.meta))) keeps no label task tables")
        }
        self.init(labels: Labeler(repository: repository), store: store)
    }

    var repository: Repository { labels.repository }

    // MARK: roles

    /// The task, after checking `user` holds at least `role` in it.
    @discardableResult
    public func require(_ role: TaskRole, _ taskID: String, user: String) async throws -> LabelTask {
        guard let task = try await store.task(taskID) else { throw LabelError.notFound("no labelling task '\(taskID)' (`loam label task list`)") }
        guard let held = try await store.members(taskID)[user], held >= role else {
            throw LabelError.forbidden("\(user) is not a\(role == .annotator ? "n" : "") \(role.rawValue) of task \(taskID); a manager adds members (`loam label task member`)")
        }
        return task
    }

    // MARK: creating

    /// A task over the rows `query` returns (its `_rowid` column), to be labelled under `schema`.
    /// `overlap` of the items (chosen by their `_rowid` and `seed`) get `annotators` independent annotators,
    /// the rest one. When the schema's model pre-labels carry scores, the queue puts the least sure first.
    public func create(dataset: String, schema: String, query: String, annotators: Int = 1, overlap: Double = 1, seed: UInt64 = 0,
                       by user: String) async throws -> LabelTask {
        guard (1...20).contains(annotators) else { throw LabelError.invalid("--annotators must be 1…20, not \(annotators)") }
        guard overlap >= 0 && overlap <= 1 else { throw LabelError.invalid("--overlap is a fraction of the items, 0…1, not \(overlap)") }
        _ = try await labels.schema(schema, of: dataset)
        let commit = try await repository.resolve("HEAD")
        let outcome = try await repository.execute(query, at: commit.hex)
        guard let result = outcome.query else { throw LabelError.invalid("a task's --query must be a SELECT, not a write") }
        guard let column = result.schema.index(of: RowID.name) else {
            throw LabelError.invalid("the task's query must return the rows' _rowid: SELECT _rowid FROM \(dataset) WHERE … (it returns \(result.schema.fields.map(\.name).joined(separator: ", ")))")
        }
        let live = Set(try await labels.contexts(of: dataset, for: []).keys)
        var rows: [UInt64] = [], seen = Set<UInt64>()
        for batch in result.batches {
            let ids = batch.columns[column]
            for i in 0..<batch.length where !ids.isNull(i) {
                guard case .uint(let id) = ids.value(at: i) else { continue }
                guard live.contains(id) else {
                    throw LabelError.invalid("the task's query returned _rowid \(id), which is not a row of '\(dataset)'; select from '\(dataset)' itself")
                }
                if seen.insert(id).inserted { rows.append(id) }
            }
        }
        guard !rows.isEmpty else { throw LabelError.invalid("the task's query returned no rows") }
        // Active learning: 1 − the most confident model pre-label's score, most uncertain first; rows without one after.
        var uncertainty: [UInt64: Double] = [:]
        for a in try await labels.annotations(of: dataset, schema: schema) where a.source == .model {
            if let score = a.score { uncertainty[a.rowID] = min(uncertainty[a.rowID] ?? 1, 1 - score) }
        }
        let active = rows.contains { uncertainty[$0] != nil }
        if active {
            let order = Dictionary(uniqueKeysWithValues: rows.enumerated().map { ($1, $0) })
            rows.sort { a, b in
                switch (uncertainty[a], uncertainty[b]) {
                case let (x?, y?) where x != y: return x > y
                case (_?, nil): return true
                case (nil, _?): return false
                default: return order[a]! < order[b]!
                }
            }
        }
        let items = rows.map { id in
            (rowID: id, needed: SplitBucket.unit(id: id, seed: seed) < overlap ? annotators : 1, uncertainty: uncertainty[id])
        }
        var random = SystemRandomNumberGenerator()
        let id = String((0..<10).map { _ in "0123456789abcdef".randomElement(using: &random)! })
        let task = LabelTask(id: id, dataset: dataset, schema: schema, query: query, commit: commit.hex, annotators: annotators, overlap: overlap,
                             items: items.count, activeLearning: active, createdBy: user, createdAt: Int64(Date().timeIntervalSince1970 * 1000), status: "open")
        try await store.create(task, items: items, manager: user)
        return task
    }

    public func tasks(dataset: String? = nil) async throws -> [LabelTask] { try await store.tasks(dataset: dataset) }

    public func setMember(_ taskID: String, user: String, role: TaskRole, by manager: String) async throws {
        try await require(.manager, taskID, user: manager)
        guard !user.isEmpty, user.count <= 128 else { throw LabelError.invalid("a member is named by 1–128 characters") }
        try await store.setMember(taskID, user: user, role: role)
    }

    public func members(_ taskID: String, by user: String) async throws -> [String: TaskRole] {
        try await require(.annotator, taskID, user: user)
        return try await store.members(taskID)
    }

    public func close(_ taskID: String, by manager: String) async throws {
        try await require(.manager, taskID, user: manager)
        try await store.setStatus(taskID, "closed")
    }

    // MARK: annotating

    /// The annotator's next item: their open one, else the first in the queue that still needs someone and
    /// that they have not had. Nil when they are done. It carries their own earlier answer and the model's
    /// pre-label, never another annotator's answer.
    public func next(_ taskID: String, annotator: String) async throws -> TaskItem? {
        let task = try await require(.annotator, taskID, user: annotator)
        guard task.status == "open" else { return nil }
        guard let item = try await store.next(taskID, annotator: annotator) else { return nil }
        return try await view(task, rowID: item.rowID, position: item.position, needed: item.needed, uncertainty: item.uncertainty, for: annotator)
    }

    /// One item of the task as `annotator` may see it (they must have been handed it).
    public func item(_ taskID: String, rowID: UInt64, annotator: String) async throws -> TaskItem {
        let task = try await require(.annotator, taskID, user: annotator)
        let isReviewer = try await store.members(taskID)[annotator].map { $0 >= .reviewer } ?? false
        let handed = try await store.assignment(taskID, rowID: rowID, annotator: annotator) != nil
        guard isReviewer || handed, let item = try await store.item(taskID, rowID: rowID) else {
            throw LabelError.forbidden("row \(rowID) of task \(taskID) was not given to \(annotator); ask for the next item")
        }
        return try await view(task, rowID: rowID, position: item.position, needed: item.needed, uncertainty: item.uncertainty, for: annotator)
    }

    func view(_ task: LabelTask, rowID: UInt64, position: Int, needed: Int, uncertainty: Double?, for annotator: String) async throws -> TaskItem {
        let mine = try await labels.annotations(of: task.dataset, schema: task.schema, rows: [rowID])
        let suggestion = mine.filter { $0.source == .model }.max { ($0.score ?? 0) < ($1.score ?? 0) }?.value
        return TaskItem(task: task.id, rowID: rowID, position: position, needed: needed, uncertainty: uncertainty,
                        yours: mine.first { $0.annotator == annotator && $0.source != .model && $0.source != .adjudication }?.value,
                        suggestion: suggestion)
    }

    /// Records the annotator's answer for an item they were handed (again: it replaces their answer).
    @discardableResult
    public func submit(_ taskID: String, rowID: UInt64, annotator: String, input: LabelInput) async throws -> WriteSummary {
        let task = try await require(.annotator, taskID, user: annotator)
        guard task.status == "open" else { throw LabelError.invalid("task \(taskID) is closed") }
        guard try await store.assignment(taskID, rowID: rowID, annotator: annotator) != nil else {
            throw LabelError.forbidden("row \(rowID) of task \(taskID) was not given to \(annotator); ask for the next item")
        }
        guard input != .none else { throw LabelError.invalid("a submission needs a value; skip the item instead") }
        // The answer is data first: if the process dies before the assignment is marked, the item comes back
        // to this annotator, and submitting again replaces the same annotation.
        let summary = try await labels.annotate([Labeler.Draft(rowID: rowID, schema: task.schema, annotator: annotator, input: input, task: taskID)],
                                                on: task.dataset, message: "Task \(taskID): \(annotator) labels row \(rowID)")
        try await store.finish(taskID, rowID: rowID, annotator: annotator, state: "submitted")
        return summary
    }

    /// Passes on an item: recorded as a skipped annotation, and the item goes to someone else.
    public func skip(_ taskID: String, rowID: UInt64, annotator: String) async throws {
        let task = try await require(.annotator, taskID, user: annotator)
        guard try await store.assignment(taskID, rowID: rowID, annotator: annotator) != nil else {
            throw LabelError.forbidden("row \(rowID) of task \(taskID) was not given to \(annotator)")
        }
        try await labels.annotate([Labeler.Draft(rowID: rowID, schema: task.schema, annotator: annotator, input: .none, task: taskID)],
                                  on: task.dataset, message: "Task \(taskID): \(annotator) skips row \(rowID)")
        try await store.finish(taskID, rowID: rowID, annotator: annotator, state: "skipped")
    }

    // MARK: reviewing

    public func progress(_ taskID: String, by user: String) async throws -> TaskProgress {
        let task = try await require(.reviewer, taskID, user: user)
        let (per, complete) = try await store.progress(taskID)
        return TaskProgress(task: taskID, items: task.items, complete: complete, annotations: per.values.reduce(0) { $0 + $1.submitted },
                            annotators: per.keys.sorted().map { TaskProgress.Annotator(annotator: $0, submitted: per[$0]!.submitted, skipped: per[$0]!.skipped, open: per[$0]!.open) })
    }

    /// The task's answers (submitted, by its annotators) on the items with at least `answers` of them, as they are now:
    /// only the labels of those rows are read.
    func answers(_ task: LabelTask, onItemsWith answers: Int = 1) async throws -> [Annotation] {
        let rows = try await store.answeredItems(task.id, atLeast: answers)
        guard !rows.isEmpty else { return [] }
        return try await labels.annotations(of: task.dataset, schema: task.schema, rows: rows).filter { $0.task == task.id }
    }

    /// Items whose annotators gave different answers, each with every answer and any resolution.
    public func disagreements(_ taskID: String, by reviewer: String, includeResolved: Bool = false) async throws -> [Disagreement] {
        let task = try await require(.reviewer, taskID, user: reviewer)
        let all = try await answers(task, onItemsWith: 2)
        var byRow: [UInt64: [Annotation]] = [:]
        for a in all { byRow[a.rowID, default: []].append(a) }
        return byRow.keys.sorted().compactMap { row in
            let votes = byRow[row]!.filter(\.isVote)
            guard Set(votes.compactMap(\.value)).count > 1 else { return nil }
            let resolution = byRow[row]!.first { $0.source == .adjudication && $0.status == .submitted }?.value
            if resolution != nil && !includeResolved { return nil }
            return Disagreement(rowID: row, answers: votes.sorted { $0.annotator < $1.annotator }.map { .init(annotator: $0.annotator, value: $0.value!) },
                                resolution: resolution)
        }
    }

    /// A reviewer's resolution of an item: an annotation with source `adjudication`, which `Gathering.adjudicated` prefers.
    @discardableResult
    public func resolve(_ taskID: String, rowID: UInt64, reviewer: String, input: LabelInput) async throws -> WriteSummary {
        let task = try await require(.reviewer, taskID, user: reviewer)
        guard try await store.item(taskID, rowID: rowID) != nil else { throw LabelError.notFound("row \(rowID) is not an item of task \(taskID)") }
        return try await labels.annotate([Labeler.Draft(rowID: rowID, schema: task.schema, annotator: reviewer, input: input, source: .adjudication, task: taskID)],
                                         on: task.dataset, message: "Task \(taskID): \(reviewer) resolves row \(rowID)")
    }

    /// Agreement among the task's annotators (its answers only).
    public func agreement(_ taskID: String, by user: String, weights: Ratings.Weights = .none) async throws -> LabelAgreement {
        let task = try await require(.reviewer, taskID, user: user)
        let schema = try await labels.schema(task.schema, of: task.dataset)
        return try Labeler.agreement(of: try await answers(task).filter(\.isVote), schema: schema, weights: weights)
    }
}
