import ArgumentParser
import Foundation
import Loam
import LoamCloud
import LoamStorage

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a repository (a .loam folder) in PATH.",
        discussion: """
            With --encrypt every object (fragments, deletion vectors, manifests, commits, artifacts) is encrypted \
            with AES-256-GCM under keys that the master key wraps; the master key is LOAM_MASTER_KEY (64 hexadecimal \
            digits), else the file LOAM_KEY_FILE or --key-file names (created, readable by you only, if missing).
              loam init data --encrypt --key-file ~/.loam-data.key
              export LOAM_KEY_FILE=~/.loam-data.key     # every later command needs it

            With --catalog and --objects the repository lives on servers: the catalog in PostgreSQL, the objects \
            in an S3 bucket (endpoint from AWS_ENDPOINT_URL, region from AWS_REGION, keys from AWS_ACCESS_KEY_ID and \
            AWS_SECRET_ACCESS_KEY or ~/.aws/credentials; the database password from PGPASSWORD). PATH keeps only \
            .loam/backends.json. Run the same command on another machine to join the repository that is already there:
              loam init node1 --catalog postgres://loam@db:5432/loam --objects s3://training/pets
            """)

    @Argument(help: "Folder to create the repository in (default: the current folder).")
    var path: String = "."
    @Flag(help: "Encrypt every object at rest.") var encrypt = false
    @Option(help: "With --encrypt: the master key file (created with a new random key if missing).") var keyFile: String?
    @Option(help: "Keep the catalog in PostgreSQL: postgres://user@host:port/database (password in PGPASSWORD).") var catalog: String?
    @Option(help: "Keep the objects in an S3 bucket: s3://bucket/prefix.") var objects: String?

    func run() async throws {
        try await reportingErrors {
            var provider: MasterKey?
            if encrypt {
                if let keyFile {
                    provider = FileManager.default.fileExists(atPath: keyFile) ? try MasterKey.load(file: keyFile) : try MasterKey.generate(file: keyFile)
                } else {
                    provider = try MasterKey.fromEnvironment()
                }
                guard provider != nil else {
                    throw ValidationError("--encrypt needs a master key: --key-file PATH (created if missing), LOAM_KEY_FILE or LOAM_MASTER_KEY")
                }
            } else if keyFile != nil {
                throw ValidationError("--key-file goes with --encrypt")
            }
            let backends = Backends(catalog: catalog, objects: objects)
            let repo = try await Repository.initialize(at: URL(fileURLWithPath: path), encryptingWith: provider, backends: backends)
            let places = [catalog.map { "catalog \(PostgresMetaStore.redacted($0))" }, objects.map { "objects \($0)" }].compactMap { $0 }
            print("Initialized Loam repository in \(repo.root.path)/.loam (branch main)" + (provider.map { ", encrypted with the master key from \($0.source)" } ?? "")
                  + (places.isEmpty ? "" : ", " + places.joined(separator: ", ")))
            if let keyFile, ProcessInfo.processInfo.environment["LOAM_KEY_FILE"] == nil {
                print("Keep \(keyFile) safe — without it the data cannot be read — and set LOAM_KEY_FILE=\(keyFile) for later commands.")
            }
        }
    }
}

struct Key: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The master key of an encrypted repository: generate one, rotate it, show the keyring.",
        subcommands: [Generate.self, Rotate.self, Status.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Writes a new random 256-bit master key to a file (mode 0600; never overwrites).")
        @Argument(help: "The key file to create.") var file: String

        func run() async throws {
            try await reportingErrors {
                _ = try MasterKey.generate(file: file)
                print("Wrote a new master key to \(file)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewraps the repository's data keys with a new master key; rewrites no data.",
            discussion: "The current key comes from LOAM_MASTER_KEY or LOAM_KEY_FILE; afterwards only the new one opens the repository.")
        @OptionGroup var repository: RepositoryOptions
        @Option(help: "The new master key file (created with a new random key if missing).") var newKeyFile: String

        func run() async throws {
            try await reportingErrors {
                guard let current = try MasterKey.fromEnvironment() else {
                    throw ValidationError("give the current master key with LOAM_KEY_FILE or LOAM_MASTER_KEY")
                }
                let repo = try repository.open()
                guard let keyring = repo.meta as? any Keyring else { throw ValidationError("this repository's catalog keeps no keyring") }
                let fresh = FileManager.default.fileExists(atPath: newKeyFile) ? try MasterKey.load(file: newKeyFile) : try MasterKey.generate(file: newKeyFile)
                let count = try await keyring.rotateMasterKey(from: current, to: fresh)
                print("Rewrapped \(count) data key(s) with the master key from \(fresh.source); the old key no longer opens this repository")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Whether the repository is encrypted, and its data keys (ids and dates; never a key).")
        @OptionGroup var repository: RepositoryOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let repo = try repository.open()
                let keys = try (repo.meta as? any Keyring)?.wrappedKeys() ?? []
                if json {
                    struct Out: Encodable { let encrypted: Bool; let keys: [[String: String]] }
                    let formatter = ISO8601DateFormatter()
                    print(try JSONOutput.text(Out(encrypted: !keys.isEmpty, keys: keys.map { key in
                        ["id": key.id, "created": formatter.string(from: key.created)].merging(key.rotated.map { ["rotated": formatter.string(from: $0)] } ?? [:]) { a, _ in a }
                    })))
                    return
                }
                print(keys.isEmpty ? "not encrypted" : "encrypted (AES-256-GCM); data keys:")
                for key in keys { print("  \(key.id)  created \(key.created)" + (key.rotated.map { ", rewrapped \($0)" } ?? "")) }
            }
        }
    }
}
