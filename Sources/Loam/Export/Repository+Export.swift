import Foundation
import LoamFormat
import LoamStorage

/// Output formats of `loam export`.
public enum ExportFormat: String, CaseIterable, Sendable { case arrow, csv, jsonl }

/// Writes to a file through a buffer.
final class FileSink: ByteSink {
    private let handle: FileHandle
    private var pending: [UInt8] = []

    init(handle: FileHandle) {
        self.handle = handle
        pending.reserveCapacity(1 << 20)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        pending.append(contentsOf: bytes)
        if pending.count >= 1 << 20 { try flush() }
    }

    func write(text: String) throws {
        var t = text
        try t.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    func flush() throws {
        try handle.write(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
    }
}

extension Repository {
    /// Writes `dataset` at `ref` to `path` (`-` for standard output), one
    /// fragment at a time. A file is written to a temporary name and renamed,
    /// so a failed export never leaves a partial file. Returns the rows written.
    @discardableResult
    public func export(_ dataset: String, at ref: String = "HEAD", format: ExportFormat, to path: String,
                       columns: [String]? = nil, includeRowID: Bool = false) async throws -> Int {
        let ds = try await self.dataset(dataset, at: ref)
        let toStdout = path == "-"
        let temporary = toStdout ? nil : URL(fileURLWithPath: path + ".loam-tmp-\(getpid())")
        if let temporary {
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw LoamError.invalidArgument("cannot write \(path): check that its folder exists and is writable")
            }
        }
        let handle = toStdout ? FileHandle.standardOutput : try FileHandle(forWritingTo: temporary!)
        let sink = FileSink(handle: handle)
        var rows = 0
        do {
            switch format {
            case .arrow:
                var schema: Schema?
                var writer: IPCWriter<FileSink>?
                try await ds.scan(columns: columns, includeRowID: includeRowID) { batch in
                    if writer == nil { schema = batch.schema; writer = try IPCWriter(schema: batch.schema, format: .file, sink: sink) }
                    try writer!.write(batch)
                    rows += batch.length
                }
                if writer == nil {  // an empty dataset still gets its schema
                    schema = Schema(fields: try ds.projection(columns, includeRowID: includeRowID).fields, metadata: ds.schema.metadata)
                    writer = try IPCWriter(schema: schema!, format: .file, sink: sink)
                }
                _ = try writer!.finish()
            case .csv:
                var wroteHeader = false
                try await ds.scan(columns: columns, includeRowID: includeRowID) { batch in
                    if !wroteHeader {
                        try sink.write(text: batch.schema.fields.map { ValueText.csvField($0.name) }.joined(separator: ",") + "\n")
                        wroteHeader = true
                    }
                    let types = batch.schema.fields.map(\.type)
                    for row in 0..<batch.length {
                        let line = batch.columns.enumerated().map { ValueText.csvField(ValueText.text($1.value(at: row), types[$0])) }
                        try sink.write(text: line.joined(separator: ",") + "\n")
                    }
                    rows += batch.length
                }
                if !wroteHeader { try sink.write(text: (columns ?? ds.schema.fields.map(\.name)).map(ValueText.csvField).joined(separator: ",") + "\n") }
            case .jsonl:
                try await ds.scan(columns: columns, includeRowID: includeRowID) { batch in
                    let names = batch.schema.fields.map { JSONText.quote($0.name) }
                    let types = batch.schema.fields.map(\.type)
                    for row in 0..<batch.length {
                        let members = batch.columns.enumerated().map { names[$0] + ":" + ValueText.json($1.value(at: row), types[$0]) }
                        try sink.write(text: "{" + members.joined(separator: ",") + "}\n")
                    }
                    rows += batch.length
                }
            }
            try sink.flush()
            if let temporary {
                try handle.synchronize()
                try handle.close()
                guard rename(temporary.path, path) == 0 else { throw LoamError.invalidArgument("cannot write \(path): \(String(cString: strerror(errno)))") }
            }
        } catch {
            if let temporary { try? handle.close(); try? FileManager.default.removeItem(at: temporary) }
            throw error
        }
        return rows
    }
}
