import Foundation
import LoamFormat

/// Ultralytics YOLO's layout: `data.yaml` (`names`, `nc`, `train`/`val` = `images.txt`), `images.txt`
/// (one image path per line) and `labels/<image stem>.txt`, a line per object: the class index and the box
/// as `cx cy w h` normalized by the image size, or (polygons) the class and normalized points `x1 y1 x2 y2 …`.
enum YOLOFolder {
    static func write(schema: LabelSchema, images: [ImageRow], labels: [UInt64: String?], to folder: URL) throws -> Int {
        guard schema.kind == .boxes || schema.kind == .polygons else {
            throw LabelError.invalid("YOLO holds boxes and polygons; '\(schema.name)' is a \(schema.kind.rawValue) schema (export it as jsonl or csv)")
        }
        let classes = schema.classes ?? []
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let labelsFolder = folder.appendingPathComponent("labels")
        do { try FileManager.default.createDirectory(at: labelsFolder, withIntermediateDirectories: true) } catch {
            throw LabelError.invalid("cannot create \(labelsFolder.path): \(error.localizedDescription)")
        }
        var stems: [String: String] = [:]
        var list: [String] = [], count = 0
        for image in images {
            guard let label = labels[image.rowID], let label else { continue }
            let stem = ((image.file as NSString).lastPathComponent as NSString).deletingPathExtension
            if let other = stems[stem] {
                throw LabelError.invalid("images '\(other)' and '\(image.file)' share the name '\(stem)', and YOLO names label files by it")
            }
            stems[stem] = image.file
            var lines: [String] = []
            for part in try JSONValue.parse(label).arrayValue ?? [] {
                let k = index[part["label"]?.stringValue ?? ""] ?? 0
                if schema.kind == .boxes {
                    let x = part["x"]?.numberValue ?? 0, y = part["y"]?.numberValue ?? 0, w = part["w"]?.numberValue ?? 0, h = part["h"]?.numberValue ?? 0
                    lines.append("\(k) \((x + w / 2) / image.width) \((y + h / 2) / image.height) \(w / image.width) \(h / image.height)")
                } else {
                    let points = (part["points"]?.arrayValue ?? []).compactMap { $0.arrayValue?.compactMap(\.numberValue) }
                    lines.append("\(k) " + points.map { "\($0[0] / image.width) \($0[1] / image.height)" }.joined(separator: " "))
                }
                count += 1
            }
            try AnnotationRecords.write(lines.map { $0 + "\n" }.joined(), to: labelsFolder.appendingPathComponent(stem + ".txt").path)
            list.append(image.file)
        }
        try AnnotationRecords.write(list.map { $0 + "\n" }.joined(), to: folder.appendingPathComponent("images.txt").path)
        let yaml = "# Written by Loam from label schema '\(schema.name)'\npath: .\ntrain: images.txt\nval: images.txt\nnc: \(classes.count)\nnames:\n"
            + classes.enumerated().map { "  \($0.offset): \(JSONText.quote($0.element))\n" }.joined()
        try AnnotationRecords.write(yaml, to: folder.appendingPathComponent("data.yaml").path)
        return count
    }

    static func read(_ folder: URL, schema: LabelSchema, matcher: ImageMatcher) throws -> [UInt64: JSONValue] {
        guard schema.kind == .boxes || schema.kind == .polygons else {
            throw LabelError.invalid("YOLO holds boxes and polygons; '\(schema.name)' is a \(schema.kind.rawValue) schema")
        }
        let yamlPath = folder.appendingPathComponent("data.yaml").path
        let names = try classNames(try AnnotationRecords.read(yamlPath), file: yamlPath)
        let labelsFolder = folder.appendingPathComponent("labels")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: labelsFolder.path) else {
            throw LabelError.notFound("\(labelsFolder.path) is missing: a YOLO folder holds labels/<image>.txt")
        }
        var out: [UInt64: JSONValue] = [:]
        for file in files.sorted() where file.hasSuffix(".txt") {
            let path = labelsFolder.appendingPathComponent(file).path
            let image = try matcher.row(String(file.dropLast(4)), file: path, place: "its name")
            var parts: [JSONValue] = []
            for (n, line) in try AnnotationRecords.read(path).split(separator: "\n").enumerated() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.isEmpty { continue }
                func fail(_ m: String) -> LabelError { .badFile(file: path, place: "line \(n + 1)", message: m) }
                guard let k = Int(fields[0]), names.indices.contains(k) else { throw fail("class '\(fields[0])' is not an index into the \(names.count) names of data.yaml") }
                let numbers = try fields.dropFirst().map { try Double($0).orThrow(fail("'\($0)' is not a number")) }
                if schema.kind == .boxes {
                    guard numbers.count == 4 else { throw fail("a box line is: class cx cy w h (normalized)") }
                    let w = numbers[2] * image.width, h = numbers[3] * image.height
                    let x = numbers[0] * image.width - w / 2, y = numbers[1] * image.height - h / 2
                    parts.append(.object([("label", .string(names[k])), ("x", .double(x)), ("y", .double(y)), ("w", .double(w)), ("h", .double(h))]))
                } else {
                    guard numbers.count >= 6, numbers.count % 2 == 0 else { throw fail("a polygon line is: class x1 y1 x2 y2 … (at least 3 points, normalized)") }
                    let points = stride(from: 0, to: numbers.count, by: 2).map {
                        JSONValue.array([.double(numbers[$0] * image.width), .double(numbers[$0 + 1] * image.height)])
                    }
                    parts.append(.object([("label", .string(names[k])), ("points", .array(points))]))
                }
            }
            out[image.rowID] = .array(parts)
        }
        return out
    }

    /// `names` of a data.yaml: a flow list (`names: [a, b]`), a block list (`- a`) or a map (`0: a`).
    static func classNames(_ yaml: String, file: String) throws -> [String] {
        func unquote(_ s: Substring) -> String {
            let t = s.trimmingCharacters(in: .whitespaces)
            if t.count >= 2, let f = t.first, f == "\"" || f == "'", t.last == f {
                if f == "\"", let v = try? JSONValue.parse(t).stringValue { return v }
                return String(t.dropFirst().dropLast())
            }
            return t
        }
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("names:") }) else {
            throw LabelError.badFile(file: file, place: "the top level", message: "has no 'names:'")
        }
        let rest = lines[start].dropFirst(6).trimmingCharacters(in: .whitespaces)
        if rest.hasPrefix("[") && rest.hasSuffix("]") {
            return rest.dropFirst().dropLast().split(separator: ",").map(unquote)
        }
        var byIndex: [(Int, String)] = [], list: [String] = []
        for line in lines[(start + 1)...] {
            guard line.hasPrefix(" ") || line.hasPrefix("-") else { break }
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("- ") { list.append(unquote(t.dropFirst(2))) } else if let colon = t.firstIndex(of: ":"), let k = Int(t[..<colon]) {
                byIndex.append((k, unquote(t[t.index(after: colon)...])))
            }
        }
        if !list.isEmpty { return list }
        let sorted = byIndex.sorted { $0.0 < $1.0 }
        guard sorted.map(\.0) == Array(0..<sorted.count) else {
            throw LabelError.badFile(file: file, place: "names", message: "class indices must run 0, 1, 2 … without gaps")
        }
        return sorted.map(\.1)
    }
}
