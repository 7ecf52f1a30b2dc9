import Foundation
import LoamFormat
import LoamStorage
import LoamTable

/// How `importData` reads its input.
public struct ImportOptions: Sendable {
    public var format: ImportFormat?
    /// `name:type` pairs overriding inference (see `SchemaSpec`).
    public var schema: String?
    public var delimiter: UInt8 = UInt8(ascii: ",")
    public var message: String?
    /// Rows per fragment; fragments also close at about `fragmentBytes`.
    public var fragmentRows = 65_536
    public var fragmentBytes = 256 << 20
    /// An Arrow record batch may declare at most this many rows per byte of its body
    /// (a bit per row is the least any column with data takes), so a tiny file
    /// cannot claim billions of rows of a zero-width column.
    public var maxRowsPerByte = 8
    /// Hugging Face DatasetDict folders: the split to import.
    public var split: String?
    /// Parquet imports: only these columns are read (the others' pages are never decoded). Nil reads them all.
    public var columns: [String]?
    /// Folder imports: only files whose extension (case-insensitive, no dot) or media type is listed;
    /// a media type may end in `/*` (`image/*`). Nil takes every file.
    public var extensions: [String]?
    public var mediaTypes: [String]?
    /// Called with (bytes read, total bytes) after each fragment.
    public var progress: (@Sendable (Int, Int) -> Void)?

    public init(format: ImportFormat? = nil, schema: String? = nil, message: String? = nil) {
        self.format = format
        self.schema = schema
        self.message = message
    }
}

public struct ImportResult: Sendable {
    public let commit: ObjectID
    public let dataset: String
    public let rows: Int
    public let fragments: Int
    /// False when rows were appended to an existing dataset.
    public let created: Bool
}

