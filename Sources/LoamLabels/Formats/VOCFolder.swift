import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import LoamFormat

/// Pascal VOC's layout: `Annotations/<image stem>.xml`, one `<annotation>` per image with its `<size>` and an
/// `<object>` per box (`<name>`, `<bndbox>` xmin ymin xmax ymax). Loam writes corners as pixel coordinates
/// (xmin = x, xmax = x + w; fractions kept), and reads them back the same way.
enum VOCFolder {
    static func write(schema: LabelSchema, images: [ImageRow], labels: [UInt64: String?], to folder: URL) throws -> Int {
        guard schema.kind == .boxes else {
            throw LabelError.invalid("Pascal VOC holds boxes; '\(schema.name)' is a \(schema.kind.rawValue) schema")
        }
        let annotations = folder.appendingPathComponent("Annotations")
        do { try FileManager.default.createDirectory(at: annotations, withIntermediateDirectories: true) } catch {
            throw LabelError.invalid("cannot create \(annotations.path): \(error.localizedDescription)")
        }
        func n(_ v: Double) -> String { LabelSchema.number(v) }
        var stems: [String: String] = [:], count = 0
        for image in images {
            guard let label = labels[image.rowID], let label else { continue }
            let name = (image.file as NSString).lastPathComponent, stem = (name as NSString).deletingPathExtension
            if let other = stems[stem] { throw LabelError.invalid("images '\(other)' and '\(image.file)' share the name '\(stem)', and VOC names files by it") }
            stems[stem] = image.file
            var xml = "<annotation>\n  <folder>\(escape((image.file as NSString).deletingLastPathComponent))</folder>\n  <filename>\(escape(name))</filename>\n"
            xml += "  <path>\(escape(image.file))</path>\n  <source><database>Loam</database></source>\n"
            xml += "  <size><width>\(n(image.width))</width><height>\(n(image.height))</height><depth>3</depth></size>\n  <segmented>0</segmented>\n"
            for part in try JSONValue.parse(label).arrayValue ?? [] {
                let x = part["x"]?.numberValue ?? 0, y = part["y"]?.numberValue ?? 0, w = part["w"]?.numberValue ?? 0, h = part["h"]?.numberValue ?? 0
                xml += "  <object><name>\(escape(part["label"]?.stringValue ?? ""))</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>"
                xml += "<bndbox><xmin>\(n(x))</xmin><ymin>\(n(y))</ymin><xmax>\(n(x + w))</xmax><ymax>\(n(y + h))</ymax></bndbox></object>\n"
                count += 1
            }
            xml += "</annotation>\n"
            try AnnotationRecords.write(xml, to: annotations.appendingPathComponent(stem + ".xml").path)
        }
        return count
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func read(_ folder: URL, schema: LabelSchema, matcher: ImageMatcher) throws -> [UInt64: JSONValue] {
        guard schema.kind == .boxes else { throw LabelError.invalid("Pascal VOC holds boxes; '\(schema.name)' is a \(schema.kind.rawValue) schema") }
        let annotations = folder.appendingPathComponent("Annotations")
        let base = FileManager.default.fileExists(atPath: annotations.path) ? annotations : folder
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: base.path) else {
            throw LabelError.notFound("\(folder.path) is missing: a VOC folder holds Annotations/<image>.xml")
        }
        var out: [UInt64: JSONValue] = [:]
        for file in files.sorted() where file.hasSuffix(".xml") {
            let path = base.appendingPathComponent(file).path
            let tree = try XMLTree.parse(path)
            guard tree.name == "annotation" else { throw LabelError.badFile(file: path, place: "the root", message: "is <\(tree.name)>, not <annotation>") }
            let name = tree.child("path")?.text.nonEmpty ?? tree.child("filename")?.text.nonEmpty ?? String(file.dropLast(4))
            let image = try matcher.row(name, file: path, place: "<filename>")
            var parts: [JSONValue] = []
            for (i, object) in tree.children.filter({ $0.name == "object" }).enumerated() {
                func fail(_ m: String) -> LabelError { .badFile(file: path, place: "<object> \(i + 1)", message: m) }
                guard let label = object.child("name")?.text, let box = object.child("bndbox") else { throw fail("needs <name> and <bndbox>") }
                let corners = try ["xmin", "ymin", "xmax", "ymax"].map { key in
                    try (box.child(key).flatMap { Double($0.text.trimmingCharacters(in: .whitespaces)) }).orThrow(fail("<\(key)> is missing or not a number"))
                }
                parts.append(.object([("label", .string(label)), ("x", .double(corners[0])), ("y", .double(corners[1])),
                                      ("w", .double(corners[2] - corners[0])), ("h", .double(corners[3] - corners[1]))]))
            }
            out[image.rowID] = .array(parts)
        }
        return out
    }
}

/// A small XML element tree (elements and their text; attributes unused by the formats read here).
final class XMLTree: NSObject, XMLParserDelegate {
    let name: String
    var children: [XMLTree] = []
    var text = ""
    private var stack: [XMLTree] = []

    init(name: String) { self.name = name }

    func child(_ name: String) -> XMLTree? { children.first { $0.name == name } }

    static func parse(_ path: String) throws -> XMLTree {
        guard let data = FileManager.default.contents(atPath: path) else { throw LabelError.notFound("cannot read \(path)") }
        let root = XMLTree(name: "#document")
        root.stack = [root]
        let parser = XMLParser(data: data)
        parser.delegate = root
        parser.shouldResolveExternalEntities = false
        guard parser.parse(), let top = root.children.first else {
            throw LabelError.badFile(file: path, place: "line \(parser.lineNumber)", message: "not XML: \(parser.parserError.map { "\($0)" } ?? "no element")")
        }
        return top
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        let element = XMLTree(name: elementName)
        stack.last?.children.append(element)
        stack.append(element)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) { stack.removeLast() }

    func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last?.text += string }
}
