import LoamFormat

/// One JSON object per line. Keys become columns (in first-seen order);
/// numbers, strings, booleans, arrays and nested objects map to Arrow types
/// (see `JSONConversion.Shape`), inferred from the first `inferenceRows` lines
/// unless declared.
final class JSONLSource: RecordSource {
    private(set) var schema = Schema(fields: [])
    private let reader: ChunkedFileReader
    private var position = 0
    private var line = 0
    private var pending: [(line: Int, members: [(String, JSONValue)])] = []
    private var pendingIndex = 0
    private var batch = BatchBuilder(schema: Schema(fields: []))
    private let path: String

    var bytesRead: Int { reader.bytesRead(at: position) }
    var totalBytes: Int { reader.totalBytes }

    init(input: ImportInput, declared: [String: ArrowType], inferenceRows: Int = 10_000) throws {
        path = input.name
        reader = try ChunkedFileReader(input)
        _ = try reader.refill(keepFrom: 0)
        var shape = JSONConversion.Shape.object([], [:])
        while pending.count < inferenceRows, let object = try nextObject() {
            pending.append(object)
            shape = shape.merged(.of(.object(object.members)))
        }
        guard case .object(var keys, let shapes) = shape else { throw LoamError.badInput(file: path, line: nil, column: nil, message: "no objects") }
        for name in declared.keys where !keys.contains(name) { keys.append(name) }
        guard !keys.isEmpty else {
            throw LoamError.badInput(file: path, line: nil, column: nil, message: "no JSON objects with fields found; JSONL needs one object per line")
        }
        schema = Schema(fields: keys.map { Field(name: $0, type: declared[$0] ?? shapes[$0]?.arrowType ?? .utf8) })
        batch = BatchBuilder(schema: schema)
    }

    /// The next non-blank line, parsed; nil at end of file.
    private func nextObject() throws -> (line: Int, members: [(String, JSONValue)])? {
        while true {
            var start = position
            var newline: Int?
            while newline == nil {
                var found: Int?
                var i = position
                while i < reader.end { if reader.byte(i) == 0x0A { found = i; break }; i += 1 }
                if let found { newline = found; break }
                position = reader.end
                let more = try reader.refill(keepFrom: start)
                position -= start
                start = 0
                guard more else { break }
            }
            let lineEnd = newline ?? reader.end
            if newline == nil && start == lineEnd { return nil }
            position = newline.map { $0 + 1 } ?? reader.end
            line += 1
            var end = lineEnd
            if end > start, reader.byte(end - 1) == 0x0D { end -= 1 }
            let text = UnsafeRawBufferPointer(start: reader.base + start, count: end - start)
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let parsed: JSONValue
            do { parsed = try JSONParser.parse(text) } catch {
                throw LoamError.badInput(file: path, line: line, column: nil, message: "invalid JSON: \(error)")
            }
            guard case .object(let members) = parsed else {
                throw LoamError.badInput(file: path, line: line, column: nil, message: "expected a JSON object per line, found \(parsed.brief)")
            }
            return (line, members)
        }
    }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        while batch.rows < maxRows {
            let object: (line: Int, members: [(String, JSONValue)])
            if pendingIndex < pending.count {
                object = pending[pendingIndex]
                pendingIndex += 1
            } else {
                pending = []
                pendingIndex = 0
                guard let next = try nextObject() else { break }
                object = next
            }
            for (key, _) in object.members where schema.index(of: key) == nil {
                throw LoamError.badInput(file: path, line: object.line, column: key,
                                         message: "field '\(key)' is not in the schema inferred from the first lines (\(schema.fields.map(\.name).joined(separator: ", "))); declare it with --schema '\(key):TYPE'")
            }
            for (i, field) in schema.fields.enumerated() {
                let json = object.members.first { $0.0 == field.name }?.1 ?? .null
                do {
                    try batch.builders[i].append(try JSONConversion.value(json, as: field.type, path: field.name))
                } catch {
                    throw LoamError.badInput(file: path, line: object.line, column: field.name,
                                             message: "\(error); override the type with --schema '\(field.name):TYPE'")
                }
            }
            if batch.rows % 1024 == 0, batch.byteCount >= maxBytes { break }
        }
        return batch.finish()
    }
}
