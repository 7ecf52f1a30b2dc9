import LoamFormat

/// CSV with a header row. Column types come from `declared` where given,
/// otherwise they are inferred from the first `inferenceRows` records;
/// every name in `required` (the user's `--schema`) must be in the header.
/// An unquoted empty field is null; a quoted one ("") is an empty string.
final class CSVSource: RecordSource {
    let schema: Schema
    private let tokenizer: CSVTokenizer
    private var pending: [CSVTokenizer.Record] = []
    private var pendingIndex = 0
    private var record = CSVTokenizer.Record()
    private let batch: BatchBuilder
    private let kinds: [CellParser.Kind]

    var bytesRead: Int { tokenizer.bytesRead }
    var totalBytes: Int { tokenizer.totalBytes }

    init(input: ImportInput, delimiter: UInt8, declared: [String: ArrowType], required: Set<String>, inferenceRows: Int = 10_000) throws {
        let path = input.name
        tokenizer = try CSVTokenizer(input: input, delimiter: delimiter)
        var header = CSVTokenizer.Record()
        guard try tokenizer.next(into: &header) else {
            throw LoamError.badInput(file: path, line: 1, column: nil, message: "the file is empty; a CSV needs a header row naming its columns")
        }
        var names: [String] = []
        var seen = Set<String>()  // linear in the number of columns
        for i in 0..<header.count {
            var name = ""
            try header.field(i) { bytes in
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    throw LoamError.badInput(file: path, line: 1, column: nil, message: "header field \(i + 1) is not valid UTF-8")
                }
                name = text.trimmingSpaces
            }
            if name.isEmpty { name = "column_\(i + 1)" }
            guard seen.insert(name).inserted else {
                throw LoamError.badInput(file: path, line: 1, column: name, message: "the header names column '\(name)' twice; rename one")
            }
            names.append(name)
        }
        for name in required.sorted() where !seen.contains(name) {
            throw LoamError.invalidArgument("--schema names column '\(name)', which \(path) lacks (its header: \(names.joined(separator: ", ")))")
        }
        var inference = [CSVColumnInference](repeating: CSVColumnInference(), count: names.count)
        let undeclared = names.indices.filter { declared[names[$0]] == nil }
        if !undeclared.isEmpty {
            while pending.count < inferenceRows, try tokenizer.next(into: &record) {
                pending.append(record)
                guard record.count == names.count else { break }  // reported with its line when batched
                for i in undeclared where !record.isEmpty(i) {
                    record.field(i) { inference[i].observe($0) }
                }
            }
        }
        schema = Schema(fields: names.enumerated().map { i, name in
            Field(name: name, type: declared[name] ?? inference[i].type)
        })
        batch = BatchBuilder(schema: schema)
        kinds = schema.fields.map { CellParser.Kind($0.type) }
    }

    private func nextRecord() throws -> Bool {
        if pendingIndex < pending.count {
            record = pending[pendingIndex]
            pendingIndex += 1
            if pendingIndex == pending.count { pending = [] ; pendingIndex = 0 }
            return true
        }
        return try tokenizer.next(into: &record)
    }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        let columns = schema.fields.count
        // Locals, so the per-cell loop does not retain and release class state.
        let builders = batch.builders.map { Unmanaged.passUnretained($0) }  // kept alive by `batch`
        let kinds = self.kinds
        while batch.rows < maxRows, try nextRecord() {
            guard record.count == columns else {
                throw LoamError.badInput(file: tokenizer.path, line: record.line, column: nil,
                                         message: "expected \(columns) fields (as in the header), found \(record.count); quote fields that contain the delimiter")
            }
            let ends = record.ends, quoted = record.quoted
            try record.data.withUnsafeBytes { raw in
                var start = 0
                for i in 0..<columns {
                    let end = ends[i]
                    defer { start = end }
                    do {
                        try builders[i]._withUnsafeGuaranteedRef { builder in
                            if end == start && !quoted[i] { builder.appendNull(); return }
                            try CellParser.append(UnsafeRawBufferPointer(rebasing: raw[start..<end]), kind: kinds[i], to: builder)
                        }
                    } catch let failure as CellParser.Failure {
                        throw LoamError.badInput(file: tokenizer.path, line: record.line, column: schema.fields[i].name,
                                                 message: failure.message + "; override the column type with --schema '\(schema.fields[i].name):TYPE'")
                    }
                }
            }
            if batch.rows % 1024 == 0, batch.byteCount >= maxBytes { break }
        }
        return batch.finish()
    }
}
