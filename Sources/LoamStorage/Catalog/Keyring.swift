import Crypto
import Foundation
import GRDB

/// Where a repository's master key comes from, and what it does: wrap and unwrap data keys. A KMS slots in
/// here (its wrap and unwrap are calls to the service); the master key itself never touches the repository.
public protocol KeyProvider: Sendable {
    /// Where the key came from, for messages: "LOAM_MASTER_KEY", "key file /etc/loam/k".
    var source: String { get }
    func wrap(_ key: SymmetricKey) throws -> [UInt8]
    func unwrap(_ wrapped: [UInt8]) throws -> SymmetricKey
}

/// A 256-bit master key held locally: AES key wrap (RFC 3394) of each data key.
public struct MasterKey: KeyProvider {
    public let source: String
    private let key: SymmetricKey

    public init(bytes: [UInt8], source: String) throws {
        guard bytes.count == 32 else { throw StorageError.encryption("the master key from \(source) has \(bytes.count) bytes; it must be 32 (or 64 hexadecimal digits)") }
        key = SymmetricKey(data: bytes)
        self.source = source
    }

    /// `LOAM_MASTER_KEY` (64 hexadecimal digits), else the file `LOAM_KEY_FILE` names; nil when neither is set.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> MasterKey? {
        if let hex = env["LOAM_MASTER_KEY"], !hex.isEmpty {
            guard let bytes = decodeHex(hex.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw StorageError.encryption("LOAM_MASTER_KEY must be 64 hexadecimal digits (a 256-bit key)")
            }
            return try MasterKey(bytes: bytes, source: "LOAM_MASTER_KEY")
        }
        if let path = env["LOAM_KEY_FILE"], !path.isEmpty { return try load(file: path) }
        return nil
    }

    /// A key file: 32 raw bytes, or 64 hexadecimal digits (a trailing newline allowed).
    public static func load(file path: String) throws -> MasterKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StorageError.encryption("cannot read the key file \(path) (create one with `loam key generate \(path)`)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return try MasterKey(bytes: data.count == 32 ? Array(data) : decodeHex(text) ?? Array(data), source: "key file \(path)")
    }

    /// Writes a new random key to `path` as 64 hexadecimal digits, readable by its owner only; never overwrites.
    public static func generate(file path: String) throws -> MasterKey {
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw StorageError.encryption("cannot create the key file \(path): \(String(cString: strerror(errno))) (an existing key file is never overwritten)")
        }
        let text = Array((bytes.map { String(format: "%02x", $0) }.joined() + "\n").utf8)
        let ok = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count && fsync(fd) == 0
        close(fd)
        guard ok else { unlink(path); throw StorageError.encryption("cannot write the key file \(path)") }
        return try MasterKey(bytes: bytes, source: "key file \(path)")
    }

    public func wrap(_ dataKey: SymmetricKey) throws -> [UInt8] { Array(try AES.KeyWrap.wrap(dataKey, using: key)) }

    public func unwrap(_ wrapped: [UInt8]) throws -> SymmetricKey {
        do { return try AES.KeyWrap.unwrap(wrapped, using: key) } catch {
            throw StorageError.encryption("the master key from \(source) does not open this repository (it is not the key the repository was encrypted or last rotated with)")
        }
    }

    static func decodeHex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }
}

/// One data key as the catalog keeps it: wrapped by the master key, never in the clear.
public struct WrappedKey: Sendable, Encodable {
    public let id: String
    public let wrapped: [UInt8]
    public let created: Date
    public let rotated: Date?
}

/// The catalog's keyring: the data keys of an encrypted repository (none for a plaintext one).
public protocol Keyring: Sendable {
    func wrappedKeys() throws -> [WrappedKey]
    /// Adds a data key (the newest seals new objects).
    func addDataKey(_ key: DataKey, wrappedBy provider: any KeyProvider) throws
    /// Unwraps every data key with `old` and wraps it with `new`, in one transaction; returns how many.
    func rotateMasterKey(from old: any KeyProvider, to new: any KeyProvider) async throws -> Int
}

extension SQLiteMetaStore: Keyring {
    static func registerKeyring(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v11-encryption") { db in
            try db.execute(sql: """
                CREATE TABLE encryption_keys (id TEXT PRIMARY KEY NOT NULL, wrapped BLOB NOT NULL,
                    created_at REAL NOT NULL, rotated_at REAL);
                """)
        }
    }

    public func wrappedKeys() throws -> [WrappedKey] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM encryption_keys ORDER BY created_at, id").map { row in
                WrappedKey(id: row["id"], wrapped: Array(row["wrapped"] as Data), created: Date(timeIntervalSince1970: row["created_at"]),
                           rotated: (row["rotated_at"] as Double?).map { Date(timeIntervalSince1970: $0) })
            }
        }
    }

    public func addDataKey(_ key: DataKey, wrappedBy provider: any KeyProvider) throws {
        let wrapped = Data(try provider.wrap(key.key))
        try pool.write { db in
            try db.execute(sql: "INSERT INTO encryption_keys (id, wrapped, created_at) VALUES (?, ?, ?)",
                           arguments: [key.hexID, wrapped, Date().timeIntervalSince1970])
        }
    }

    public func rotateMasterKey(from old: any KeyProvider, to new: any KeyProvider) async throws -> Int {
        let keys = try wrappedKeys()
        guard !keys.isEmpty else { throw StorageError.encryption("this repository is not encrypted: there is no key to rotate") }
        let rewrapped = try keys.map { (id: $0.id, wrapped: Data(try new.wrap(try old.unwrap($0.wrapped)))) }
        let note = (AuditContext.current, AuditContext.detail)
        try await write { db in
            for key in rewrapped {
                try db.execute(sql: "UPDATE encryption_keys SET wrapped = ?, rotated_at = ? WHERE id = ?",
                               arguments: [key.wrapped, Date().timeIntervalSince1970, key.id])
            }
            try Self.audit(db, note.0, note.1, action: "rotate key", target: "\(rewrapped.count) data key(s) rewrapped")
        }
        return rewrapped.count
    }

    /// The data keys, unwrapped by `provider` (the newest last).
    public func dataKeys(with provider: any KeyProvider) throws -> [DataKey] {
        try wrappedKeys().map { wrapped in
            guard let id = MasterKey.decodeHex(wrapped.id), id.count == 16 else { throw StorageError.encryption("the keyring holds a malformed key id '\(wrapped.id)'") }
            return DataKey(id: id, key: try provider.unwrap(wrapped.wrapped))
        }
    }
}
