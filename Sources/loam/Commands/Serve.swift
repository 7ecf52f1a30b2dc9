import ArgumentParser
import Foundation
import Loam
import LoamServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the repository over HTTP: the REST API under /api/v1, Arrow streams for training, /healthz and /metrics.",
        discussion: """
            Every route but /healthz needs `Authorization: Bearer TOKEN` (see `loam token create`). \
            --anonymous serves without tokens, as admin, and only on a loopback address. \
            SIGTERM or SIGINT stops the server after the requests in flight.
            """)

    @OptionGroup var repository: RepositoryOptions
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port (0: any free port, printed at start).") var port = 8080
    @Flag(help: "No tokens: every request is an admin (loopback addresses only).") var anonymous = false
    @Option(help: "Largest import body, in MiB.") var maxUploadMb = 1024
    @Option(help: "Seconds a SQL statement may run (a request's \"timeout_seconds\" may lower it).") var statementTimeout: Double = 300
    @Option(help: "Memory one SQL statement may hold to sort, join, group or deduplicate, e.g. 2GB (default: half the machine's).")
    var memoryLimit: String?
    @Option(help: "A host name the server answers to besides loopback and --host (repeatable; guards against DNS rebinding).")
    var allowedHost: [String] = []
    @Option(help: "A web origin (http://host:port) whose pages may call the server (repeatable; pages of other origins are refused).")
    var allowedOrigin: [String] = []
    @Option(help: "Serve HTTPS: the certificate chain (PEM). Needs --tls-key.") var tlsCert: String?
    @Option(help: "Serve HTTPS: the certificate's private key (PEM, unencrypted). Needs --tls-cert.") var tlsKey: String?

    func run() async throws {
        try await reportingErrors {
            var limits = LoamServer.Limits()
            limits.uploadBytes = maxUploadMb << 20
            limits.allowedHosts = allowedHost
            limits.statementSeconds = statementTimeout
            if let memoryLimit {
                guard let bytes = MemoryBudget.parse(memoryLimit) else { throw ValidationError("--memory-limit takes a size such as 2GB or 512MB") }
                limits.statementMemory = bytes
            }
            limits.allowedOrigins = allowedOrigin
            switch (tlsCert, tlsKey) {
            case let (cert?, key?): limits.tls = (cert, key)
            case (nil, nil): break
            default: throw ValidationError("give both --tls-cert and --tls-key (PEM files) to serve HTTPS")
            }
            let server = try LoamServer(repository: try repository.open(), host: host, port: port, anonymous: anonymous, limits: limits)
            try await server.run { port in
                // Unbuffered, so a script waiting for this line sees it at once.
                FileHandle.standardOutput.write(Data("Serving \(host):\(port)\(tlsCert != nil ? " (HTTPS)" : "")\(anonymous ? " (anonymous, no tokens)" : "")\n".utf8))
            }
        }
    }
}

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the users tokens belong to.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user and every token of theirs (their commits and audit entries stay).")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The user name.") var name: String

        func run() async throws {
            try await reportingErrors {
                let tokens = try await repository.open().removeUser(name)
                print("Removed user \(name) and \(tokens) token(s)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user.")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The user name.") var name: String

        func run() async throws {
            try await reportingErrors {
                try await repository.open().addUser(name)
                print("Added user \(name)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var repository: RepositoryOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let users = try await repository.open().users()
                if json { print(try JSONOutput.text(users.map { ["name": $0] })) } else { for name in users { print(name) } }
            }
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage bearer tokens for `loam serve` (stored only as salted hashes).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token and print it (once: it is not stored).")
        @OptionGroup var repository: RepositoryOptions
        @Option(help: "The user it belongs to.") var user: String
        @Option(help: "What the token may do.") var role: Role
        @Option(help: "Limit the token to one dataset.") var dataset: String?
        @Option(help: "The token stops working after this long: 90m, 12h, 30d.") var expiresIn: String?
        @Flag(help: "Print JSON: the token with its user, role and dataset.") var json = false

        func run() async throws {
            try await reportingErrors {
                var expires: Date?
                if let expiresIn {
                    let units: [Character: Double] = ["m": 60, "h": 3600, "d": 86_400]
                    guard let unit = expiresIn.last.flatMap({ units[$0] }), let count = Double(expiresIn.dropLast()), count > 0 else {
                        throw ValidationError("--expires-in takes a count and a unit: 90m, 12h or 30d")
                    }
                    expires = Date().addingTimeInterval(count * unit)
                }
                let token = try await repository.open().createToken(user: user, role: role, dataset: dataset, expires: expires)
                print(json ? try JSONOutput.text(NewToken(token: token, user: user, role: role.rawValue, dataset: dataset)) : token)
            }
        }

        struct NewToken: Encodable { let token: String, user: String, role: String, dataset: String? }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (ids, users, roles; never the secrets).")
        @OptionGroup var repository: RepositoryOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let tokens = try await repository.open().tokens()
                if json { print(try JSONOutput.text(tokens.map(TokenView.init))); return }
                let rows = tokens.map { [$0.id, $0.user, $0.role, $0.dataset ?? "(all)", ISO8601DateFormatter().string(from: $0.created),
                                         $0.expires.map { ISO8601DateFormatter().string(from: $0) } ?? "never"] }
                print(formatTable(header: ["id", "user", "role", "dataset", "created", "expires"], rows: rows), terminator: "")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its id.")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The token id (the 12 hex digits after loam_).") var id: String

        func run() async throws {
            try await reportingErrors {
                guard try await repository.open().revokeToken(id: id) else { throw LoamError.invalidArgument("no token with id \(id) (see `loam token list`)") }
                print("Revoked \(id)")
            }
        }
    }
}
