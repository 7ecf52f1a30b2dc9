import Foundation
import Hummingbird
import Loam
import LoamFormat

/// One resource's routes: the table of (method, path) as `openapi.json` documents them
/// (`{name}` for parameters), and a handler that only translates between HTTP and one
/// library call. Each handler says the role it needs.
protocol Controller: Sendable {
    var server: LoamServer { get }
    static var table: [(method: String, path: String)] { get }
    func respond(_ path: String, _ request: Request, _ context: ServerContext) async throws -> Response
}

extension Controller {
    var repository: Repository { server.repository }

    func register(on api: RouterGroup<ServerContext>) {
        for (method, path) in Self.table {
            // Hummingbird spells parameters `:name`.
            let pattern = RouterPath(path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: ""))
            api.on(pattern, method: HTTPRequest.Method(rawValue: method) ?? .post) { request, context in try await respond(path, request, context) }
        }
    }

    func json(_ value: Any, status: HTTPResponse.Status = .ok) throws -> Response { try jsonResponse(value, status: status) }

    /// A resource view, written by the library's one JSON writer (the CLI's `--json` prints the same).
    func json(_ view: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONOutput.data(view))))
    }

    func arrow(_ schema: Schema, _ batches: [RecordBatch]) throws -> Response {
        let bytes = try IPCWriter.bytes(schema: schema, batches: batches.filter { $0.length > 0 }, format: .stream)
        server.metrics.streamed(bytes.count)
        return Response(status: .ok, headers: [.contentType: "application/vnd.apache.arrow.stream"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func jsonBody(_ request: Request) async throws -> [String: Any] {
        guard let object = try await jsonObject(request, limit: server.limits.jsonBytes) else { throw APIError.badRequest("the body must be a JSON object") }
        return object
    }

    func integer(_ text: String?, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw APIError.badRequest("?\(name)=\(text) must be an integer in \(range.lowerBound)…\(range.upperBound == Int.max ? "" : String(range.upperBound))")
        }
        return n
    }

    func flag(_ text: String?, _ name: String, default value: Bool) throws -> Bool {
        switch text?.lowercased() {
        case nil: return value
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw APIError.badRequest("?\(name)= takes true or false, not \(text!)")
        }
    }
}

/// Collects what the IPC writer produces, to be sent a batch at a time.
final class ChunkSink: ByteSink {
    private var pending: [UInt8] = []

    func write(_ bytes: UnsafeRawBufferPointer) throws { pending.append(contentsOf: bytes) }

    var count: Int { pending.count }

    func take() -> [UInt8] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }
}

/// The OpenAPI 3.1 document, kept in the repository beside this file.
enum OpenAPI {
    static let document: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else { return Array("{}".utf8) }
        return Array(data)
    }()
}
