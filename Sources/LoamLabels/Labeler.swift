import Foundation
import Loam
import LoamFormat
import LoamTable

/// A label as given, before validation: JSON (files, the API) or text (the command line).
public enum LabelInput: Sendable, Equatable {
    case json(JSONValue)
    case text(String)
    /// No value: a skip.
    case none
}

/// How one training label is chosen from an item's annotations.
public enum Gathering: Sendable, Hashable {
    /// The value most annotators gave (people and imports, submitted); a tie gives no label.
    case majority
    /// A reviewer's resolution when there is one, else the value every annotator agreed on; an unresolved disagreement gives no label.
    case adjudicated
    /// One annotator's value.
    case annotator(String)

    public init(parsing text: String) throws {
        switch text {
        case "majority": self = .majority
        case "adjudicated": self = .adjudicated
        default:
            guard text.hasPrefix("annotator:"), text.count > 10 else {
                throw LabelError.invalid("'\(text)' is not a way to choose labels: use majority, adjudicated or annotator:NAME")
            }
            self = .annotator(String(text.dropFirst(10)))
        }
    }
}

/// Every rule of labels: schemas and their evolution, validation of each label
/// against its schema and its row, writes, gathering one label per row, and
/// agreement. The CLI, the server and Python call these and nothing below.
///
/// ```swift
/// let labels = Labeler(repository: repo)
/// try await labels.define(LabelSchema(name: "sentiment", kind: .single, classes: ["neg", "pos"]), on: "reviews")
/// try await labels.annotate([.init(rowID: 7, schema: "sentiment", annotator: "ana", input: .text("pos"))], on: "reviews")
/// let training = try await labels.gather("sentiment", of: "reviews", by: .majority)   // [_rowid: "pos"]
/// ```
public struct Labeler: Sendable {
    public let repository: Repository
    public let store: any LabelStore

    public init(repository: Repository, store: (any LabelStore)? = nil) {
        self.repository = repository
        self.store = store ?? VersionedLabelStore(repository: repository)
    }

    /// One label to write: the annotation's fields, with its value still as given.
    public struct Draft: Sendable {
        public var rowID: UInt64
        public var schema: String
        public var annotator: String
        public var input: LabelInput
        public var source: Annotation.Source
        public var model: String?
        public var score: Double?
        public var status: Annotation.Status
        public var createdAt: Date?
        public var task: String?

        public init(rowID: UInt64, schema: String, annotator: String, input: LabelInput, source: Annotation.Source = .human,
                    model: String? = nil, score: Double? = nil, status: Annotation.Status? = nil, createdAt: Date? = nil, task: String? = nil) {
            self.rowID = rowID
            self.schema = schema
            self.annotator = annotator
            self.input = input
            self.source = source
            self.model = model
            self.score = score
            self.status = status ?? (input == .none ? .skipped : .submitted)
            self.createdAt = createdAt
            self.task = task
        }
    }

    // MARK: schemas

    /// Adds a label schema to `dataset`, or changes one. A schema in use may gain classes at the end
    /// (class indices stay what loaders were trained on) and change its other settings, but not lose,
    /// reorder or rename classes, nor change its kind.
    @discardableResult
    public func define(_ schema: LabelSchema, on dataset: String) async throws -> String {
        try schema.check()
        let columns = try await repository.dataset(dataset).schema.fields.map(\.name)
        for (option, column) in [("--width-column", schema.widthColumn), ("--height-column", schema.heightColumn),
                                 ("--image-column", schema.imageColumn), ("--text-column", schema.textColumn)] {
            if let column, !columns.contains(column) {
                throw LabelError.invalid("\(option) '\(column)' is not a column of '\(dataset)' (columns: \(columns.joined(separator: ", ")))")
            }
        }
        let commit = try await store.save(schema, dataset: dataset) { old, used in
            guard let old, !used.isEmpty else { return }
            guard old.kind == schema.kind else {
                throw LabelError.invalid("label schema '\(schema.name)' holds \(used.count) \(old.kind.rawValue) labels; its kind cannot become \(schema.kind.rawValue) (define a new schema)")
            }
            let before = old.classes ?? [], after = schema.classes ?? []
            guard after.count >= before.count, Array(after.prefix(before.count)) == before else {
                throw LabelError.invalid("label schema '\(schema.name)' is in use: classes may only be added at the end (now \(LabelSchema.list(before)))")
            }
        }
        return commit.hex
    }

