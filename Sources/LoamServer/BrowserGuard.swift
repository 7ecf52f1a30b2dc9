import Foundation
import HTTPTypes
import Hummingbird
import Loam

/// Keeps web pages on other sites from using the server through a visitor's browser,
/// in every mode (it matters most for `--anonymous`, where a request needs no token):
///
/// - **Host allow-list** (DNS rebinding): on a loopback address the `Host` header must
///   name loopback (`localhost`, `127.0.0.1`, `[::1]`) or an `--allowed-host`; on a
///   wildcard address, any host unless `--allowed-host` names some.
/// - **Origin**: a request a browser marks as coming from a page (`Origin`, or
///   `Sec-Fetch-Site`) must come from this server's own origin (or an `--allowed-origin`).
/// - **State changes from a browser** (POST, PUT, PATCH, DELETE) must carry a JSON or Arrow
///   body or the `X-Loam-Request` header, which no form and no cross-site "simple
///   request" can send (the CSRF token of the coming pages' forms travels in it).
///
/// Programs (curl, the Python client, MLflow's) send no `Origin` and pass as before.
struct BrowserGuard: RouterMiddleware {
    typealias Context = ServerContext
    /// Lowercased host names without port; nil: any host.
    let allowedHosts: Set<String>?
    /// Extra origins (`scheme://host[:port]`, lowercased) a page may call from.
    let allowedOrigins: Set<String>

    static let loopback: Set<String> = ["localhost", "127.0.0.1", "::1"]
    static let customHeader = HTTPField.Name("X-Loam-Request")!

    init(bind host: String, allowedHosts extra: [String], allowedOrigins: [String]) {
        let wildcard = host == "0.0.0.0" || host == "::" || host.isEmpty
        if wildcard && extra.isEmpty {
            allowedHosts = nil
        } else {
            allowedHosts = Set(extra.map { $0.lowercased() }).union(wildcard ? [] : Self.loopback.union([host.lowercased()]))
        }
        self.allowedOrigins = Set(allowedOrigins.map { $0.lowercased() })
    }

    /// The host name (lowercased, without brackets) and port (the scheme's default when absent)
    /// of a `Host` header or an origin's `host[:port]`.
    static func parts(_ authority: Substring, defaultPort: String = "80") -> (host: String, port: String) {
        let text = authority.lowercased()
        if text.hasPrefix("[") {
            let host = String(text.dropFirst().prefix { $0 != "]" })
            let rest = text.drop { $0 != "]" }.dropFirst()
            return (host, rest.hasPrefix(":") ? String(rest.dropFirst()) : defaultPort)
        }
        if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            return (String(text[..<colon]), String(text[text.index(after: colon)...]))
        }
        return (text, defaultPort)
    }

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        let authority = request.head.authority
        if let allowedHosts, let authority {
            let name = Self.parts(Substring(authority)).host
            guard allowedHosts.contains(name) else {
                throw APIError(status: .misdirectedRequest, code: "wrong_host",
                               message: "this server does not answer to the host name '\(Self.printable(name))'; use \(allowedHosts.sorted().first ?? "localhost"), or start it with --allowed-host \(Self.printable(name))")
            }
        }
        let origin = request.headers[.origin]
        let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased()
        if let origin {
            // scheme://host[:port], as browsers send it ("null" from sandboxed and file pages matches nothing).
            let scheme = origin.prefix { $0 != ":" }.lowercased()
            let theirs = origin.range(of: "://").map { Self.parts(origin[$0.upperBound...], defaultPort: scheme == "https" ? "443" : "80") }
            let own = authority.map { Self.parts(Substring($0)) }
            guard allowedOrigins.contains(origin.lowercased()) || (theirs != nil && own != nil && theirs! == own!) else {
                throw APIError.forbidden("requests from the web page at \(Self.printable(origin)) are refused: this server answers pages of its own origin only (start it with --allowed-origin \(Self.printable(origin)) to allow that one)")
            }
        } else if site == "cross-site" || site == "same-site" {
            throw APIError.forbidden("requests from web pages of other sites are refused")
        }
        let fromBrowser = origin != nil || site != nil
        if fromBrowser, [.post, .put, .patch, .delete].contains(request.method), request.headers[Self.customHeader] == nil {
            let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard type == "application/json" || type.hasPrefix("application/vnd.apache.arrow") else {
                throw APIError(status: .unsupportedMediaType, code: "csrf",
                               message: "a change from a web page must send JSON (Content-Type: application/json) or Arrow, or the X-Loam-Request header; a form or text/plain post is refused")
            }
        }
        return try await next(request, context)
    }

    /// Text from a request, safe to put in a message: control characters escaped, at most 200 characters.
    static func printable(_ text: String) -> String { TerminalText.escaped(String(text.prefix(200))) }
}
