import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import Loam
import LoamFormat
import LoamQuality
import LoamQuery
import LoamStorage
import LoamTable
import LoamLabels
import LoamTracking
import ServiceLifecycle

/// `loam serve`: the REST API under /api/v1 over one repository. Every route but
/// /healthz needs a bearer token (401 without a valid one, 403 when its role or
/// dataset does not cover the route), unless the server runs anonymous on loopback.
public struct LoamServer: Sendable {
    public struct Limits: Sendable {
        /// Largest import body, in bytes.
        public var uploadBytes = 1 << 30
        /// Largest JSON request body, in bytes.
        public var jsonBytes = 1 << 20
        /// Most positions in one take, and rows in one page of rows.
        public var rowsPerRequest = 1_000_000
        /// Seconds a connection may stay idle.
        public var idleSeconds: Int64 = 120
        /// Bytes of rows one SQL statement may hold to sort, join, group or deduplicate.
        public var statementMemory = MemoryBudget.defaultLimit
        /// Imports whose bodies may stream in at once (more are answered 503).
        public var concurrentUploads = 4
        /// Seconds a SQL statement may run; a request's "timeout_seconds" may lower it.
        public var statementSeconds: Double = 300
        /// Host names the server answers to besides loopback and its own address (`BrowserGuard`).
        public var allowedHosts: [String] = []
        /// Web origins (`http://host:port`) whose pages may call the server.
        public var allowedOrigins: [String] = []
        /// Serve HTTPS with this certificate chain and private key (PEM files); nil: plain HTTP.
        public var tls: (certificate: String, key: String)?

        public init() {}
    }

    public let repository: Repository
    public let host: String
    public let port: Int
    /// Single-user mode: no token, every request an admin. Only on a loopback address.
    public let anonymous: Bool
    public let limits: Limits
    let metrics = Metrics()
    /// Experiment tracking (the MLflow routes translate to it); its error where the catalog keeps no tracking store.
    private let trackerOrError: Result<Tracker, any Error>
    var tracker: Tracker { get throws { try trackerOrError.get() } }
    /// Labels and labelling tasks (the label routes and the annotation page translate to them).
    let labels: Labeler
    private let labelTasksOrError: Result<LabelTasks, any Error>
    var labelTasks: LabelTasks { get throws { try labelTasksOrError.get() } }
    /// Import bodies, streamed to files.
    let uploads: Uploads
    /// Where statements run, off the threads that answer requests.
    let queries = QueryExecutor(threads: ProcessInfo.processInfo.activeProcessorCount)

    public init(repository: Repository, host: String = "127.0.0.1", port: Int = 8080, anonymous: Bool = false, limits: Limits = Limits()) throws {
        if anonymous && !["127.0.0.1", "::1", "localhost"].contains(host) {
            throw LoamError.invalidArgument("--anonymous serves without tokens, so only on a loopback address (127.0.0.1, ::1 or localhost), not \(host)")
        }
        QualityGates.install()  // gated expectations guard every write through the server too
        self.repository = repository
        self.host = host
        self.port = port
        self.anonymous = anonymous
        self.limits = limits
        trackerOrError = Result { try Tracker(repository: repository) }
        labels = Labeler(repository: repository)
        labelTasksOrError = Result { try LabelTasks(repository: repository) }
        let folder = repository.root.appendingPathComponent(Repository.folderName).appendingPathComponent("uploads")
        uploads = Uploads(folder: folder, limit: limits.concurrentUploads)
        _ = Uploads.removeStale(in: folder)  // a crashed server's, never a live one's (they are locked)
    }

