import Foundation
import LoamFormat

/// A folder of files in the ImageFolder convention: one row per file with its
/// path (relative to the folder), label (the parent folder's name, null for
/// files at the top), bytes, media type and size. Hidden files are skipped, and
/// so are files outside the chosen extensions or media types, when given.
final class FolderSource: RecordSource {
    static let fileSchema = Schema(fields: [
        Field(name: "path", type: .utf8, nullable: false),
        Field(name: "label", type: .utf8),
        Field(name: "bytes", type: .largeBinary, nullable: false),
        Field(name: "media_type", type: .utf8, nullable: false),
        Field(name: "size", type: .int64, nullable: false),
    ])

    let schema = FolderSource.fileSchema
    private let root: URL
    private let files: [(relative: String, size: Int)]
    private var index = 0
    private var doneBytes = 0
    let totalBytes: Int
    private let batch = BatchBuilder(schema: FolderSource.fileSchema)

    var bytesRead: Int { doneBytes }

    init(path: String, extensions: [String]? = nil, mediaTypes: [String]? = nil) throws {
        let wantedExtensions = extensions.map { Set($0.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ". ")) }) }
        let wantedTypes = mediaTypes?.map { $0.lowercased().trimmingCharacters(in: .whitespaces) }
        func chosen(_ name: String) -> Bool {
            guard wantedExtensions != nil || wantedTypes != nil else { return true }
            let ext = (name as NSString).pathExtension.lowercased()
            if wantedExtensions?.contains(ext) == true { return true }
            let type = Self.mediaType(of: name)
            return wantedTypes?.contains { $0 == type || ($0.hasSuffix("/*") && type.hasPrefix($0.dropLast())) } == true
        }
        var skipped: [String: Int] = [:]
        root = URL(fileURLWithPath: path).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey],
                                                          options: [.skipsHiddenFiles]) else {
            throw LoamError.fileNotFound(path)
        }
        var found: [(String, Int)] = []
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in walker {
            let values = try url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            guard values.isRegularFile == true else { continue }
            let full = url.standardizedFileURL.path
            guard chosen(url.lastPathComponent) else {
                skipped[(url.lastPathComponent as NSString).pathExtension.lowercased(), default: 0] += 1
                continue
            }
            found.append((full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : url.lastPathComponent, values.fileSize ?? 0))
        }
        files = found.sorted { $0.0 < $1.0 }
        totalBytes = files.reduce(0) { $0 + $1.size }
        guard !files.isEmpty else {
            if skipped.isEmpty {
                throw LoamError.badInput(file: path, line: nil, column: nil, message: "the folder holds no files (hidden files are skipped)")
            }
            let held = skipped.sorted { $0.value > $1.value }.prefix(8).map { "\($0.key.isEmpty ? "(no extension)" : "." + $0.key) × \($0.value)" }
            throw LoamError.badInput(file: path, line: nil, column: nil,
                                     message: "no file matches the chosen extensions or media types; the folder holds \(held.joined(separator: ", "))")
        }
    }

    static let mediaTypes: [String: String] = [
        "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
        "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff", "svg": "image/svg+xml",
        "txt": "text/plain", "md": "text/markdown", "csv": "text/csv", "json": "application/json", "jsonl": "application/jsonl",
        "html": "text/html", "xml": "application/xml", "pdf": "application/pdf",
        "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg", "m4a": "audio/mp4",
        "mp4": "video/mp4", "webm": "video/webm", "npy": "application/x-npy",
    ]

    static let unknownType = "application/octet-stream"

    static func mediaType(of name: String) -> String { mediaTypes[(name as NSString).pathExtension.lowercased()] ?? unknownType }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        while index < files.count, batch.rows < maxRows {
            let (relative, _) = files[index]
            let url = root.appendingPathComponent(relative)
            let data: Data
            do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
                throw LoamError.badInput(file: url.path, line: nil, column: nil, message: "cannot read: \(error.localizedDescription)")
            }
            let components = relative.split(separator: "/")
            let label: Value = components.count >= 2 ? .string(String(components[components.count - 2])) : .null
            let ext = (relative as NSString).pathExtension.lowercased()
            try batch.builders[0].append(.string(relative))
            try batch.builders[1].append(label)
            data.withUnsafeBytes { batch.builders[2].appendBytes($0) }
            try batch.builders[3].append(.string(Self.mediaTypes[ext] ?? Self.unknownType))
            batch.builders[4].appendInt64(Int64(data.count))
            index += 1
            doneBytes += data.count
            if batch.byteCount >= maxBytes { break }
        }
        return batch.finish()
    }
}
