import Foundation
import Loam
import LoamCloud
import LoamStorage
import LoamTestSupport
import Testing

/// The backend pairs every conformance test runs on: the embedded default (SQLite + local folder) and the
/// servers (PostgreSQL + S3) that `scripts/test-servers.sh` starts and names in `LOAM_TEST_*`. Without those
/// variables the server pair is left out, unless `LOAM_REQUIRE_SERVERS=1` (set by `scripts/test.sh`), where
/// their absence fails the run.
enum BackendPair: String, CaseIterable, CustomStringConvertible, Sendable {
    case embedded, servers

    var description: String { self == .embedded ? "SQLite + local" : "PostgreSQL + S3" }

    static var env: [String: String] { ProcessInfo.processInfo.environment }

    /// The pairs available here.
    static var available: [BackendPair] {
        guard env["LOAM_TEST_POSTGRES"] != nil, env["LOAM_TEST_S3_ENDPOINT"] != nil else {
            if env["LOAM_REQUIRE_SERVERS"] == "1" { return [.embedded, .servers] }  // makes the server tests fail, saying why
            return [.embedded]
        }
        return [.embedded, .servers]
    }

    static func server(_ name: String) throws -> String {
        guard let value = env[name], !value.isEmpty else {
            throw TestSetupError("\(name) is not set: start the test servers with `eval \"$(bash scripts/test-servers.sh start)\"` (scripts/test.sh does)")
        }
        return value
    }

    /// The AWS_* variables a loam process needs to reach the test S3 server.
    static func s3Environment() throws -> [String: String] {
        ["AWS_ENDPOINT_URL": try server("LOAM_TEST_S3_ENDPOINT"), "AWS_ACCESS_KEY_ID": try server("LOAM_TEST_S3_KEY"),
         "AWS_SECRET_ACCESS_KEY": try server("LOAM_TEST_S3_SECRET"), "AWS_REGION": "us-east-1"]
    }

    /// A new, empty database on the test PostgreSQL server; its URL.
    static func freshDatabase() throws -> String {
        let admin = try server("LOAM_TEST_POSTGRES")
        guard let parts = URLComponents(string: admin), let host = parts.host, let port = parts.port else { throw TestSetupError("bad LOAM_TEST_POSTGRES \(admin)") }
        let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        let bin = env["LOAM_PGBIN"] ?? "/usr/lib/postgresql/15/bin"
        let result = try TestEnvironment.run(bin + "/createdb", ["-h", host, "-p", String(port), "-U", parts.user ?? "loam", name])
        guard result.status == 0 else { throw TestSetupError("createdb \(name) failed: \(result.error)") }
        return "postgres://\(parts.user ?? "loam")@\(host):\(port)/\(name)"
    }

    /// A fresh prefix in the test bucket.
    static func freshPrefix() throws -> String { "s3://\(try server("LOAM_TEST_S3_BUCKET"))/t-\(UUID().uuidString.prefix(8).lowercased())/" }

    static func s3Store(_ url: String, staging: URL, partSize: Int = 16 << 20) throws -> S3ObjectStore {
        let (bucket, prefix) = try S3ObjectStore.parse(url)
        let client = try S3Client(endpoint: S3Endpoint(url: try server("LOAM_TEST_S3_ENDPOINT"), region: "us-east-1"), bucket: bucket,
                                  credentials: S3Credentials(accessKey: try server("LOAM_TEST_S3_KEY"), secretKey: try server("LOAM_TEST_S3_SECRET")))
        return try S3ObjectStore(client: client, prefix: prefix, staging: staging, partSize: partSize)
    }

    /// A fresh object store of this pair, staging (or storing) under `dir`.
    func objectStore(in dir: URL, partSize: Int = 16 << 20) throws -> any ObjectStore {
        switch self {
        case .embedded: return try LocalObjectStore(root: dir)
        case .servers: return try Self.s3Store(try Self.freshPrefix(), staging: dir.appendingPathComponent("tmp"), partSize: partSize)
        }
    }

    /// A fresh catalog of this pair, and a function that opens another connection to the same one (as another process would).
    func catalog(in dir: URL) throws -> (meta: any MetaStore & AuditLog, another: @Sendable () throws -> any MetaStore & AuditLog) {
        switch self {
        case .embedded:
            let path = dir.appendingPathComponent("catalog.sqlite").path
            return (try SQLiteMetaStore(path: path), { try SQLiteMetaStore(path: path) })
        case .servers:
            let url = try Self.freshDatabase()
            return (try PostgresMetaStore(url: url), { try PostgresMetaStore(url: url) })
        }
    }

    /// The backends of a fresh repository of this pair (nil locations for the embedded default); for the servers,
    /// the process gets the AWS_* variables that reach the test S3 server, as a `loam` process would.
    func backends() throws -> Backends {
        switch self {
        case .embedded: return Backends()
        case .servers:
            for (name, value) in try Self.s3Environment() { setenv(name, value, 1) }
            return Backends(catalog: try Self.freshDatabase(), objects: try Self.freshPrefix())
        }
    }
}