    /// Serves until SIGTERM or SIGINT, then finishes the requests in flight and returns.
    public func run(onListening: (@Sendable (Int) async -> Void)? = nil) async throws {
        let http: HTTPServerBuilder = .http1(configuration: .init(idleTimeout: .seconds(limits.idleSeconds)))
        let app = Application(
            router: router(maskingKey: try await repository.maskingKey()),
            server: try limits.tls.map { try .tls(http, tlsConfiguration: try Self.tlsConfiguration($0)) } ?? http,
            configuration: .init(address: .hostname(host, port: port), serverName: "loam"),
            onServerRunning: { channel in
                Self.socketsCloseOnExec()
                await onListening?(channel.localAddress?.port ?? 0)
            },
            logger: {
                var logger = Logger(label: "loam.serve")
                logger.logLevel = ProcessInfo.processInfo.environment["LOAM_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .notice
                return logger
            }())
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    /// The server side of TLS from PEM files, checked before the server starts (a bad file is an error naming it).
    static func tlsConfiguration(_ files: (certificate: String, key: String)) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate], key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificate) } catch {
            throw LoamError.invalidArgument("cannot read the TLS certificate \(files.certificate) (a PEM file of the certificate chain): \(error)")
        }
        guard !chain.isEmpty else { throw LoamError.invalidArgument("\(files.certificate) holds no certificate (PEM, -----BEGIN CERTIFICATE-----)") }
        do { key = try NIOSSLPrivateKey(file: files.key, format: .pem) } catch {
            throw LoamError.invalidArgument("cannot read the TLS private key \(files.key) (a PEM file, unencrypted): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// Marks the process's sockets close-on-exec. NIO opens its listening socket without
    /// the flag, so a program started from this process — Swift's crash reporter, which
    /// runs for seconds after a crash — would inherit it and hold the port meanwhile.
    static func socketsCloseOnExec() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            guard let fd = Int32(name),
                  let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)"),
                  target.hasPrefix("socket:") else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Every route the server answers besides /healthz, as (method, path) with `{parameter}`s.
    public static var routes: [(method: String, path: String)] {
        ServiceController.table + RepositoryController.table + DatasetController.table + QueryController.table + LabelsController.table
    }

    /// The MLflow tracking and artifact routes (MLflow's own API, documented by MLflow's protos).
    public static var mlflowRoutes: [(method: String, path: String)] { MLflowController.table }

    /// The routes; `maskingKey` (the repository's, read once at start) keys the hashes of masked columns.
    func router(maskingKey: [UInt8]) -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        router.add(middleware: BrowserGuard(bind: host, allowedHosts: limits.allowedHosts, allowedOrigins: limits.allowedOrigins))
        router.get("/healthz") { _, _ in Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        let api = router.group().add(middleware: AuthMiddleware(repository: repository, anonymous: anonymous, maskingKey: maskingKey))
        ServiceController(server: self).register(on: api)
        RepositoryController(server: self).register(on: api)
        DatasetController(server: self).register(on: api)
        QueryController(server: self).register(on: api)
        MLflowController(server: self).register(on: api)
        LabelsController(server: self).register(on: api)
        WebController().register(on: router)
        return router
    }
}

/// Per-request state: the grant of the bearer token, once the auth middleware has checked it.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var grant: Grant?
    /// The client's connection: when it closes, the statement it asked for is cancelled.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        grant = nil
        channel = source.channel
    }

    /// Bodies are read with explicit limits per route.
    public var maxUploadSize: Int { 1 << 30 }
}

/// An error as the API reports it: `{"error": {"code": …, "message": …}}`.
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, code: "bad_request", message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, code: "not_found", message: message) }
    static func forbidden(_ message: String) -> APIError { APIError(status: .forbidden, code: "forbidden", message: message) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: ["error": ["code": code, "message": message]], options: [.sortedKeys])
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"loam\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns every failure into the API's JSON error; library errors keep their message (they name the
/// input, never a server path), anything unexpected becomes a bare 500. Also counts requests for /metrics.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let metrics: Metrics

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as MLflowError {  // the MLflow routes answer in MLflow's error shape
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound && Self.isMLflow(request.uri.path) {
            // A route of MLflow's API that Loam does not serve: MLflow's shape, so its client raises a clear MlflowException.
            response = try MLflowError(code: "ENDPOINT_NOT_FOUND", message: "\(request.method.rawValue) \(request.uri.path) is not served by Loam's MLflow API")
                .response(from: request, context: context)
        } catch {
            response = try Self.apiError(error, context: context).response(from: request, context: context)
        }
        metrics.request(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
                        seconds: (ContinuousClock.now - start).seconds)
        return response
    }

    static func isMLflow(_ path: String) -> Bool {
        ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/3.0/mlflow"].contains { path.hasPrefix($0) }
    }

    static func apiError(_ error: any Error, context: ServerContext) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as any HTTPResponseError where e.status == .contentTooLarge:  // also NIO's too-many-bytes from collectBody
            return APIError(status: .contentTooLarge, code: "payload_too_large", message: "the request body is larger than this route accepts")
        case let e as HTTPError:
            return APIError(status: e.status, code: e.status == .notFound ? "not_found" : "bad_request", message: e.body ?? e.status.reasonPhrase)
        case let e as SQLError: return .badRequest(e.description)
        case let e as TableError:
            switch e {
            case .unknownDataset, .unknownRef, .unknownColumn: return .notFound(e.description)
            case .corrupt: return internalError(error, context: context)
            default: return .badRequest(e.description)
            }
        case let e as StorageError:
            switch e {
            case .refNotFound, .objectNotFound: return .notFound(e.description)
            case .refConflict, .refExists: return APIError(status: .conflict, code: "conflict", message: e.description)
            case .diskFull: return APIError(status: .insufficientStorage, code: "disk_full", message: e.description)
            case .io: return internalError(error, context: context)
            default: return .badRequest(e.description)
            }
        case let e as LoamError:
            switch e {
            case .writeConflict, .serializationFailure, .contention: return APIError(status: .conflict, code: "conflict", message: e.description)
            default: break
            }
            if case .notARepository = e { return internalError(error, context: context) }
            if case .outsideScope = e { return .forbidden(e.description) }
            return .badRequest(e.description)
        case let e as FormatError: return .badRequest(e.description)
        case let e as LabelError:
            switch e {
            case .notFound: return .notFound(e.description)
            case .forbidden: return .forbidden(e.description)
            default: return .badRequest(e.description)
            }
        case let e as QualityError:
            switch e {
            case .notFound: return .notFound(e.description)
            case .gateFailed: return APIError(status: .unprocessableContent, code: "gate_failed", message: e.description)
            case .invalid: return .badRequest(e.description)
            }
        case let e as StatementStopped:
            if case .outOfMemory = e { return APIError(status: .insufficientStorage, code: "memory_limit", message: e.description) }
            return APIError(status: .requestTimeout, code: "statement_timeout", message: e.description)
        default: return internalError(error, context: context)
        }
    }

    static func internalError(_ error: any Error, context: ServerContext) -> APIError {
        context.logger.error("request failed: \(error)")
        return APIError(status: .internalServerError, code: "internal", message: "internal error (logged on the server)")
    }
}