    public func schemas(of dataset: String, at ref: String = "HEAD") async throws -> [LabelSchema] {
        try await store.schemas(dataset: dataset, at: ref)
    }

    public func schema(_ name: String, of dataset: String, at ref: String = "HEAD") async throws -> LabelSchema {
        let all = try await schemas(of: dataset, at: ref)
        guard let schema = all.first(where: { $0.name == name }) else {
            throw LabelError.notFound("'\(dataset)' has no label schema '\(name)' at \(ref) (schemas: \(all.map(\.name).joined(separator: ", ").nonEmpty ?? "none; add one with `loam label schema add`"))")
        }
        return schema
    }

    // MARK: writes

    /// Validates every draft against its schema and row, then writes them all as one commit (or nothing,
    /// if any is wrong: the error names the row and the field).
    @discardableResult
    public func annotate(_ drafts: [Draft], on dataset: String, message: String? = nil) async throws -> WriteSummary {
        guard !drafts.isEmpty else { throw LabelError.invalid("no labels to write") }
        let schemas = Dictionary(uniqueKeysWithValues: try await self.schemas(of: dataset).map { ($0.name, $0) })
        for name in Set(drafts.map(\.schema)) where schemas[name] == nil {
            throw LabelError.notFound("'\(dataset)' has no label schema '\(name)' (schemas: \(schemas.keys.sorted().joined(separator: ", ").nonEmpty ?? "none; add one with `loam label schema add`"))")
        }
        let used = Set(drafts.map(\.schema)).map { schemas[$0]! }
        let rows = try await contexts(of: dataset, for: used, rows: Array(Set(drafts.map(\.rowID))))
        let now = Date()
        var annotations: [Annotation] = []
        annotations.reserveCapacity(drafts.count)
        for draft in drafts {
            let schema = schemas[draft.schema]!
            guard let context = rows[draft.rowID] else {
                throw LabelError.badValue(dataset: dataset, rowID: draft.rowID, schema: draft.schema, field: "row_id",
                                          message: "no live row of '\(dataset)' has _rowid \(draft.rowID)")
            }
            guard !draft.annotator.isEmpty, draft.annotator.count <= 128 else {
                throw LabelError.badValue(dataset: dataset, rowID: draft.rowID, schema: draft.schema, field: "annotator", message: "an annotator is named by 1–128 characters")
            }
            if let score = draft.score, !(score >= 0 && score <= 1) {
                throw LabelError.badValue(dataset: dataset, rowID: draft.rowID, schema: draft.schema, field: "score",
                                          message: "\(score) is not a probability in [0, 1]")
            }
            if draft.source == .model && draft.model == nil {
                throw LabelError.badValue(dataset: dataset, rowID: draft.rowID, schema: draft.schema, field: "model", message: "a model pre-label names its model")
            }
            let value: String?
            switch draft.input {
            case .json(let v): value = try schema.canonical(v, row: context, rowID: draft.rowID, dataset: dataset)
            case .text(let t): value = try schema.canonical(text: t, row: context, rowID: draft.rowID, dataset: dataset)
            case .none: value = nil
            }
            if value == nil && draft.status != .skipped {
                throw LabelError.badValue(dataset: dataset, rowID: draft.rowID, schema: draft.schema, field: "value", message: "a \(draft.status.rawValue) label needs a value (only a skip has none)")
            }
            annotations.append(Annotation(rowID: draft.rowID, schema: draft.schema, annotator: draft.annotator, value: value, source: draft.source,
                                          model: draft.model, score: draft.score, status: draft.status, createdAt: draft.createdAt ?? now, task: draft.task))
        }
        let what = Set(drafts.map(\.schema)).sorted().joined(separator: ", ")
        return try await store.write(annotations, dataset: dataset, message: message ?? "Label \(dataset): \(annotations.count) \(what) annotation\(annotations.count == 1 ? "" : "s")")
    }

