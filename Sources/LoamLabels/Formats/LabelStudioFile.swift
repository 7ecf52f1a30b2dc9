import Foundation
import Loam
import LoamFormat

/// What a Label Studio task carries of its row: the row's values as `data`, the text spans index, the image size.
struct LabelStudioRow {
    let data: [(String, JSONValue)]
    let text: String?
    let image: String?
    let width: Double?
    let height: Double?
}

/// Label Studio's JSON export: an array of tasks, one per row (`data` holds the row's values and `loam_rowid`),
/// each person's label an entry of `annotations` (`completed_by`, `was_cancelled` for a skip, `ground_truth` for a
/// reviewer's resolution) and each model pre-label one of `predictions` (`model_version`, `score`). A label is a
/// `result` list in Label Studio's shapes: `choices`, `number`, `textarea`, `rectanglelabels` and `polygonlabels`
/// (percent of the image), `labels` (spans, with offsets in UTF-16 code units as Label Studio counts them).
enum LabelStudioFile {
    static func toName(_ schema: LabelSchema) -> String { schema.textColumn ?? schema.imageColumn ?? "text" }

    static func render(schema: LabelSchema, rows: [(UInt64, LabelStudioRow)], annotations: [Annotation]) throws -> String {
        guard schema.kind != .relations else { throw LabelError.invalid("relations are not exported to Label Studio yet; export them as jsonl") }
        var byRow: [UInt64: [Annotation]] = [:]
        for a in annotations { byRow[a.rowID, default: []].append(a) }
        var tasks: [JSONValue] = [], next = 1
        for (rowID, row) in rows {
            var done: [JSONValue] = [], predicted: [JSONValue] = []
            for a in byRow[rowID] ?? [] {
                let result = try a.value.map { try results(schema: schema, value: $0, row: row) } ?? []
                if a.source == .model {
                    predicted.append(.object([("id", .int(Int64(next))), ("model_version", .string(a.model ?? a.annotator)),
                                              ("score", a.score.map(JSONValue.double) ?? .null), ("result", .array(result))]))
                } else {
                    done.append(.object([("id", .int(Int64(next))), ("completed_by", .object([("email", .string(a.annotator))])),
                                         ("created_at", .string(AnnotationRecords.timestamp(a.createdAt))), ("was_cancelled", .bool(a.status == .skipped)),
                                         ("ground_truth", .bool(a.source == .adjudication)), ("result", .array(result))]))
                }
                next += 1
            }
            tasks.append(.object([("id", .int(Int64(rowID))), ("data", .object(row.data + [("loam_rowid", .int(Int64(rowID)))])),
                                  ("annotations", .array(done)), ("predictions", .array(predicted))]))
        }
        return "[\n" + tasks.map(LabelSchema.render).joined(separator: ",\n") + "\n]\n"
    }

    static func results(schema: LabelSchema, value: String, row: LabelStudioRow) throws -> [JSONValue] {
        func region(_ type: String, _ value: [(String, JSONValue)], extra: [(String, JSONValue)] = []) -> JSONValue {
            .object([("from_name", .string(schema.name)), ("to_name", .string(toName(schema))), ("type", .string(type))] + extra + [("value", .object(value))])
        }
        let w = row.width ?? 1, h = row.height ?? 1
        let size: [(String, JSONValue)] = [("original_width", .double(w)), ("original_height", .double(h)), ("image_rotation", .int(0))]
        switch schema.kind {
        case .single: return [region("choices", [("choices", .array([.string(value)]))])]
        case .multi: return [region("choices", [("choices", try JSONValue.parse(value))])]
        case .rating: return [region("number", [("number", .double(Double(value) ?? 0))])]
        case .text: return [region("textarea", [("text", .array([.string(value)]))])]
        case .boxes:
            return try (JSONValue.parse(value).arrayValue ?? []).map { b in
                let x = b["x"]?.numberValue ?? 0, y = b["y"]?.numberValue ?? 0, bw = b["w"]?.numberValue ?? 0, bh = b["h"]?.numberValue ?? 0
                return region("rectanglelabels", [("x", .double(100 * x / w)), ("y", .double(100 * y / h)), ("width", .double(100 * bw / w)),
                                                  ("height", .double(100 * bh / h)), ("rotation", .int(0)), ("rectanglelabels", .array([b["label"] ?? .null]))],
                              extra: size)
            }
        case .polygons:
            return try (JSONValue.parse(value).arrayValue ?? []).map { p in
                let points = (p["points"]?.arrayValue ?? []).map { pt -> JSONValue in
                    let xy = pt.arrayValue?.compactMap(\.numberValue) ?? [0, 0]
                    return .array([.double(100 * xy[0] / w), .double(100 * xy[1] / h)])
                }
                return region("polygonlabels", [("points", .array(points)), ("polygonlabels", .array([p["label"] ?? .null]))], extra: size)
            }
        case .spans:
            let scalars = Array((row.text ?? "").unicodeScalars)
            return try (JSONValue.parse(value).arrayValue ?? []).map { s in
                let start = s["start"]?.intValue ?? 0, end = s["end"]?.intValue ?? 0
                func utf16(_ n: Int) -> Int { scalars.prefix(n).reduce(0) { $0 + ($1.value > 0xFFFF ? 2 : 1) } }
                var text = String.UnicodeScalarView()
                text.append(contentsOf: scalars[min(start, scalars.count)..<min(end, scalars.count)])
                return region("labels", [("start", .int(Int64(utf16(start)))), ("end", .int(Int64(utf16(end)))), ("text", .string(String(text))),
                                         ("labels", .array([s["label"] ?? .null]))])
            }
        case .relations: return []
        }
    }

