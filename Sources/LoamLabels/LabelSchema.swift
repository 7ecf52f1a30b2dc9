import Foundation
import LoamFormat

/// What one label is, for one dataset: its kind, its allowed classes, and the
/// columns of the dataset that validation reads (image size, the text).
///
/// Schemas are versioned with the labels: each is kept in the schema metadata
/// of the dataset's labels dataset (`LabelStore`), one metadata key per schema,
/// so branches add schemas independently and merge them.
public struct LabelSchema: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// One class per item: `"positive"`.
        case single = "class"
        /// Any number of classes per item: `["cat", "outdoor"]`.
        case multi = "multilabel"
        /// A number within `min`…`max`: `4`.
        case rating
        /// Free text.
        case text
        /// Boxes in pixels, top-left corner and size (COCO's bbox): `[{"label": "cat", "x": 10, "y": 20, "w": 50, "h": 40}]`.
        case boxes
        /// Polygons in pixels: `[{"label": "cat", "points": [[10, 20], [60, 20], [35, 60]]}]`.
        case polygons
        /// Spans of the text column, in characters (Unicode scalars), end exclusive: `[{"label": "PER", "start": 0, "end": 5}]`.
        case spans
        /// Relations between spans: `[{"label": "works_for", "from": [0, 5], "to": [16, 21]}]`.
        case relations
    }

    public var name: String
    public var kind: Kind
    /// The allowed classes (relation types for `relations`), in index order; required for every kind but `rating` and `text`.
    public var classes: [String]?
    /// `rating`: the inclusive range.
    public var min: Double?
    public var max: Double?
    /// `boxes`, `polygons`: the dataset's columns holding each image's width and height in pixels (validation checks shapes lie inside).
    public var widthColumn: String?
    public var heightColumn: String?
    /// `boxes`, `polygons`: the column naming the image (its path or URL), for exports and the annotation page.
    public var imageColumn: String?
    /// `spans`, `relations`: the column holding the text the offsets index.
    public var textColumn: String?
    /// `spans`: whether spans of one annotation may overlap (default false).
    public var allowOverlap: Bool?

    public init(name: String, kind: Kind, classes: [String]? = nil, min: Double? = nil, max: Double? = nil,
                widthColumn: String? = nil, heightColumn: String? = nil, imageColumn: String? = nil,
                textColumn: String? = nil, allowOverlap: Bool? = nil) {
        self.name = name
        self.kind = kind
        self.classes = classes
        self.min = min
        self.max = max
        self.widthColumn = widthColumn
        self.heightColumn = heightColumn
        self.imageColumn = imageColumn
        self.textColumn = textColumn
        self.allowOverlap = allowOverlap
    }

    /// Checks the schema itself: a usable name, classes where the kind needs them, a sane range.
    public func check() throws {
        let nameOK = !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "_-".unicodeScalars.contains($0) }
        guard nameOK else {
            throw LabelError.invalid("'\(name)' is not a valid label schema name: use 1–64 letters, digits, '_' or '-'")
        }
        switch kind {
        case .single, .multi, .boxes, .polygons, .spans, .relations:
            guard let classes, !classes.isEmpty else {
                throw LabelError.invalid("label schema '\(name)' (\(kind.rawValue)) needs its classes: give --classes a,b,c")
            }
            if let empty = classes.firstIndex(where: { $0.isEmpty }) {
                throw LabelError.invalid("label schema '\(name)': class \(empty + 1) is empty")
            }
            if Set(classes).count != classes.count {
                let twice = Dictionary(grouping: classes, by: { $0 }).first { $0.value.count > 1 }!.key
                throw LabelError.invalid("label schema '\(name)': class '\(twice)' is listed twice")
            }
        case .rating:
            if let min, let max, min > max { throw LabelError.invalid("label schema '\(name)': min \(min) is above max \(max)") }
        case .text:
            break
        }
        if (kind == .spans || kind == .relations) && textColumn == nil {
            throw LabelError.invalid("label schema '\(name)' (\(kind.rawValue)) needs the text it marks: give --text-column")
        }
        if (widthColumn == nil) != (heightColumn == nil) {
            throw LabelError.invalid("label schema '\(name)': give both --width-column and --height-column, or neither")
        }
    }

    /// The schema as the JSON kept in metadata and printed by `loam label schema list --json` (keys sorted).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public static func decode(_ text: String, name: String) throws -> LabelSchema {
        do { return try JSONDecoder().decode(LabelSchema.self, from: Data(text.utf8)) } catch {
            throw LabelError.invalid("label schema '\(name)' is stored damaged (\(error)); define it again with `loam label schema add`")
        }
    }

    /// Whether one label is one class name, so agreement and majority compare values as classes.
    public var isCategorical: Bool { kind == .single }
}
