import Hummingbird
import LoamWeb

/// Loam's web pages (`LoamWeb`): static files, served without a token — the page asks for one and sends it
/// with each API call. A strict content security policy keeps the pages to their own files.
struct WebController {
    static let policy = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

    func register(on router: Router<ServerContext>) {
        for (path, file) in WebFront.pages {
            router.get(RouterPath(path)) { _, _ in try Self.serve(file) }
        }
        router.get("/web/:file") { _, context in try Self.serve(try context.parameters.require("file")) }
    }

    static func serve(_ name: String) throws -> Response {
        guard let (type, bytes) = WebFront.file(name) else { throw APIError.notFound("no page file '\(name)'") }
        return Response(status: .ok, headers: [.contentType: type, .contentSecurityPolicy: policy, .xContentTypeOptions: "nosniff",
                                               .cacheControl: "no-cache"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
