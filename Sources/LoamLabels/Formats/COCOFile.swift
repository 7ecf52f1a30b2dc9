import Foundation
import LoamFormat

/// COCO's annotation file (detection and polygon segmentation): `images` (id = the row's `_rowid`),
/// `categories` (id = class index + 1, in the schema's order), `annotations` (`bbox` [x, y, w, h] in
/// pixels, `segmentation` polygons, `area`, `iscrowd` 0).
enum COCOFile {
    static func render(schema: LabelSchema, images: [ImageRow], labels: [UInt64: String?]) throws -> (json: String, count: Int) {
        guard schema.kind == .boxes || schema.kind == .polygons else {
            throw LabelError.invalid("COCO holds boxes and polygons; '\(schema.name)' is a \(schema.kind.rawValue) schema (export it as jsonl or csv)")
        }
        let classes = schema.classes ?? []
        let categoryID = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0 + 1) })
        var imageText: [String] = [], annotationText: [String] = []
        var next = 1
        func n(_ v: Double) -> String { LabelSchema.number(v) }
        for image in images {
            guard let label = labels[image.rowID], let label else { continue }
            imageText.append("{\"id\":\(image.rowID),\"file_name\":\(JSONText.quote(image.file)),\"width\":\(n(image.width)),\"height\":\(n(image.height))}")
            for part in try JSONValue.parse(label).arrayValue ?? [] {
                let name = part["label"]?.stringValue ?? ""
                var bbox: [Double], area: Double, polygon: [Double]
                if schema.kind == .boxes {
                    let x = part["x"]?.numberValue ?? 0, y = part["y"]?.numberValue ?? 0, w = part["w"]?.numberValue ?? 0, h = part["h"]?.numberValue ?? 0
                    bbox = [x, y, w, h]; area = w * h
                    polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
                } else {
                    let points = (part["points"]?.arrayValue ?? []).compactMap { $0.arrayValue?.compactMap(\.numberValue) }
                    polygon = points.flatMap { $0 }
                    let xs = points.map { $0[0] }, ys = points.map { $0[1] }
                    bbox = [xs.min()!, ys.min()!, xs.max()! - xs.min()!, ys.max()! - ys.min()!]
                    area = abs(zip(points, points.dropFirst() + [points[0]]).reduce(0) { $0 + $1.0[0] * $1.1[1] - $1.1[0] * $1.0[1] }) / 2
                }
                annotationText.append("{\"id\":\(next),\"image_id\":\(image.rowID),\"category_id\":\(categoryID[name] ?? 0),"
                    + "\"bbox\":[\(bbox.map(n).joined(separator: ","))],\"area\":\(n(area)),\"iscrowd\":0,"
                    + "\"segmentation\":[[\(polygon.map(n).joined(separator: ","))]]}")
                next += 1
            }
        }
        let categories = classes.enumerated().map { "{\"id\":\($0.offset + 1),\"name\":\(JSONText.quote($0.element)),\"supercategory\":\"\"}" }
        let json = "{\"info\":{\"description\":\(JSONText.quote("Loam labels '\(schema.name)'")),\"version\":\"1.0\"},\"licenses\":[],\n"
            + "\"images\":[\n" + imageText.joined(separator: ",\n") + "],\n"
            + "\"categories\":[\n" + categories.joined(separator: ",\n") + "],\n"
            + "\"annotations\":[\n" + annotationText.joined(separator: ",\n") + "]}\n"
        return (json, annotationText.count)
    }

    /// The labels in a COCO file, one value (a JSON list of boxes or polygons) per matched row.
    static func read(_ path: String, schema: LabelSchema, matcher: ImageMatcher) throws -> [UInt64: JSONValue] {
        guard schema.kind == .boxes || schema.kind == .polygons else {
            throw LabelError.invalid("COCO holds boxes and polygons; '\(schema.name)' is a \(schema.kind.rawValue) schema")
        }
        let text = try AnnotationRecords.read(path)
        let root: JSONValue
        do { root = try JSONValue.parse(text) } catch { throw LabelError.badFile(file: path, place: "the whole file", message: "not JSON: \(error)") }
        func fail(_ place: String, _ m: String) -> LabelError { .badFile(file: path, place: place, message: m) }
        guard let images = root["images"]?.arrayValue, let categories = root["categories"]?.arrayValue,
              let annotations = root["annotations"]?.arrayValue else {
            throw fail("the top level", "a COCO file has images, categories and annotations arrays")
        }
        var names: [Int: String] = [:]
        for (i, c) in categories.enumerated() {
            guard let id = c["id"]?.intValue, let name = c["name"]?.stringValue else { throw fail("categories[\(i)]", "needs id and name") }
            names[id] = name
        }
        var rows: [Int: UInt64] = [:]
        for (i, image) in images.enumerated() {
            guard let id = image["id"]?.intValue, let file = image["file_name"]?.stringValue else { throw fail("images[\(i)]", "needs id and file_name") }
            rows[id] = try matcher.row(file, file: path, place: "images[\(i)]").rowID
        }
        var parts: [UInt64: [JSONValue]] = [:]
        for row in rows.values { parts[row] = [] }  // an image with no annotation: labelled as holding nothing
        for (i, a) in annotations.enumerated() {
            let place = "annotations[\(i)] (id \(a["id"].map(LabelSchema.render) ?? "?"))"
            guard let imageID = a["image_id"]?.intValue, let row = rows[imageID] else { throw fail(place, "image_id is not the id of an image in the file") }
            guard let categoryID = a["category_id"]?.intValue, let name = names[categoryID] else { throw fail(place, "category_id is not the id of a category") }
            if schema.kind == .boxes {
                guard let box = a["bbox"]?.arrayValue?.compactMap(\.numberValue), box.count == 4 else { throw fail(place, "bbox must be [x, y, width, height]") }
                parts[row]!.append(.object([("label", .string(name)), ("x", .double(box[0])), ("y", .double(box[1])), ("w", .double(box[2])), ("h", .double(box[3]))]))
            } else {
                guard let polygons = a["segmentation"]?.arrayValue else {
                    throw fail(place, "segmentation is run-length encoded (iscrowd); only polygons become polygon labels")
                }
                for polygon in polygons {
                    guard let flat = polygon.arrayValue?.compactMap(\.numberValue), flat.count >= 6, flat.count % 2 == 0 else {
                        throw fail(place, "a segmentation polygon is [x1, y1, x2, y2, …] with at least 3 points")
                    }
                    let points = stride(from: 0, to: flat.count, by: 2).map { JSONValue.array([.double(flat[$0]), .double(flat[$0 + 1])]) }
                    parts[row]!.append(.object([("label", .string(name)), ("points", .array(points))]))
                }
            }
        }
        return parts.mapValues { .array($0) }
    }
}
