import Foundation
import LoamFormat

/// JSONL and CSV: every field of every annotation, so a round trip gives back the same annotations.
enum AnnotationRecords {
    static let columns = ["row_id", "schema", "annotator", "value", "source", "model", "score", "status", "created_at", "task"]

    static func write(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw LabelError.invalid("cannot write \(path): \(error.localizedDescription)")
        }
    }

    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw LabelError.notFound("cannot read \(path): no such file") }
        guard let text = String(data: data, encoding: .utf8) else { throw LabelError.badFile(file: path, place: "the whole file", message: "is not UTF-8 text") }
        return text
    }

    /// The stored value as JSON: a string for classes and texts, a number for ratings, the JSON itself otherwise.
    static func valueJSON(_ value: String?, kind: LabelSchema.Kind) -> String {
        guard let value else { return "null" }
        switch kind {
        case .single, .text: return JSONText.quote(value)
        default: return value
        }
    }

    static func jsonLine(_ a: Annotation, kind: LabelSchema.Kind) -> String {
        let fields: [(String, String)] = [
            ("row_id", String(a.rowID)), ("schema", JSONText.quote(a.schema)), ("annotator", JSONText.quote(a.annotator)),
            ("value", valueJSON(a.value, kind: kind)), ("source", JSONText.quote(a.source.rawValue)),
            ("model", a.model.map(JSONText.quote) ?? "null"), ("score", a.score.map { "\($0)" } ?? "null"),
            ("status", JSONText.quote(a.status.rawValue)), ("created_at", JSONText.quote(timestamp(a.createdAt))),
            ("task", a.task.map(JSONText.quote) ?? "null"),
        ]
        return "{" + fields.map { JSONText.quote($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    static func csv(_ annotations: [Annotation]) -> String {
        var out = columns.joined(separator: ",") + "\n"
        for a in annotations {
            let cells = [String(a.rowID), a.schema, a.annotator, a.value, a.source.rawValue, a.model, a.score.map { "\($0)" },
                         a.status.rawValue, timestamp(a.createdAt), a.task]
            out += cells.map { $0.map(quoteCSV) ?? "" }.joined(separator: ",") + "\n"
        }
        return out
    }

    static func quoteCSV(_ s: String) -> String {
        guard s.isEmpty || s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// RFC 3339 in UTC with microseconds: 2026-11-30T12:00:00.123456Z.
    static func timestamp(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1e6).rounded())
        var seconds = time_t(micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000)
        let fraction = micros - Int64(seconds) * 1_000_000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction))
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        // Split off the fraction ourselves: Foundation keeps only milliseconds.
        var base = text, fraction = 0.0
        if let dot = text.firstIndex(of: "."), let end = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            fraction = Double("0" + text[dot..<end]) ?? 0
            base = String(text[..<dot] + text[end...])
        }
        return formatter.date(from: base).map { $0.addingTimeInterval(fraction) }
    }

    static func draft(_ fields: [String: JSONValue], schema: String, file: String, place: String, valueIsText: Bool) throws -> Labeler.Draft {
        func fail(_ m: String) -> LabelError { .badFile(file: file, place: place, message: m) }
        guard let row = fields["row_id"], let rowID = row.intValue.map(UInt64.init) ?? (row.stringValue.flatMap { UInt64($0) }) else {
            throw fail("needs row_id, the labelled row's _rowid")
        }
        if let other = fields["schema"]?.stringValue, !other.isEmpty, other != schema {
            throw fail("is a label of schema '\(other)', not '\(schema)'")
        }
        guard let annotator = fields["annotator"]?.stringValue, !annotator.isEmpty else { throw fail("needs annotator") }
        func text(_ key: String) -> String? { fields[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
        let source = try text("source").map { s in
            try Annotation.Source(rawValue: s).orThrow(fail("source '\(s)' is not one of \(Annotation.Source.allCases.map(\.rawValue).joined(separator: ", "))"))
        } ?? .import
        let status = try text("status").map { s in
            try Annotation.Status(rawValue: s).orThrow(fail("status '\(s)' is not one of \(Annotation.Status.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        var score: Double?
        if let s = fields["score"], s != .null, !(s.stringValue?.isEmpty ?? false) {
            score = try (s.numberValue ?? s.stringValue.flatMap(Double.init)).orThrow(fail("score is not a number"))
        }
        let created = try text("created_at").map { try parseTimestamp($0).orThrow(fail("created_at '\($0)' is not an RFC 3339 time")) }
        let input: LabelInput
        switch fields["value"] {
        case nil, .null?: input = .none
        case .string(let s)? where valueIsText: input = s.isEmpty ? .none : .text(s)
        case let v?: input = .json(v)
        }
        return Labeler.Draft(rowID: rowID, schema: schema, annotator: annotator, input: input, source: source, model: text("model"),
                             score: score, status: status, createdAt: created, task: text("task"))
    }

    static func readJSONL(_ path: String, schema: String) throws -> [Labeler.Draft] {
        guard let data = FileManager.default.contents(atPath: path) else { throw LabelError.notFound("cannot read \(path): no such file") }
        var drafts: [Labeler.Draft] = []
        // Lines are cut and parsed as bytes (Loam's JSON parser checks UTF-8): no String per line, no trimming.
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var start = 0, line = 0
            while start < bytes.count {
                line += 1
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                let place = "line \(line)"
                let text = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                start = end + 1
                if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let value: JSONValue
                do { value = try JSONParser.parse(text) } catch { throw LabelError.badFile(file: path, place: place, message: "not JSON: \(error)") }
                guard let members = value.objectValue else { throw LabelError.badFile(file: path, place: place, message: "is not a JSON object") }
                drafts.append(try draft(Dictionary(members, uniquingKeysWith: { _, b in b }), schema: schema, file: path, place: place, valueIsText: false))
            }
        }
        return drafts
    }

    static func readCSV(_ path: String, schema: String) throws -> [Labeler.Draft] {
        let records = try parseCSV(try read(path), file: path)
        guard let header = records.first else { return [] }
        for needed in ["row_id", "annotator", "value"] where !header.contains(needed) {
            throw LabelError.badFile(file: path, place: "line 1", message: "the header has no '\(needed)' column (it has \(header.joined(separator: ", ")))")
        }
        var drafts: [Labeler.Draft] = []
        for (n, record) in records.dropFirst().enumerated() where !(record.count == 1 && record[0].isEmpty) {
            guard record.count == header.count else {
                throw LabelError.badFile(file: path, place: "record \(n + 2)", message: "has \(record.count) fields; the header has \(header.count)")
            }
            var fields: [String: JSONValue] = [:]
            for (name, cell) in zip(header, record) { fields[name] = .string(cell) }
            drafts.append(try draft(fields, schema: schema, file: path, place: "record \(n + 2)", valueIsText: true))
        }
        return drafts
    }

    /// RFC 4180 records: quoted fields may hold commas, quotes (doubled) and line breaks.
    static func parseCSV(_ text: String, file: String) throws -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = ""
        var quoted = false, afterQuote = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? { if let p = pending { pending = nil; return p }; return iterator.next() }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let n = iterator.next() { if n == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; afterQuote = true; pending = n } } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"" where field.isEmpty && !afterQuote: quoted = true
            case ",": record.append(field); field = ""; afterQuote = false
            case "\n": record.append(field); records.append(record); record = []; field = ""; afterQuote = false
            case "\r": continue
            default: field.unicodeScalars.append(c)
            }
        }
        if quoted { throw LabelError.badFile(file: file, place: "record \(records.count + 1)", message: "a quoted field is never closed") }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        return records
    }
}

extension Optional {
    /// The value, or `error` thrown when there is none.
    public func orThrow(_ error: @autoclosure () -> Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}
