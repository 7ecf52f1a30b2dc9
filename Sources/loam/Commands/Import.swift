import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamStorage

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a CSV, JSONL, Parquet or Arrow file, a Hugging Face dataset folder, or a folder of files, as one commit.",
        discussion: """
            A new dataset takes the input's columns, with types inferred from the first 10,000 rows \
            unless --schema declares them. Importing into an existing dataset appends rows, checking \
            that the columns fit. A folder becomes one row per file: path, label (parent folder name), \
            bytes, media_type, size (--extensions and --media-types choose which files).

            A distributed write: each worker runs `loam import PART -d NAME --stage`, which writes the \
            fragments and prints a staged id without committing; then one `loam commit-staged -d NAME ID…` \
            attaches them all as one commit.
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The file or folder to import.")
    var input: String

    @Option(name: .shortAndLong, help: "The dataset to create or append to.")
    var dataset: String

    @Option(help: "Input format (default: from the name).")
    var format: ImportFormat?

    @Option(help: "Column types, e.g. 'id:int64,score:float64,emb:fixed_size_list<float32, 16>'.")
    var schema: String?

    @Option(help: "CSV field delimiter (one character; 'tab' for tabs).")
    var delimiter: String = ","

    @Option(name: .shortAndLong, help: "The commit message.")
    var message: String?

    @Option(help: "The split of a Hugging Face DatasetDict folder to import, e.g. 'train'.")
    var split: String?

    @Option(help: "A Parquet import reads only these columns, e.g. 'id,text,label'.")
    var columns: String?

    @Option(help: "A folder import takes only these extensions, e.g. 'jpg,png'.")
    var extensions: String?

    @Option(help: "A folder import takes only these media types, e.g. 'image/*,text/plain'.")
    var mediaTypes: String?

    @Option(help: "Rows per fragment.")
    var fragmentRows: Int = 65_536

    @Option(help: "At most this many rows per byte of an Arrow record batch (a guard against files that claim rows they do not hold).")
    var maxRowsPerByte: Int = 8

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false

    @Flag(help: "Write the fragments and print a staged id for `loam commit-staged`; commit nothing.")
    var stage = false

    func validate() throws {
        if delimiter != "tab" && delimiter.utf8.count != 1 { throw ValidationError("--delimiter must be one character (or 'tab')") }
        if fragmentRows < 1 { throw ValidationError("--fragment-rows must be at least 1") }
        if maxRowsPerByte < 1 { throw ValidationError("--max-rows-per-byte must be at least 1") }
        var isFolder: ObjCBool = false
        if extensions != nil || mediaTypes != nil, !(FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) && isFolder.boolValue) {
            throw ValidationError("--extensions and --media-types choose files of a folder import; \(input) is not a folder")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            var options = ImportOptions(format: format, schema: schema, message: message)
            options.delimiter = delimiter == "tab" ? 9 : delimiter.utf8.first!
            func list(_ text: String?) -> [String]? { text.map { $0.split(separator: ",").map(String.init).filter { !$0.isEmpty } } }
            options.extensions = list(extensions)
            options.mediaTypes = list(mediaTypes)
            options.columns = list(columns)
            options.split = split
            options.fragmentRows = fragmentRows
            options.maxRowsPerByte = maxRowsPerByte
            let bar = ProgressBar(label: (input as NSString).lastPathComponent, enabled: !quiet && !json && isatty(2) == 1)
            options.progress = { done, total in bar.update(done: done, total: total) }
            if stage {
                let (staged, rows) = try await repo.stageImport(from: input, into: dataset, options: options)
                bar.finish()
                print(json ? "{\"staged\":\"\(staged.hex)\",\"dataset\":\(JSONText.quote(dataset)),\"rows\":\(rows)}" : staged.hex)
                return
            }
            let result = try await repo.importData(from: input, into: dataset, options: options)
            bar.finish()
            if json {
                Self.printJSON(result)
            } else {
                print("\(result.created ? "Created" : "Appended to") dataset \(result.dataset): \(result.rows) rows in \(result.fragments) fragment\(result.fragments == 1 ? "" : "s") (commit \(result.commit.short))")
            }
        }
    }
}

extension Import {
    static func printJSON(_ result: ImportResult) {
        print("{\"commit\":\"\(result.commit.hex)\",\"dataset\":\(JSONText.quote(result.dataset)),\"rows\":\(result.rows),\"fragments\":\(result.fragments),\"created\":\(result.created)}")
    }
}

struct CommitStaged: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit-staged",
        abstract: "Commit the fragments of staged writes (`loam import … --stage`) to a dataset as one commit.")

    @OptionGroup var repository: RepositoryOptions
    @Option(name: .shortAndLong, help: "The dataset to create or append to.") var dataset: String
    @Argument(help: "The staged ids the workers printed.") var staged: [String]
    @Option(name: .shortAndLong, help: "The commit message.") var message: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            let ids = try staged.map { text in
                do { return try ObjectID(hex: text) } catch { throw ValidationError("'\(text)' is not a staged id (64 hexadecimal digits)") }
            }
            let result = try await repo.commitStaged(ids, into: dataset, message: message)
            if json { return Import.printJSON(result) }
            print("\(result.created ? "Created" : "Appended to") dataset \(result.dataset): \(result.rows) rows in \(result.fragments) fragment\(result.fragments == 1 ? "" : "s") from \(ids.count) staged write\(ids.count == 1 ? "" : "s") (commit \(result.commit.short))")
        }
    }
}

/// A one-line progress bar on standard error, redrawn at most 10 times a second.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let enabled: Bool
    private var last = Date.distantPast
    private let started = Date()
    private let lock = NSLock()

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
    }

    func update(done: Int, total: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        guard Date().timeIntervalSince(last) > 0.1 || done >= total else { return }
        last = Date()
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let rate = Double(done) / max(Date().timeIntervalSince(started), 0.001) / 1e6
        let line = String(format: "\r%@ [%@%@] %3.0f%% %.1f/%.1f MB %.0f MB/s", label,
                          String(repeating: "#", count: filled), String(repeating: "-", count: width - filled),
                          fraction * 100, Double(done) / 1e6, Double(total) / 1e6, rate)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