    /// The `RowContext` of the live rows (those of `rows`, or all): the image size and text length the schemas'
    /// validation reads. For a few rows only the fragments whose `_rowid` range holds one are read; for many,
    /// every row's context is built in one pass (cheaper than looking each up).
    func contexts(of dataset: String, for schemas: [LabelSchema], rows requested: [UInt64]? = nil) async throws -> [UInt64: RowContext] {
        let ds = try await repository.dataset(dataset)
        let rows = requested.flatMap { $0.count * 16 < ds.rowCount ? $0 : nil }
        let schema = ds.manifest.schema
        let widthColumn = schemas.lazy.compactMap(\.widthColumn).first, heightColumn = schemas.lazy.compactMap(\.heightColumn).first
        let textColumn = schemas.lazy.compactMap(\.textColumn).first
        let wanted = [widthColumn, heightColumn, textColumn].map { $0.flatMap { schema.columnID($0) } }
        let sorted = rows?.sorted()
        let only = rows.map(Set.init)
        var out: [UInt64: RowContext] = [:]
        out.reserveCapacity(rows?.count ?? ds.rowCount)
        let reader = FragmentReader(objects: repository.objects)
        for entry in ds.manifest.fragments {
            if let sorted {  // the first wanted id at or above the fragment's smallest must not pass its largest
                var low = 0, high = sorted.count
                while low < high { let mid = (low + high) / 2; if sorted[mid] < entry.minRowID { low = mid + 1 } else { high = mid } }
                guard low < sorted.count, sorted[low] <= entry.maxRowID else { continue }
            }
            let data = try await reader.read(entry, schema: schema, columnIDs: wanted.compactMap { $0 })
            func column(_ k: Int) -> ArrowArray? { wanted[k].map { id in data.columns[wanted.compactMap { $0 }.firstIndex(of: id)!] } }
            let width = column(0), height = column(1), text = column(2)
            func number(_ array: ArrowArray?, _ p: Int) -> Double? {
                switch array?.value(at: p) {
                case .int(let i)?: return Double(i)
                case .uint(let u)?: return Double(u)
                case .float(let d)?: return d
                default: return nil
                }
            }
            for i in 0..<data.liveCount {
                let p = data.physical(i)
                let id = data.rowIDs.buffers[1].load(p, as: UInt64.self)
                if let only, !only.contains(id) { continue }
                var context = RowContext(width: number(width, p), height: number(height, p))
                if let text, !text.isNull(p) { context.textLength = text.string(at: p).unicodeScalars.count }
                out[id] = context
            }
        }
        return out
    }

    // MARK: reads

    public func annotations(of dataset: String, schema: String? = nil, at ref: String = "HEAD") async throws -> [Annotation] {
        if let schema { _ = try await self.schema(schema, of: dataset, at: ref) }
        return try await store.annotations(dataset: dataset, schema: schema, at: ref)
    }

    /// The annotations of some labelled rows at HEAD (read from the fragments that may hold them, when the store can).
    public func annotations(of dataset: String, schema: String, rows: [UInt64]) async throws -> [Annotation] {
        if let versioned = store as? VersionedLabelStore { return try await versioned.annotations(dataset: dataset, schema: schema, rows: rows) }
        let wanted = Set(rows)
        return try await store.annotations(dataset: dataset, schema: schema, at: "HEAD").filter { wanted.contains($0.rowID) }
    }