/// Checks `Authorization: Bearer …` on every route it guards.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let repository: Repository
    let anonymous: Bool
    let maskingKey: [UInt8]

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        var context = context
        if anonymous {
            context.grant = Grant(user: "anonymous", role: .admin, dataset: nil)
        } else {
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
                throw APIError(status: .unauthorized, code: "unauthorized", message: "send a token: Authorization: Bearer loam_… (create one with `loam token create`)")
            }
            let presented: Grant?
            do { presented = try await repository.authenticate(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)) } catch LoamError.tokenExpired(let message) {
                throw APIError(status: .unauthorized, code: "unauthorized", message: message)
            }
            guard let grant = presented else {
                throw APIError(status: .unauthorized, code: "unauthorized", message: "the token is not valid (unknown, revoked or mistyped)")
            }
            context.grant = grant
            // Writes made by this request name the token's user as their author; reads are masked for its role.
            return try await ReadPolicy.$role.withValue(grant.role.rawValue) {
                try await ReadPolicy.$hashKey.withValue(maskingKey) {
                    try await Repository.$actingUser.withValue(grant.user) { try await audited(request, context, grant.user, next) }
                }
            }
        }
        return try await audited(request, context, "anonymous", next)
    }

    /// Runs the request as an audited action (its writes' entries name the user and the route), and records a
    /// successful read (GET) as an entry of its own. The query string is left out: it may hold values.
    func audited(_ request: Request, _ context: ServerContext, _ user: String,
                 _ next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        let route = "\(request.method) \(request.uri.path)"
        let response = try await AuditContext.$current.withValue(AuditContext(user: user, command: route)) { try await next(request, context) }
        if request.method == .get, response.status.code < 400, let log = repository.meta as? any AuditLog {
            try await AuditContext.$current.withValue(AuditContext(user: user, command: route)) {
                try await log.appendAudit(action: "read", target: request.uri.path, detail: "")
            }
        }
        return response
    }
}

extension ServerContext {
    /// The grant, which must cover `role` on `dataset` (nil: a repository-wide route).
    func require(_ role: Role, dataset: String? = nil) throws {
        guard let grant else { throw APIError(status: .unauthorized, code: "unauthorized", message: "send a token") }
        guard grant.allows(role, dataset: dataset) else {
            let scope = grant.dataset.map { "dataset '\($0)'" } ?? "the repository"
            throw APIError.forbidden("the token of '\(grant.user)' is a \(grant.role.rawValue) token for \(scope); this needs \(role.rawValue)"
                                     + (dataset.map { " on dataset '\($0)'" } ?? " on the whole repository"))
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension HTTPResponse.Status {
    /// 507: the server has no room for what the request needs (disk, or the statement's memory_limit).
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
}
