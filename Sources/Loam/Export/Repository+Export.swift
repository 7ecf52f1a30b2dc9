import Foundation
import LoamFormat
import LoamStorage

/// Output formats of `loam export`.
public enum ExportFormat: String, CaseIterable, Sendable { case arrow, csv, jsonl, parquet }

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

/// Writes record batches as Arrow, CSV or JSON lines as they come, to a file
/// or to standard output (`-`). A file is written under a temporary name and
/// renamed by `finish`, so a failed write never leaves a partial file.
public final class BatchWriter {
    private let format: ExportFormat
    private let path: String
    private let temporary: URL?
    private let handle: FileHandle
    private let sink: FileSink
    private var arrow: IPCWriter<FileSink>?
    private var parquet: ParquetWriter<FileSink>?
    private let codec: Codec?
    private var wroteHeader = false
    public private(set) var rows = 0

    /// `codec`: Parquet's page compression (snappy unless named), or Arrow's buffer compression (zstd or lz4; none unless named).
    public init(format: ExportFormat, path: String, codec: Codec? = nil) throws {
        switch (format, codec) {
        case (.arrow, .some(let c)) where ![.zstd, .lz4Raw, .lz4Frame, .uncompressed].contains(c):
            throw LoamError.invalidArgument("--compression \(c.name): Arrow IPC files compress with zstd or lz4")
        case (.csv, .some), (.jsonl, .some):
            throw LoamError.invalidArgument("--compression applies to Parquet and Arrow exports, not \(format.rawValue)")
        default: break
        }
        self.format = format
        self.codec = codec
        self.path = path
        temporary = path == "-" ? nil : URL(fileURLWithPath: path + ".loam-tmp-\(getpid())")
        if let temporary {
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw LoamError.invalidArgument("cannot write \(path): check that its folder exists and is writable")
            }
        }
        handle = temporary == nil ? FileHandle.standardOutput : try FileHandle(forWritingTo: temporary!)
        sink = FileSink(handle: handle)
    }

    public func write(_ batch: RecordBatch) throws {
        let types = batch.schema.fields.map(\.type)
        switch format {
        case .arrow:
            if arrow == nil { arrow = try arrowWriter(batch.schema) }
            try arrow!.write(batch)
        case .parquet:
            if parquet == nil { parquet = try ParquetWriter(schema: batch.schema, sink: sink, codec: codec ?? .snappy) }
            try parquet!.write(batch)
        case .csv:
            try header(batch.schema)
            var line = ""
            for row in 0..<batch.length {
                line.removeAll(keepingCapacity: true)
                for (c, column) in batch.columns.enumerated() {
                    if c > 0 { line += "," }
                    line += ValueText.csvField(ValueText.text(column.value(at: row), types[c]))
                }
                line += "\n"
                try sink.write(text: line)
            }
        case .jsonl:
            let names = batch.schema.fields.map { JSONText.quote($0.name) }
            for row in 0..<batch.length {
                let members = batch.columns.enumerated().map { names[$0] + ":" + ValueText.json($1.value(at: row), types[$0]) }
                try sink.write(text: "{" + members.joined(separator: ",") + "}\n")
            }
        }
        rows += batch.length
    }

    private func arrowWriter(_ schema: Schema) throws -> IPCWriter<FileSink> {
        var writer = try IPCWriter(schema: schema, format: .file, sink: sink)
        switch codec {
        case .zstd: writer.compression = .zstd
        case .lz4Raw, .lz4Frame: writer.compression = .lz4Frame
        default: break
        }
        return writer
    }

    private func header(_ schema: Schema) throws {
        guard format == .csv, !wroteHeader else { return }
        try sink.write(text: schema.fields.map { ValueText.csvField($0.name) }.joined(separator: ",") + "\n")
        wroteHeader = true
    }

    /// Completes the output; `schema` gives the header or Arrow schema when no batch came. Returns the rows written.
    @discardableResult
    public func finish(schema: Schema) throws -> Int {
        do {
            try header(schema)
            if format == .arrow {
                if arrow == nil { arrow = try arrowWriter(schema) }
                _ = try arrow!.finish()
            }
            if format == .parquet {
                if parquet == nil { parquet = try ParquetWriter(schema: schema, sink: sink, codec: codec ?? .snappy) }
                _ = try parquet!.finish()
            }
            try sink.flush()
            if let temporary {
                try handle.synchronize()
                try handle.close()
                guard rename(temporary.path, path) == 0 else { throw LoamError.invalidArgument("cannot write \(path): \(String(cString: strerror(errno)))") }
            }
        } catch {
            abandon()
            throw error
        }
        return rows
    }

    /// Drops a partly written file.
    public func abandon() {
        guard let temporary else { return }
        try? handle.close()
        try? FileManager.default.removeItem(at: temporary)
    }
}

extension Codec {
    /// A codec by the name `--compression` takes: none, snappy, zstd, gzip, lz4.
    public init(named name: String) throws {
        switch name.lowercased() {
        case "none", "uncompressed": self = .uncompressed
        case "snappy": self = .snappy
        case "zstd": self = .zstd
        case "gzip": self = .gzip
        case "lz4", "lz4_raw": self = .lz4Raw
        default: throw LoamError.invalidArgument("--compression \(name): choose none, snappy, zstd, gzip or lz4")
        }
    }
}

extension Repository {
    /// Writes `dataset` at `ref` to `path` (`-` for standard output), one
    /// fragment at a time. A file is written to a temporary name and renamed,
    /// so a failed export never leaves a partial file. Returns the rows written.
    @discardableResult
    public func export(_ dataset: String, at ref: String = "HEAD", format: ExportFormat, to path: String,
                       columns: [String]? = nil, includeRowID: Bool = false, codec: Codec? = nil) async throws -> Int {
        let ds = try await self.dataset(dataset, at: ref)
        let schema = Schema(fields: try ds.projection(columns, includeRowID: includeRowID).fields, metadata: ds.schema.metadata)
        let writer = try BatchWriter(format: format, path: path, codec: codec)
        do {
            try await ds.scan(columns: columns, includeRowID: includeRowID) { try writer.write($0) }
        } catch {
            writer.abandon()
            throw error
        }
        return try writer.finish(schema: schema)
    }
}
