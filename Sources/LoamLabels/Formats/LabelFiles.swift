import Foundation
import Loam
import LoamFormat

/// The files labels are read from and written to.
public enum LabelFormat: String, Sendable, CaseIterable {
    /// One annotation per line, every field (`row_id`, `schema`, `annotator`, `value` as JSON, `source`, `model`, `score`, `status`, `created_at`, `task`).
    case jsonl
    /// The same fields as CSV columns, `value` as stored text.
    case csv
    /// COCO detection/segmentation JSON (boxes or polygons): images, categories, annotations.
    case coco
    /// A folder: `data.yaml`, `images.txt`, `labels/<image stem>.txt` with normalized `class cx cy w h` (or polygon points).
    case yolo
    /// Pascal VOC: a folder with `Annotations/<image stem>.xml` (boxes).
    case voc
    /// Label Studio's JSON export: tasks with `data`, `annotations` (each annotator's `result`) and `predictions`.
    case labelstudio

    /// Formats written as a folder rather than one file.
    public var isFolder: Bool { self == .yolo || self == .voc }
}

/// What the image-based formats need from the labelled dataset: each row's image name and size.
struct ImageRow {
    let rowID: UInt64
    let file: String
    let width: Double
    let height: Double
}

extension Labeler {
    /// Each live row's image name (the schema's image column, else the `_rowid`) and size.
    func images(of dataset: String, schema: LabelSchema, at ref: String, format: LabelFormat) async throws -> [ImageRow] {
        guard let widthColumn = schema.widthColumn, let heightColumn = schema.heightColumn else {
            throw LabelError.invalid("\(format.rawValue) needs each image's size: define '\(schema.name)' with --width-column and --height-column")
        }
        let ds = try await repository.dataset(dataset, at: ref)
        var out: [ImageRow] = []
        try await ds.scan(columns: [widthColumn, heightColumn] + (schema.imageColumn.map { [$0] } ?? []), includeRowID: true) { batch in
            for row in 0..<batch.length {
                let id = batch.columns[0].buffers[1].load(row, as: UInt64.self)
                func number(_ c: Int) -> Double {
                    switch batch.columns[c].value(at: row) {
                    case .int(let i): return Double(i)
                    case .uint(let u): return Double(u)
                    case .float(let d): return d
                    default: return .nan
                    }
                }
                let file = batch.length > 0 && batch.columns.count > 3 && !batch.columns[3].isNull(row) ? batch.columns[3].string(at: row) : String(id)
                out.append(ImageRow(rowID: id, file: file, width: number(1), height: number(2)))
            }
        }
        return out
    }

    // MARK: export

    /// Writes the labels of `schema` to `path` (a file, or a folder for YOLO and VOC). JSONL, CSV and Label Studio
    /// write every annotation; COCO, YOLO and VOC write one label per image, chosen by `rule`. Returns how many labels were written.
    @discardableResult
    public func export(_ schemaName: String, of dataset: String, to path: String, format: LabelFormat,
                       by rule: Gathering = .majority, at ref: String = "HEAD") async throws -> Int {
        let schema = try await self.schema(schemaName, of: dataset, at: ref)
        let annotations = try await store.annotations(dataset: dataset, schema: schemaName, at: ref)
        switch format {
        case .jsonl:
            var text = ""
            for a in annotations { text += AnnotationRecords.jsonLine(a, kind: schema.kind) + "\n" }
            try AnnotationRecords.write(text, to: path)
            return annotations.count
        case .csv:
            try AnnotationRecords.write(AnnotationRecords.csv(annotations), to: path)
            return annotations.count
        case .coco:
            let chosen = Self.gather(annotations, by: rule)
            let text = try COCOFile.render(schema: schema, images: try await images(of: dataset, schema: schema, at: ref, format: format), labels: chosen)
            try AnnotationRecords.write(text.json, to: path)
            return text.count
        case .yolo:
            let chosen = Self.gather(annotations, by: rule)
            return try YOLOFolder.write(schema: schema, images: try await images(of: dataset, schema: schema, at: ref, format: format),
                                        labels: chosen, to: URL(fileURLWithPath: path))
        case .voc:
            let chosen = Self.gather(annotations, by: rule)
            return try VOCFolder.write(schema: schema, images: try await images(of: dataset, schema: schema, at: ref, format: format),
                                       labels: chosen, to: URL(fileURLWithPath: path))
        case .labelstudio:
            let rows = try await labelStudioRows(of: dataset, schema: schema, at: ref)
            try AnnotationRecords.write(try LabelStudioFile.render(schema: schema, rows: rows, annotations: annotations), to: path)
            return annotations.count
        }
    }

