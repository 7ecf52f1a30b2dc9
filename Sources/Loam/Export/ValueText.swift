import Foundation
import LoamFormat

/// Renders cells as text (CSV, tables) and as JSON, by column type: dates
/// as YYYY-MM-DD, timestamps as ISO 8601, binary as base64, lists and
/// structs as JSON.
public enum ValueText {
    public static func text(_ value: Value, _ type: ArrowType) -> String? {
        switch (value, type) {
        case (.null, _): return nil
        case (.int(let d), .date32): return CalendarMath.formatDate(days: Int(d))
        case (.int(let t), .timestamp(let unit, let tz)):
            return CalendarMath.formatTimestamp(t, perSecond: unit.perSecond) + (tz == nil ? "" : "Z")
        case (.bool(let b), _): return b ? "true" : "false"
        case (.int(let v), _): return String(v)
        case (.uint(let v), _): return String(v)
        case (.float(let d), _): return formatDouble(d, type)
        case (.string(let s), _): return s
        case (.binary(let b), _): return Data(b).base64EncodedString()
        case (.list, _), (.structValue, _): return json(value, type)
        }
    }

    static func formatDouble(_ d: Double, _ type: ArrowType) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        return type == .float32 ? String(Float(d)) : String(d)
    }

    public static func json(_ value: Value, _ type: ArrowType) -> String {
        switch (value, type) {
        case (.null, _): return "null"
        case (.float(let d), _): return d.isFinite ? formatDouble(d, type) : "null"
        case (.bool(let b), _): return b ? "true" : "false"
        case (.int(let v), .int8), (.int(let v), .int16), (.int(let v), .int32), (.int(let v), .int64): return String(v)
        case (.uint(let v), _): return String(v)
        case (.list(let items), .list(let item)), (.list(let items), .fixedSizeList(let item, _)):
            return "[" + items.map { json($0, item.type) }.joined(separator: ",") + "]"
        case (.structValue(let values), .structType(let fields)):
            return "{" + zip(values, fields).map { JSONText.quote($1.name) + ":" + json($0, $1.type) }.joined(separator: ",") + "}"
        default:
            return text(value, type).map(JSONText.quote) ?? "null"
        }
    }

    /// A CSV field, quoted when it holds the delimiter, a quote or a line break.
    public static func csvField(_ text: String?) -> String {
        guard let text else { return "" }
        if text.isEmpty { return "\"\"" }
        if text.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return text
    }
}