extension Repository {
    /// Imports a CSV, JSONL or Arrow file, or a folder of files, into
    /// `dataset` (created, or appended to) as one commit. Memory stays
    /// bounded by the fragment size whatever the input's size.
    @discardableResult
    public func importData(from path: String, into dataset: String, options: ImportOptions = ImportOptions()) async throws -> ImportResult {
        try Self.validateDatasetName(dataset)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw LoamError.fileNotFound(path) }
        guard let format = options.format ?? ImportFormat.detect(path: path, isDirectory: isDirectory.boolValue) else {
            throw LoamError.invalidArgument("cannot tell the format of \(path) from its name; pass --format csv|jsonl|parquet|arrow|hf|folder")
        }
        let folderFormat = format == .folder || format == .hf
        if folderFormat && !isDirectory.boolValue { throw LoamError.invalidArgument("\(path) is a file; --format \(format.rawValue) needs a folder") }
        if !folderFormat && isDirectory.boolValue { throw LoamError.invalidArgument("\(path) is a folder; import it with --format folder (or hf for a Hugging Face save_to_disk folder)") }
        return try await importData(.file(path), format: format, into: dataset, options: options)
    }

    /// Imports bytes already in memory (a request body): CSV, JSONL or Arrow, as one commit.
    /// Errors and the default commit message name the input `name`, never a temporary file.
    ///
    /// ```swift
    /// try await repo.importData(bytes: ByteStorage(copying: body), named: "upload", format: .csv, into: "reviews")
    /// ```
    @discardableResult
    public func importData(bytes: ByteStorage, named name: String, format: ImportFormat, into dataset: String,
                           options: ImportOptions = ImportOptions()) async throws -> ImportResult {
        try Self.validateDatasetName(dataset)
        guard format != .folder && format != .hf else { throw LoamError.invalidArgument("a folder cannot arrive as bytes; send csv, jsonl, parquet or arrow") }
        return try await importData(.bytes(bytes, name: name), format: format, into: dataset, options: options)
    }

    private func importData(_ input: ImportInput, format: ImportFormat, into dataset: String, options: ImportOptions) async throws -> ImportResult {
        let path = input.name
        let declared = try options.schema.map(SchemaSpec.parse) ?? []
        if !declared.isEmpty && format != .csv && format != .jsonl {
            throw LoamError.invalidArgument("--schema applies to CSV and JSONL; \(format == .folder ? "a folder's columns are fixed (path, label, bytes, media_type, size)" : "\(format == .hf ? "a Hugging Face" : format == .parquet ? "a Parquet" : "an Arrow") input carries its own types")")
        }
        let message = options.message ?? "Import \((path as NSString).lastPathComponent) into \(dataset)"
        return try await withWriteIntent {
            // Write the fragments once, against the head as it is now; the commit below
            // only attaches them, so a retry after another writer's commit re-reads no input.
            let branch = try await meta.currentBranch()
            guard let head = try await meta.ref(named: branch) else { throw TableError.unknownRef(branch) }
            let existing = try await tables.manifest(try await tables.commit(head.commit).tree[dataset])
            var types: [String: ArrowType] = [:]
            if let existing { for column in existing.schema.columns { types[column.name] = try column.field().type } }
            for (name, type) in declared {
                if let current = types[name], current != type {
                    throw LoamError.invalidArgument("--schema gives '\(name)' type \(type.name), but dataset '\(dataset)' stores it as \(current.name)")
                }
                types[name] = type
            }
            let source = try makeSource(format: format, input: input, declared: types, required: Set(declared.map(\.name)),
                                        options: options)
            let schema = existing?.schema ?? TableSchema(fields: source.schema.fields, metadata: source.schema.metadata)
            let columnIDs = try Self.columnMapping(source.schema, onto: schema, dataset: dataset, file: path)
            let fields = source.schema.fields
            let writer = FragmentWriter(objects: objects)
            var written: [FragmentEntry] = []
            var rows = 0
            // Parse the next batch while the previous one is hashed and written (two cores busy).
            var writing: Task<FragmentEntry, Error>?
            do {
                while let batch = try source.nextBatch(maxRows: options.fragmentRows, maxBytes: options.fragmentBytes) {
                    let ids = try await meta.allocateRowIDs(batch.length)
                    let previous = writing
                    writing = Task { try await writer.write(columns: batch.columns, columnIDs: columnIDs, fields: fields, rowIDs: ids) }
                    if let previous { written.append(try await previous.value) }
                    rows += batch.length
                    FailPoint.hit("fragment-written")
                    options.progress?(source.bytesRead, source.totalBytes)
                }
                if let last = writing { written.append(try await last.value) }
            } catch {
                if let last = try? await writing?.value { written.append(last) }  // an in-flight write finishes, then goes too
                await removeUnattached(written, dataset: dataset, branch: branch)
                throw error
            }
            let fragments = written
            let id: ObjectID
            do {
                id = try await commit(message: message) { tree in
                    var manifest = try await tables.manifest(tree[dataset]) ?? Manifest(schema: schema)
                    guard manifest.schema == schema else {
                        throw LoamError.invalidArgument(existing == nil
                            ? "another writer created dataset '\(dataset)' while \(path) was being imported; nothing was committed — import it again to append"
                            : "the schema of '\(dataset)' changed while \(path) was being imported; nothing was committed — import it again")
                    }
                    manifest.fragments += fragments
                    tree[dataset] = try await tables.save(manifest)
                }
            } catch {
                await removeUnattached(fragments, dataset: dataset, branch: branch)
                throw error
            }
            return ImportResult(commit: id, dataset: dataset, rows: rows, fragments: fragments.count, created: existing == nil)
        }
    }

    /// Deletes the fragments a failed import wrote, at once rather than at the next gc. Each holds row ids
    /// allocated for this import alone, so no other commit can hold the same object; the branch head is
    /// read first all the same, and nothing is deleted if it names one of them (or cannot be read).
    private func removeUnattached(_ fragments: [FragmentEntry], dataset: String, branch: String) async {
        guard !fragments.isEmpty, let head = try? await meta.ref(named: branch), let commit = try? await tables.commit(head.commit),
              let manifest = try? await tables.manifest(commit.tree[dataset]) ?? Manifest(schema: TableSchema(fields: [])) else { return }
        let attached = Set(manifest.fragments.map(\.object))
        for fragment in fragments where !attached.contains(fragment.object) { try? await objects.delete(fragment.object) }
    }

    private func makeSource(format: ImportFormat, input: ImportInput, declared: [String: ArrowType], required: Set<String>,
                            options: ImportOptions) throws -> RecordSource {
        let delimiter = options.delimiter
        let tsv = input.name.lowercased().hasSuffix(".tsv") && delimiter == UInt8(ascii: ",")
        if let split = options.split, format != .hf {
            throw LoamError.invalidArgument("--split \(split) chooses a split of a Hugging Face DatasetDict folder, not of \(format.rawValue) input")
        }
        if options.columns != nil && format != .parquet {
            throw LoamError.invalidArgument("--columns chooses the columns of a Parquet import, not of \(format.rawValue) (import, then `loam alter … drop-column`)")
        }
        switch format {
        case .csv: return try CSVSource(input: input, delimiter: tsv ? 9 : delimiter, declared: declared, required: required)
        case .jsonl: return try JSONLSource(input: input, declared: declared)
        case .arrow: return try ArrowSource(input: input, maxRowsPerByte: options.maxRowsPerByte)
        case .parquet: return try ParquetSource(input: input, columns: options.columns)
        case .folder: return try FolderSource(path: input.name, extensions: options.extensions, mediaTypes: options.mediaTypes)
        case .hf: return try HFSource(path: input.name, split: options.split, maxRowsPerByte: options.maxRowsPerByte)
        }
    }

    /// Column ids for the source's columns in the dataset, checking that each
    /// exists with the same type and that the columns left out may be null.
    static func columnMapping(_ source: Schema, onto schema: TableSchema, dataset: String, file: String) throws -> [Int] {
        var problems: [String] = []
        var ids: [Int] = []
        // By name through dictionaries: linear in the number of columns (100,000 columns import in seconds).
        let specs = Dictionary(schema.columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let provided = Set(source.fields.map(\.name))
        for field in source.fields {
            if field.name == RowID.name {
                problems.append("column '\(RowID.name)' is reserved for Loam's row ids; drop or rename it")
                continue
            }
            guard let spec = specs[field.name], let id = spec.id else {
                problems.append("column '\(field.name)' is not in dataset '\(dataset)' (add it first: `loam alter \(dataset) add-column \(field.name) \(field.type.name)`)")
                continue
            }
            let type = try spec.field().type
            if type != field.type { problems.append("column '\(field.name)' is \(field.type.name) in the input but \(type.name) in dataset '\(dataset)'") }
            ids.append(id)
        }
        for column in schema.columns where !provided.contains(column.name) && !column.nullable {
            problems.append("the input lacks column '\(column.name)', which may not be null")
        }
        guard problems.isEmpty else {
            throw LoamError.badInput(file: file, line: nil, column: nil,
                                     message: "does not fit dataset '\(dataset)':\n  - " + problems.joined(separator: "\n  - "))
        }
        return ids
    }
}