    // MARK: import

    /// Reads labels of `schema` from `path` and writes them as one commit (nothing if any is wrong).
    /// JSONL, CSV and Label Studio carry their own annotators and sources; COCO, YOLO and VOC labels are written as
    /// `annotator`'s, with source `import`. Images are matched to rows by the schema's image column
    /// (the whole path, else its file name).
    @discardableResult
    public func importLabels(_ schemaName: String, of dataset: String, from path: String, format: LabelFormat,
                             annotator: String = "import") async throws -> WriteSummary {
        let schema = try await self.schema(schemaName, of: dataset)
        let drafts: [Draft]
        switch format {
        case .jsonl: drafts = try AnnotationRecords.readJSONL(path, schema: schema.name)
        case .csv: drafts = try AnnotationRecords.readCSV(path, schema: schema.name)
        case .labelstudio:
            let rows = try await labelStudioRows(of: dataset, schema: schema, at: "HEAD")
            drafts = try LabelStudioFile.read(path, schema: schema, rows: rows)
        case .coco, .yolo, .voc:
            let rows = try await images(of: dataset, schema: schema, at: "HEAD", format: format)
            let matcher = ImageMatcher(rows)
            let values = format == .coco ? try COCOFile.read(path, schema: schema, matcher: matcher)
                : format == .yolo ? try YOLOFolder.read(URL(fileURLWithPath: path), schema: schema, matcher: matcher)
                : try VOCFolder.read(URL(fileURLWithPath: path), schema: schema, matcher: matcher)
            drafts = values.map { Draft(rowID: $0.key, schema: schema.name, annotator: annotator, input: .json($0.value), source: .import) }
                .sorted { $0.rowID < $1.rowID }
        }
        guard !drafts.isEmpty else { throw LabelError.badFile(file: path, place: "the whole file", message: "holds no labels") }
        return try await annotate(drafts, on: dataset, message: "Import \(drafts.count) \(schema.name) labels of \(dataset) from \(URL(fileURLWithPath: path).lastPathComponent) (\(format.rawValue))")
    }
}

/// Finds the row of an image named in a file: by its whole path, else by its file name, else by its stem.
struct ImageMatcher {
    let byPath: [String: ImageRow]
    let byName: [String: [ImageRow]]
    let byStem: [String: [ImageRow]]

    init(_ rows: [ImageRow]) {
        byPath = Dictionary(rows.map { ($0.file, $0) }, uniquingKeysWith: { a, _ in a })
        byName = Dictionary(grouping: rows, by: { ($0.file as NSString).lastPathComponent })
        byStem = Dictionary(grouping: rows, by: { (($0.file as NSString).lastPathComponent as NSString).deletingPathExtension })
    }

    func row(_ name: String, file: String, place: String) throws -> ImageRow {
        if let row = byPath[name] { return row }
        let base = (name as NSString).lastPathComponent
        for candidates in [byName[base], byStem[(base as NSString).deletingPathExtension]] {
            guard let candidates else { continue }
            guard candidates.count == 1 else {
                throw LabelError.badFile(file: file, place: place, message: "image '\(name)' matches \(candidates.count) rows (\(candidates.prefix(3).map(\.file).joined(separator: ", "))); give full paths")
            }
            return candidates[0]
        }
        throw LabelError.badFile(file: file, place: place, message: "image '\(name)' is not the image of any row (\(byPath.count) rows)")
    }
}