    /// The labels of a Label Studio export, as drafts for `schema`: tasks are matched to rows by `data.loam_rowid`,
    /// else the image (the schema's image column, or `data.image`), else the text.
    static func read(_ path: String, schema: LabelSchema, rows: [(UInt64, LabelStudioRow)]) throws -> [Labeler.Draft] {
        let root: JSONValue
        do { root = try JSONValue.parse(try AnnotationRecords.read(path)) } catch let e as LabelError { throw e } catch {
            throw LabelError.badFile(file: path, place: "the whole file", message: "not JSON: \(error)")
        }
        guard let tasks = root.arrayValue else { throw LabelError.badFile(file: path, place: "the top level", message: "a Label Studio export is a JSON array of tasks") }
        let byID = Dictionary(rows.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        let images = ImageMatcher(rows.compactMap { id, row in row.image.map { ImageRow(rowID: id, file: $0, width: row.width ?? 0, height: row.height ?? 0) } })
        let texts = Dictionary(grouping: rows.compactMap { id, row in row.text.map { ($0, id) } }, by: \.0).compactMapValues { $0.count == 1 ? $0[0].1 : nil }
        var drafts: [Labeler.Draft] = []
        for (t, task) in tasks.enumerated() {
            let place = "tasks[\(t)]"
            func fail(_ m: String) -> LabelError { .badFile(file: path, place: place, message: m) }
            let data = task["data"]
            var rowID: UInt64?
            if let id = data?["loam_rowid"]?.intValue, id >= 0 { rowID = UInt64(id) }
            else if let image = (schema.imageColumn.flatMap { data?[$0]?.stringValue }) ?? data?["image"]?.stringValue {
                rowID = try images.row(image, file: path, place: place).rowID
            } else if let text = (schema.textColumn.flatMap { data?[$0]?.stringValue }) ?? data?["text"]?.stringValue {
                rowID = texts[text]
            }
            guard let rowID, let row = byID[rowID] else { throw fail("cannot tell which row it is: give data.loam_rowid, or the image or text of one row") }
            for (k, entry) in (task["annotations"]?.arrayValue ?? []).enumerated() {
                let who: String
                switch entry["completed_by"] {
                case .string(let s)?: who = s
                case .int(let i)?: who = "labelstudio-user-\(i)"
                case let object?: who = object["email"]?.stringValue ?? object["id"]?.intValue.map { "labelstudio-user-\($0)" } ?? "labelstudio"
                case nil: who = "labelstudio"
                }
                let skipped = entry["was_cancelled"]?.boolValue == true
                let value = skipped ? nil : try label(schema: schema, entry["result"]?.arrayValue ?? [], row: row, fail: { fail("annotations[\(k)]: \($0)") })
                drafts.append(Labeler.Draft(rowID: rowID, schema: schema.name, annotator: who, input: value.map(LabelInput.json) ?? .none,
                                            source: entry["ground_truth"]?.boolValue == true ? .adjudication : .import,
                                            status: skipped ? .skipped : .submitted,
                                            createdAt: entry["created_at"]?.stringValue.flatMap(AnnotationRecords.parseTimestamp)))
            }
            for (k, entry) in (task["predictions"]?.arrayValue ?? []).enumerated() {
                let model = entry["model_version"]?.stringValue ?? "labelstudio-model"
                guard let value = try label(schema: schema, entry["result"]?.arrayValue ?? [], row: row, fail: { fail("predictions[\(k)]: \($0)") }) else { continue }
                drafts.append(Labeler.Draft(rowID: rowID, schema: schema.name, annotator: model, input: .json(value), source: .model, model: model,
                                            score: entry["score"]?.numberValue.map { min(max($0, 0), 1) }))
            }
        }
        return drafts
    }

    /// One annotation's `result` list as a Loam label value (nil when it holds nothing for this schema).
    static func label(schema: LabelSchema, _ results: [JSONValue], row: LabelStudioRow, fail: (String) -> LabelError) throws -> JSONValue? {
        let mine = results.filter { $0["from_name"]?.stringValue == nil || $0["from_name"]?.stringValue == schema.name }
        let w = row.width ?? 0, h = row.height ?? 0
        switch schema.kind {
        case .single:
            return mine.first?["value"]?["choices"]?.arrayValue?.first
        case .multi:
            return .array(mine.flatMap { $0["value"]?["choices"]?.arrayValue ?? [] })
        case .rating:
            return mine.first.flatMap { $0["value"]?["number"] ?? $0["value"]?["rating"] }
        case .text:
            return mine.first?["value"]?["text"]?.arrayValue?.first
        case .boxes:
            guard w > 0, h > 0 else { throw fail("boxes in percent need the image size: define the schema with --width-column and --height-column") }
            return .array(try mine.filter { $0["type"]?.stringValue == "rectanglelabels" }.map { r in
                let v = r["value"]
                guard let x = v?["x"]?.numberValue, let y = v?["y"]?.numberValue, let bw = v?["width"]?.numberValue, let bh = v?["height"]?.numberValue,
                      let label = v?["rectanglelabels"]?.arrayValue?.first else { throw fail("a rectanglelabels value needs x, y, width, height and rectanglelabels") }
                return .object([("label", label), ("x", .double(x * w / 100)), ("y", .double(y * h / 100)), ("w", .double(bw * w / 100)), ("h", .double(bh * h / 100))])
            })
        case .polygons:
            guard w > 0, h > 0 else { throw fail("polygons in percent need the image size: define the schema with --width-column and --height-column") }
            return .array(try mine.filter { $0["type"]?.stringValue == "polygonlabels" }.map { r in
                guard let points = r["value"]?["points"]?.arrayValue, let label = r["value"]?["polygonlabels"]?.arrayValue?.first else {
                    throw fail("a polygonlabels value needs points and polygonlabels")
                }
                return .object([("label", label), ("points", .array(points.map { p in
                    let xy = p.arrayValue?.compactMap(\.numberValue) ?? [0, 0]
                    return .array([.double(xy[0] * w / 100), .double((xy.count > 1 ? xy[1] : 0) * h / 100)])
                }))])
            })
        case .spans:
            let units = Array((row.text ?? "").unicodeScalars)
            func scalarOffset(_ utf16: Int) -> Int {  // Label Studio counts UTF-16 code units
                var seen = 0, n = 0
                while n < units.count && seen < utf16 { seen += units[n].value > 0xFFFF ? 2 : 1; n += 1 }
                return n
            }
            return .array(try mine.filter { $0["type"]?.stringValue == "labels" }.map { r in
                guard let start = r["value"]?["start"]?.intValue, let end = r["value"]?["end"]?.intValue, let label = r["value"]?["labels"]?.arrayValue?.first else {
                    throw fail("a labels value needs start, end and labels")
                }
                return .object([("label", label), ("start", .int(Int64(scalarOffset(start)))), ("end", .int(Int64(scalarOffset(end))))])
            })
        case .relations:
            throw fail("relations are not read from Label Studio yet; import them as jsonl")
        }
    }
}

extension Labeler {
    /// Every live row as Label Studio sees it: its values (binary ones left out), its text, image and size.
    func labelStudioRows(of dataset: String, schema: LabelSchema, at ref: String) async throws -> [(UInt64, LabelStudioRow)] {
        let ds = try await repository.dataset(dataset, at: ref)
        var out: [(UInt64, LabelStudioRow)] = []
        try await ds.scan(includeRowID: true) { batch in
            let names = batch.schema.fields.map(\.name)
            for r in 0..<batch.length {
                var data: [(String, JSONValue)] = []
                var values: [String: Value] = [:]
                for (c, name) in names.enumerated().dropFirst() {
                    let v = batch.columns[c].value(at: r)
                    values[name] = v
                    switch v {
                    case .string(let s): data.append((name, .string(s)))
                    case .int(let i): data.append((name, .int(i)))
                    case .uint(let u): data.append((name, .uint(u)))
                    case .float(let d): data.append((name, d.isFinite ? .double(d) : .null))
                    case .bool(let b): data.append((name, .bool(b)))
                    case .null: data.append((name, .null))
                    case .binary: continue
                    case .list, .structValue: data.append((name, .string(v.displayText)))
                    }
                }
                func number(_ column: String?) -> Double? {
                    switch column.flatMap({ values[$0] }) {
                    case .int(let i)?: return Double(i)
                    case .uint(let u)?: return Double(u)
                    case .float(let d)?: return d
                    default: return nil
                    }
                }
                func text(_ column: String?) -> String? { if case .string(let s)? = column.flatMap({ values[$0] }) { return s } else { return nil } }
                out.append((batch.columns[0].buffers[1].load(r, as: UInt64.self),
                            LabelStudioRow(data: data, text: text(schema.textColumn ?? (values["text"] != nil ? "text" : nil)),
                                           image: text(schema.imageColumn), width: number(schema.widthColumn), height: number(schema.heightColumn))))
            }
        }
        return out
    }
}
