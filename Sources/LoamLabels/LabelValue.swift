import Foundation
import LoamFormat

/// What validation needs to know of the labelled row: the image's size, the text's length.
public struct RowContext: Sendable {
    public var width: Double?
    public var height: Double?
    /// The text column's length in Unicode scalars.
    public var textLength: Int?

    public init(width: Double? = nil, height: Double? = nil, textLength: Int? = nil) {
        self.width = width
        self.height = height
        self.textLength = textLength
    }
}

extension LabelSchema {
    /// Checks one label against the schema and returns its stored text: the class name (`class`), the number
    /// (`rating`), the text (`text`), or canonical JSON (the others: keys in a fixed order, classes sorted).
    /// Throws `LabelError.badValue` naming the field that is wrong.
    public func canonical(_ value: JSONValue, row: RowContext, rowID: UInt64, dataset: String) throws -> String {
        func bad(_ field: String, _ message: String) -> LabelError {
            .badValue(dataset: dataset, rowID: rowID, schema: name, field: field, message: message)
        }
        let allowed = Set(classes ?? [])
        func checkClass(_ v: JSONValue?, _ field: String) throws -> String {
            guard let label = v?.stringValue else { throw bad(field, "expected a class name (a string), got \(v.map(Self.render) ?? "nothing")") }
            guard allowed.contains(label) else {
                throw bad(field, "'\(label)' is not one of the classes of '\(name)' (\(Self.list(classes ?? []))); add it with `loam label schema add \(name) … --classes`")
            }
            return label
        }
        func number(_ v: JSONValue?, _ field: String) throws -> Double {
            guard let v, let d = v.numberValue, d.isFinite else { throw bad(field, "expected a finite number, got \(v.map(Self.render) ?? "nothing")") }
            return d
        }
        func items(_ what: String) throws -> [JSONValue] {
            guard let array = value.arrayValue else { throw bad("value", "expected a JSON array of \(what), got \(Self.render(value))") }
            return array
        }
        switch kind {
        case .single:
            return try checkClass(value, "value")
        case .multi:
            let labels = try items("class names").enumerated().map { try checkClass($1, "value[\($0)]") }
            return Self.render(.array(Set(labels).sorted().map { .string($0) }))
        case .rating:
            let v = try number(value, "value")
            if let min, v < min { throw bad("value", "\(Self.number(v)) is below the minimum \(Self.number(min))") }
            if let max, v > max { throw bad("value", "\(Self.number(v)) is above the maximum \(Self.number(max))") }
            return Self.number(v)
        case .text:
            guard let text = value.stringValue else { throw bad("value", "expected text (a string), got \(Self.render(value))") }
            return text
        case .boxes:
            var out: [JSONValue] = []
            for (i, box) in try items("boxes {label, x, y, w, h}").enumerated() {
                let f = "value[\(i)]"
                let label = try checkClass(box["label"], f + ".label")
                let x = try number(box["x"], f + ".x"), y = try number(box["y"], f + ".y")
                let w = try number(box["w"], f + ".w"), h = try number(box["h"], f + ".h")
                guard w > 0, h > 0 else { throw bad(f, "a box needs a positive width and height, got w \(Self.number(w)), h \(Self.number(h))") }
                guard x >= 0, y >= 0 else { throw bad(f, "the box starts outside the image at (\(Self.number(x)), \(Self.number(y)))") }
                if let width = row.width, x + w > width + 1e-9 {
                    throw bad(f, "x + w = \(Self.number(x + w)) lies outside the image, which is \(Self.number(width)) pixels wide")
                }
                if let height = row.height, y + h > height + 1e-9 {
                    throw bad(f, "y + h = \(Self.number(y + h)) lies outside the image, which is \(Self.number(height)) pixels high")
                }
                out.append(.object([("label", .string(label)), ("x", .double(x)), ("y", .double(y)), ("w", .double(w)), ("h", .double(h))]))
            }
            return Self.render(.array(out))
        case .polygons:
            var out: [JSONValue] = []
            for (i, polygon) in try items("polygons {label, points}").enumerated() {
                let f = "value[\(i)]"
                let label = try checkClass(polygon["label"], f + ".label")
                guard let points = polygon["points"]?.arrayValue, points.count >= 3 else {
                    throw bad(f + ".points", "a polygon needs at least 3 points [[x, y], …]")
                }
                var pts: [JSONValue] = []
                for (j, p) in points.enumerated() {
                    guard let xy = p.arrayValue, xy.count == 2 else { throw bad(f + ".points[\(j)]", "a point is [x, y]") }
                    let x = try number(xy[0], f + ".points[\(j)][0]"), y = try number(xy[1], f + ".points[\(j)][1]")
                    if x < 0 || y < 0 || (row.width.map { x > $0 + 1e-9 } ?? false) || (row.height.map { y > $0 + 1e-9 } ?? false) {
                        let size = row.width.map { "\(Self.number($0))×\(Self.number(row.height ?? 0))" } ?? "from (0, 0)"
                        throw bad(f + ".points[\(j)]", "(\(Self.number(x)), \(Self.number(y))) lies outside the image (\(size))")
                    }
                    pts.append(.array([.double(x), .double(y)]))
                }
                out.append(.object([("label", .string(label)), ("points", .array(pts))]))
            }
            return Self.render(.array(out))
        case .spans:
            var spans: [(label: String, start: Int, end: Int)] = []
            for (i, span) in try items("spans {label, start, end}").enumerated() {
                let f = "value[\(i)]"
                let label = try checkClass(span["label"], f + ".label")
                let (start, end) = try offsets(span["start"], span["end"], f, row: row, bad: bad)
                spans.append((label, start, end))
            }
            spans.sort { ($0.start, $0.end, $0.label) < ($1.start, $1.end, $1.label) }
            if allowOverlap != true {
                for k in spans.indices.dropFirst() where spans[k].start < spans[k - 1].end {
                    throw bad("value", "spans \(spans[k - 1].start)…\(spans[k - 1].end) (\(spans[k - 1].label)) and \(spans[k].start)…\(spans[k].end) (\(spans[k].label)) overlap, which label schema '\(name)' forbids")
                }
            }
            return Self.render(.array(spans.map { .object([("label", .string($0.label)), ("start", .int(Int64($0.start))), ("end", .int(Int64($0.end)))]) }))
        case .relations:
            var out: [JSONValue] = []
            for (i, relation) in try items("relations {label, from: [start, end], to: [start, end]}").enumerated() {
                let f = "value[\(i)]"
                let label = try checkClass(relation["label"], f + ".label")
                var ends: [JSONValue] = []
                for side in ["from", "to"] {
                    guard let pair = relation[side]?.arrayValue, pair.count == 2 else { throw bad(f + "." + side, "expected [start, end]") }
                    let (s, e) = try offsets(pair[0], pair[1], f + "." + side, row: row, bad: bad)
                    ends.append(.array([.int(Int64(s)), .int(Int64(e))]))
                }
                out.append(.object([("label", .string(label)), ("from", ends[0]), ("to", ends[1])]))
            }
            return Self.render(.array(out))
        }
    }