    /// One label per labelled row (`_rowid` → stored value; nil where the rule gives none), as of `ref`.
    public func gather(_ schema: String, of dataset: String, by rule: Gathering, at ref: String = "HEAD") async throws -> [UInt64: String?] {
        Self.gather(try await annotations(of: dataset, schema: schema, at: ref), by: rule)
    }

    public static func gather(_ annotations: [Annotation], by rule: Gathering) -> [UInt64: String?] {
        var votes: [UInt64: [String: Int]] = [:]
        var resolutions: [UInt64: String] = [:]
        var chosen: [UInt64: String?] = [:]
        for a in annotations {
            switch rule {
            case .annotator(let name):
                if a.annotator == name, a.status == .submitted, let v = a.value { chosen[a.rowID] = v }
            case .majority, .adjudicated:
                if a.isVote, let v = a.value { votes[a.rowID, default: [:]][v, default: 0] += 1 }
                if a.source == .adjudication, a.status == .submitted, let v = a.value { resolutions[a.rowID] = v }
            }
        }
        if case .annotator = rule { return chosen }
        for (row, counts) in votes {
            if rule == .adjudicated {
                chosen[row] = counts.count == 1 ? counts.first!.key : nil
            } else {
                let best = counts.values.max()!
                let winners = counts.filter { $0.value == best }
                chosen[row] = winners.count == 1 ? winners.first!.key : nil
            }
        }
        if rule == .adjudicated { for (row, value) in resolutions { chosen[row] = value } }
        return chosen
    }

    /// Agreement between the annotators of one schema (submitted labels by people and imports):
    /// for classes and ratings the chance-corrected measures, for boxes and spans the IoU-matched agreement.
    public func agreement(_ schema: String, of dataset: String, at ref: String = "HEAD", weights: Ratings.Weights = .none) async throws -> LabelAgreement {
        let definition = try await self.schema(schema, of: dataset, at: ref)
        return try Self.agreement(of: try await annotations(of: dataset, schema: schema, at: ref).filter(\.isVote), schema: definition, weights: weights)
    }

    static func agreement(of votes: [Annotation], schema: LabelSchema, weights: Ratings.Weights) throws -> LabelAgreement {
        switch schema.kind {
        case .single, .rating:
            let report = try AgreementReport(Ratings(votes.map { (String($0.rowID), $0.annotator, $0.value!) }), weights: weights)
            return LabelAgreement(schema: schema.name, kind: schema.kind.rawValue, ratings: report, overlap: nil)
        case .boxes, .spans, .polygons, .multi, .relations, .text:
            return LabelAgreement(schema: schema.name, kind: schema.kind.rawValue, ratings: nil, overlap: try OverlapAgreement(votes, kind: schema.kind))
        }
    }
}

/// `Labeler.agreement`'s answer: the measures that apply to the schema's kind.
public struct LabelAgreement: Encodable, Sendable {
    public let schema: String
    public let kind: String
    public let ratings: AgreementReport?
    public let overlap: OverlapAgreement?
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

extension Labeler {
    /// One row of `dataset` at HEAD by its `_rowid` (column name → value), reading only the fragment whose id range holds it.
    public func row(_ rowID: UInt64, of dataset: String) async throws -> [(String, Value)] {
        let ds = try await repository.dataset(dataset)
        let reader = FragmentReader(objects: repository.objects)
        let ids = ds.manifest.schema.columns.compactMap(\.id)
        for entry in ds.manifest.fragments where entry.minRowID <= rowID && rowID <= entry.maxRowID {
            let data = try await reader.read(entry, schema: ds.manifest.schema, columnIDs: ids)
            for i in 0..<data.liveCount where data.rowIDs.buffers[1].load(data.physical(i), as: UInt64.self) == rowID {
                return zip(ds.schema.fields, data.columns).map { ($0.name, $1.value(at: data.physical(i))) }
            }
        }
        throw LabelError.notFound("no live row of '\(dataset)' has _rowid \(rowID)")
    }
}
