import Foundation
import Hummingbird
import Loam
import LoamFormat
import LoamQuery
import LoamStorage
import LoamTable

/// Prometheus metrics and the OpenAPI document.
struct ServiceController: Controller {
    let server: LoamServer

    static let table: [(method: String, path: String)] = [("GET", "/metrics"), ("GET", "/api/v1/openapi.json")]

    func respond(_ path: String, _ request: Request, _ context: ServerContext) async throws -> Response {
        try context.require(.reader)
        if path == "/metrics" {
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: server.metrics.render())))
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPI.document)))
    }
}