    /// The label as a user typed it on the command line: the text itself for `class` and `text`, else JSON.
    public func canonical(text: String, row: RowContext, rowID: UInt64, dataset: String) throws -> String {
        switch kind {
        case .single, .text: return try canonical(.string(text), row: row, rowID: rowID, dataset: dataset)
        default:
            let parsed: JSONValue
            do { parsed = try JSONValue.parse(text) } catch {
                throw LabelError.badValue(dataset: dataset, rowID: rowID, schema: name, field: "value", message: "not JSON (\(error)): \(text.prefix(80))")
            }
            return try canonical(parsed, row: row, rowID: rowID, dataset: dataset)
        }
    }

    private func offsets(_ s: JSONValue?, _ e: JSONValue?, _ f: String, row: RowContext,
                         bad: (String, String) -> LabelError) throws -> (Int, Int) {
        guard let start = s?.intValue, let end = e?.intValue else { throw bad(f, "start and end must be integers (character offsets)") }
        guard start >= 0, start < end else { throw bad(f, "a span needs 0 ≤ start < end, got \(start)…\(end)") }
        if let length = row.textLength, end > length { throw bad(f, "end \(end) is past the text, which is \(length) characters long") }
        return (start, end)
    }

    static func list(_ classes: [String]) -> String {
        classes.count <= 12 ? classes.joined(separator: ", ") : classes.prefix(12).joined(separator: ", ") + ", … \(classes.count) in all"
    }

    /// A number as its shortest text: integers without a fraction.
    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// Compact JSON, members in the order given.
    public static func render(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .double(let d): return d.isFinite ? number(d) : "null"
        case .string(let s): return JSONText.quote(s)
        case .array(let a): return "[" + a.map(render).joined(separator: ",") + "]"
        case .object(let m): return "{" + m.map { JSONText.quote($0.0) + ":" + render($0.1) }.joined(separator: ",") + "}"
        }
    }
}

extension JSONValue {
    public var numberValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .uint(let u): return Double(u)
        case .double(let d): return d
        default: return nil
        }
    }

    public static func parse(_ text: String) throws -> JSONValue {
        var t = text
        return try t.withUTF8 { try JSONParser.parse(UnsafeRawBufferPointer($0)) }
    }
}
