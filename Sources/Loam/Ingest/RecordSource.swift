import Foundation
import LoamFormat

/// A stream of record batches read from an input file or folder, in
/// bounded memory: each call returns at most `maxRows` rows and stops early
/// once its columns hold about `maxBytes`.
protocol RecordSource: AnyObject {
    var schema: Schema { get }
    var bytesRead: Int { get }
    var totalBytes: Int { get }
    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch?
}

/// What an import reads: a file (memory-mapped or read in chunks), or bytes
/// already in memory, such as a request body, with the name errors give them.
public enum ImportInput: Sendable {
    case file(String)
    case bytes(ByteStorage, name: String)

    /// The name errors and commit messages use: the file's path, or the given name.
    public var name: String {
        switch self {
        case .file(let path): return path
        case .bytes(_, let name): return name
        }
    }

    /// The whole input as bytes: a file memory-mapped, or the bytes given.
    func mapped() throws -> ByteStorage {
        switch self {
        case .file(let path): do { return try ByteStorage.map(path: path) } catch { throw LoamError.fileNotFound(path) }
        case .bytes(let bytes, _): return bytes
        }
    }
}

/// The input formats `loam import` understands.
public enum ImportFormat: String, CaseIterable, Sendable {
    case csv, jsonl, arrow, parquet, folder, hf

    /// Guesses the format from a path: a folder, or the file's extension.
    public static func detect(path: String, isDirectory: Bool) -> ImportFormat? {
        if isDirectory { return HFSource.isDataset(URL(fileURLWithPath: path)) ? .hf : .folder }
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") || lower.hasSuffix(".tsv") || lower.hasSuffix(".txt") { return .csv }
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") || lower.hasSuffix(".json") { return .jsonl }
        if lower.hasSuffix(".parquet") || lower.hasSuffix(".parq") || lower.hasSuffix(".pq") { return .parquet }
        if lower.hasSuffix(".arrow") || lower.hasSuffix(".arrow_file") || lower.hasSuffix(".feather") || lower.hasSuffix(".ipc") || lower.hasSuffix(".arrows") || lower.hasSuffix(".stream") { return .arrow }
        return nil
    }
}

/// Builders for a schema's columns, filled row by row and emptied into batches.
final class BatchBuilder {
    let schema: Schema
    let builders: [ArrayBuilder]

    init(schema: Schema) {
        self.schema = schema
        builders = schema.fields.map { ArrayBuilder(type: $0.type) }
    }

    var rows: Int { builders.first?.count ?? 0 }
    var byteCount: Int { builders.reduce(0) { $0 + $1.byteCount } }

    func finish() -> RecordBatch? {
        let n = rows
        guard n > 0 else { return nil }
        return RecordBatch(schema: schema, columns: builders.map { $0.finish() }, length: n)
    }
}

/// Cuts the whole batches a reader yields (record batches, row groups) into pieces of at most `maxRows` rows.
struct BatchCutter {
    private(set) var current: RecordBatch?
    private var offset = 0

    /// Whether a fetched batch still has rows to hand out.
    var holdsRows: Bool { current.map { offset < $0.length } ?? false }

    /// The next piece; `fetch` supplies the next whole batch (nil at the end).
    mutating func next(maxRows: Int, fetch: () throws -> RecordBatch?) throws -> RecordBatch? {
        while !holdsRows {
            guard let batch = try fetch() else { return nil }
            current = batch
            offset = 0
        }
        let batch = current!
        let count = min(maxRows, batch.length - offset)
        defer { offset += count }
        if offset == 0 && count == batch.length { return batch }
        let indices = Array(offset..<(offset + count))
        return RecordBatch(schema: batch.schema, columns: batch.columns.map { $0.take(indices) }, length: count)
    }
}

/// Two columns of an input with one name are an error naming both (the second would read as the first).
func checkDistinctNames(_ schema: Schema, file: String) throws {
    var seen: [String: Int] = [:]
    for (i, field) in schema.fields.enumerated() {
        if let first = seen[field.name] {
            throw LoamError.badInput(file: file, line: nil, column: field.name,
                                     message: "columns \(first + 1) and \(i + 1) are both named '\(field.name)'; rename one (pyarrow: table.rename_columns)")
        }
        seen[field.name] = i
    }
}
