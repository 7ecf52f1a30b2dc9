import Foundation
import LoamCloud
import LoamStorage

/// Where a repository keeps its catalog and its objects when not in its own `.loam/` folder: the file
/// `.loam/backends.json`, written by `loam init --catalog … --objects …`. Either may be absent (the
/// embedded default for that half). It holds locations only — never a password or key: those come from
/// `PGPASSWORD` and the `AWS_*` variables (or `~/.aws/credentials`) of the process that opens it.
///
/// ```json
/// {"catalog": "postgres://loam@db.internal:5432/loam", "objects": "s3://training/pets/"}
/// ```
public struct Backends: Codable, Sendable, Equatable {
    /// `postgres://user@host:port/database`; nil: `.loam/catalog.sqlite`.
    public var catalog: String?
    /// `s3://bucket/prefix`; nil: `.loam/objects`.
    public var objects: String?

    public init(catalog: String? = nil, objects: String? = nil) {
        self.catalog = catalog
        self.objects = objects
    }

    public static let fileName = "backends.json"

    /// Refuses a location that cannot work, or a password written into the catalog URL.
    public func validate() throws {
        if let catalog {
            guard catalog.hasPrefix("postgres://") || catalog.hasPrefix("postgresql://") else {
                throw LoamError.invalidArgument("--catalog '\(PostgresMetaStore.redacted(catalog))' is not a PostgreSQL URL: give postgres://user@host:port/database")
            }
            if URLComponents(string: catalog)?.password != nil {
                throw LoamError.invalidArgument("--catalog has a password in it, and .loam/\(Self.fileName) is not a secret: drop it from the URL and set PGPASSWORD")
            }
        }
        if let objects { _ = try S3ObjectStore.parse(objects) }
    }

    /// The file in `loam` (a repository's `.loam/`), or nil when there is none.
    static func read(in loam: URL) throws -> Backends? {
        let file = loam.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        do { return try JSONDecoder().decode(Backends.self, from: data) } catch {
            throw LoamError.invalidArgument("\(file.path) is not a backends file ({\"catalog\": \"postgres://…\", \"objects\": \"s3://…\"}): \(error)")
        }
    }

    func write(in loam: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: loam.appendingPathComponent(Self.fileName), options: .atomic)
    }

    /// The stores these locations name; staged uploads go to `loam/tmp`.
    func open(in loam: URL) throws -> (objects: any ObjectStore, meta: any MetaStore) {
        let objects: any ObjectStore = try self.objects.map { try S3ObjectStore(url: $0, staging: loam.appendingPathComponent("tmp")) }
            ?? LocalObjectStore(root: loam)
        let meta: any MetaStore = try catalog.map { try PostgresMetaStore(url: $0) }
            ?? SQLiteMetaStore(path: loam.appendingPathComponent("catalog.sqlite").path)
        return (objects, meta)
    }
}
