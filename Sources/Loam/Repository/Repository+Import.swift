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
        let message = options.message ?? "Import \((path as NSString).lastPathComponent) into \(dataset)"
        return try await withWriteIntent {
            // Write the fragments once, against the head as it is now; the commit below
            // only attaches them, so a retry after another writer's commit re-reads no input.
            let staged = try await writeFragments(input, format: format, into: dataset, options: options)
            let fragments = staged.fragments
            let id: ObjectID
            do {
                id = try await commit(message: message) { tree in
                    var manifest = try await tables.manifest(tree[dataset]) ?? Manifest(schema: staged.schema)
                    guard manifest.schema == staged.schema else {
                        throw LoamError.invalidArgument(!staged.existed
                            ? "another writer created dataset '\(dataset)' while \(path) was being imported; nothing was committed — import it again to append"
                            : "the schema of '\(dataset)' changed while \(path) was being imported; nothing was committed — import it again")
                    }
                    manifest.fragments += fragments
                    tree[dataset] = try await tables.save(manifest)
                }
            } catch {
                await removeUnattached(fragments, dataset: dataset, branch: staged.branch)
                throw error
            }
            return ImportResult(commit: id, dataset: dataset, rows: staged.rows, fragments: fragments.count, created: !staged.existed)
        }
    }

    /// Fragments written for a commit that has not happened yet.
    struct WrittenFragments {
        let schema: TableSchema
        let fragments: [FragmentEntry]
        let rows: Int
        /// Whether the dataset existed at the head the fragments were written against.
        let existed: Bool
        let branch: String
    }

    /// Parses the input and writes its fragments (row ids reserved in the catalog), typed against the dataset at
    /// the current branch's head; commits nothing. On failure it removes what it wrote.
    private func writeFragments(_ input: ImportInput, format: ImportFormat, into dataset: String, options: ImportOptions) async throws -> WrittenFragments {
        let path = input.name
        let declared = try options.schema.map(SchemaSpec.parse) ?? []
        if !declared.isEmpty && format != .csv && format != .jsonl {
            throw LoamError.invalidArgument("--schema applies to CSV and JSONL; \(format == .folder ? "a folder's columns are fixed (path, label, bytes, media_type, size)" : "\(format == .hf ? "a Hugging Face" : format == .parquet ? "a Parquet" : "an Arrow") input carries its own types")")
        }
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
        // Parse the next batch while the previous one is hashed and written (two cores busy); to a remote store,
        // up to three uploads are in flight, since each waits on the network more than on a core.
        let inFlight = objects.isLocal ? 1 : 3
        var writing: [Task<FragmentEntry, Error>] = []
        do {
            while let batch = try source.nextBatch(maxRows: options.fragmentRows, maxBytes: options.fragmentBytes) {
                let ids = try await meta.allocateRowIDs(batch.length)
                writing.append(Task { try await writer.write(columns: batch.columns, columnIDs: columnIDs, fields: fields, rowIDs: ids) })
                if writing.count > inFlight { written.append(try await writing.removeFirst().value) }
                rows += batch.length
                FailPoint.hit("fragment-written")
                options.progress?(source.bytesRead, source.totalBytes)
            }
            while !writing.isEmpty { written.append(try await writing.removeFirst().value) }
        } catch {
            for task in writing { if let done = try? await task.value { written.append(done) } }  // in-flight writes finish, then go too
            await removeUnattached(written, dataset: dataset, branch: branch)
            throw error
        }
        return WrittenFragments(schema: schema, fragments: written, rows: rows, existed: existing != nil, branch: branch)
    }

    /// A distributed write's worker half: writes `path`'s fragments into the object store and saves them as a
    /// staged manifest (an object no commit names yet), committing nothing. Many workers stage in parallel;
    /// `commitStaged` then attaches them all in one commit. Uncommitted staged objects are garbage after gc's grace.
    public func stageImport(from path: String, into dataset: String, options: ImportOptions = ImportOptions()) async throws -> (staged: ObjectID, rows: Int) {
        try Self.validateDatasetName(dataset)
        guard FileManager.default.fileExists(atPath: path) else { throw LoamError.fileNotFound(path) }
        guard let format = options.format ?? ImportFormat.detect(path: path, isDirectory: false), format != .folder, format != .hf else {
            throw LoamError.invalidArgument("cannot stage \(path): give a CSV, JSONL, Parquet or Arrow file (--format)")
        }
        let written = try await writeFragments(.file(path), format: format, into: dataset, options: options)
        var manifest = Manifest(schema: written.schema)
        manifest.fragments = written.fragments
        return (try await tables.save(manifest), written.rows)
    }

    /// A distributed write's driver half: attaches the fragments of every staged manifest to `dataset` in one
    /// commit (one compare-and-swap; re-applied on a moved branch). Every part must have the dataset's schema.
    public func commitStaged(_ parts: [ObjectID], into dataset: String, message: String? = nil) async throws -> ImportResult {
        try Self.validateDatasetName(dataset)
        guard !parts.isEmpty else { throw LoamError.invalidArgument("nothing to commit: give the staged ids that `loam import --stage` printed") }
        var staged: [Manifest] = []
        for id in parts {
            guard let manifest = try? await tables.manifest(id) else {
                throw LoamError.invalidArgument("\(id.short) is not a staged write (an id `loam import --stage` printed)")
            }
            staged.append(manifest)
        }
        let fragments = staged.flatMap(\.fragments)
        let rows = fragments.reduce(0) { $0 + $1.rows }
        var created = false
        var added: [FragmentEntry] = []
        let id = try await withWriteIntent {
            try await commit(message: message ?? "Commit \(parts.count) staged writes (\(rows) rows) into \(dataset)") { tree in
                let current = try await tables.manifest(tree[dataset])
                created = current == nil
                var manifest = current ?? Manifest(schema: staged[0].schema)
                for (n, part) in staged.enumerated() where part.schema != manifest.schema {
                    throw LoamError.invalidArgument("staged write \(parts[n].short) has columns \(part.schema.columns.map(\.name)), not the schema of '\(dataset)' "
                                                    + "(\(manifest.schema.columns.map(\.name))): stage it again against the current head")
                }
                let present = Set(manifest.fragments.map(\.object))
                added = fragments.filter { !present.contains($0.object) }  // a part committed twice adds nothing
                manifest.fragments += added
                tree[dataset] = try await tables.save(manifest)
            }
        }
        return ImportResult(commit: id, dataset: dataset, rows: added.reduce(0) { $0 + $1.rows }, fragments: added.count, created: created)
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
