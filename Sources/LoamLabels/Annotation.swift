import Foundation

/// One annotator's label for one row under one label schema.
///
/// The key is (row, schema, annotator): an annotator labelling a row again
/// replaces their label (the same labels row, a new version of it).
public struct Annotation: Hashable, Sendable {
    /// Where a label came from.
    public enum Source: String, Sendable, CaseIterable, Codable {
        case human
        /// A model's pre-label: `model` names it, `score` is its confidence.
        case model
        /// Read from a file (COCO, YOLO, JSONL …).
        case `import`
        /// A reviewer's resolution of a disagreement.
        case adjudication
    }

    public enum Status: String, Sendable, CaseIterable, Codable {
        case submitted
        /// The annotator passed on the item; `value` is nil.
        case skipped
        /// Saved but not submitted: not counted by agreement or loaders.
        case draft
    }

    /// The labelled row's `_rowid` in the dataset.
    public var rowID: UInt64
    public var schema: String
    public var annotator: String
    /// The label as stored (`LabelSchema.canonical`); nil when skipped.
    public var value: String?
    public var source: Source
    public var model: String?
    public var score: Double?
    public var status: Status
    public var createdAt: Date
    public var task: String?

    public init(rowID: UInt64, schema: String, annotator: String, value: String?, source: Source = .human,
                model: String? = nil, score: Double? = nil, status: Status = .submitted, createdAt: Date = Date(), task: String? = nil) {
        self.rowID = rowID
        self.schema = schema
        self.annotator = annotator
        self.value = value
        self.source = source
        self.model = model
        self.score = score
        self.status = status
        self.createdAt = createdAt
        self.task = task
    }

    /// Counted as an independent opinion by majority and agreement: submitted, by a person or an import.
    public var isVote: Bool { status == .submitted && value != nil && (source == .human || source == .import) }
}

extension Annotation: Encodable {
    enum CodingKeys: String, CodingKey {
        case rowID = "row_id", schema, annotator, value, source, model, score, status, createdAt = "created_at", task
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rowID, forKey: .rowID)
        try c.encode(schema, forKey: .schema)
        try c.encode(annotator, forKey: .annotator)
        try c.encode(value, forKey: .value)
        try c.encode(source.rawValue, forKey: .source)
        try c.encode(model, forKey: .model)
        try c.encode(score, forKey: .score)
        try c.encode(status.rawValue, forKey: .status)
        try c.encode(AnnotationRecords.timestamp(createdAt), forKey: .createdAt)
        try c.encode(task, forKey: .task)
    }
}
