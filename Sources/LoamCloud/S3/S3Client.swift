import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// Where a bucket is served: the endpoint (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else AWS's regional
/// endpoint) and the region that signatures name (`AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1).
/// A custom endpoint (SeaweedFS, MinIO, Ceph) is addressed path-style (`http://host:port/bucket/key`),
/// AWS virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`).
public struct S3Endpoint: Sendable, Equatable {
    public let scheme: String
    public let host: String
    public let port: Int?
    public let region: String
    public let pathStyle: Bool

    public init(url: String, region: String, pathStyle: Bool = true) throws {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme), let host = parsed.host, !host.isEmpty else {
            throw CloudError.configuration("'\(url)' is not an S3 endpoint: give one like http://127.0.0.1:8333 (AWS_ENDPOINT_URL)")
        }
        (self.scheme, self.host, self.port, self.region, self.pathStyle) = (scheme, host, parsed.port, region, pathStyle)
    }

    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Endpoint {
        let region = env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "us-east-1"
        if let url = env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"], !url.isEmpty {
            return try S3Endpoint(url: url, region: region)
        }
        return try S3Endpoint(url: "https://s3.\(region).amazonaws.com", region: region, pathStyle: false)
    }

    /// The Host header and the URL's start for `bucket`.
    func authority(bucket: String) -> String {
        let name = pathStyle ? host : "\(bucket).\(host)"
        return port.map { "\(name):\($0)" } ?? name
    }
}

/// One bucket over HTTP: signed requests with retries. Everything S3ObjectStore sends goes through `send`.
public struct S3Client: Sendable {
    public let endpoint: S3Endpoint
    public let bucket: String
    let signer: SigV4
    let http: HTTPClient
    /// Attempts per request, counting the first (5xx, 429, 409 and network errors are retried with backoff).
    let attempts: Int

    public init(endpoint: S3Endpoint, bucket: String, credentials: S3Credentials, attempts: Int = 6) throws {
        guard Self.validBucket(bucket) else {
            throw CloudError.configuration("'\(bucket)' is not a bucket name: 3–63 lowercase letters, digits, '.' and '-'")
        }
        self.endpoint = endpoint
        self.bucket = bucket
        signer = SigV4(credentials: credentials, region: endpoint.region)
        http = Self.shared
        self.attempts = max(1, attempts)
    }

    /// One HTTP client for the process (never shut down, like AsyncHTTPClient's own singleton). A failed
    /// connection fails its request at once — `send` retries with backoff — rather than the pool retrying until
    /// the request's deadline; up to 32 connections per server, for parallel fragment reads.
    static let shared: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 32
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static func validBucket(_ name: String) -> Bool {
        (3...63).contains(name.count) && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 }
    }

    public struct Response: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: ByteBuffer
        public var text: String { String(buffer: body) }
    }

    /// Sends a signed request for `key` (nil: the bucket itself) and returns the answer when its status is in
    /// `accept`; any other status is a `CloudError.s3` naming the request, S3's code and what to check.
    /// `payloadHash`: the body's SHA-256 in hex when the caller knows it already (an object's id is exactly that).
    public func send(_ method: HTTPMethod, key: String?, query: [String: String] = [:], headers: [String: String] = [:],
                     body: ByteBuffer? = nil, payloadHash knownHash: String? = nil, accept: Set<Int>,
                     timeout: TimeAmount = .seconds(120)) async throws -> Response {
        let path = "/" + (endpoint.pathStyle ? bucket + (key.map { "/" + $0 } ?? "") : (key ?? ""))
        let authority = endpoint.authority(bucket: bucket)
        let payloadHash = knownHash ?? body.map { buffer in buffer.withUnsafeReadableBytes { SigV4.hex(SHA256.hash(data: $0)) } } ?? SigV4.emptyPayloadHash
        let queryText = SigV4.canonicalQuery(query)
        let url = "\(endpoint.scheme)://\(authority)\(SigV4.encodePath(path))" + (queryText.isEmpty ? "" : "?" + queryText)
        var lastFailure = ""
        for attempt in 0..<attempts {
            if attempt > 0 {
                // Exponential backoff with full jitter: 50 ms, 100 ms, … capped at 2 s.
                let ceiling = min(2_000, 50 << (attempt - 1))
                try await Task.sleep(for: .milliseconds(Int.random(in: ceiling / 2...ceiling)))
            }
            var request = HTTPClientRequest(url: url)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.headers.replaceOrAdd(name: "host", value: authority)
            for (name, value) in signer.sign(method: method.rawValue, host: authority, path: path, query: query, headers: headers,
                                             payloadHash: payloadHash, date: Date()) {
                request.headers.replaceOrAdd(name: name, value: value)
            }
            if let body { request.body = .bytes(body) }
            let response: HTTPClientResponse
            let collected: ByteBuffer
            do {
                response = try await http.execute(request, timeout: timeout)
                // Into one buffer of the announced size: no regrowth (and its copies) as a large object arrives.
                var body = ByteBufferAllocator().buffer(capacity: response.headers.first(name: "content-length").flatMap { Int($0) } ?? 0)
                for try await chunk in response.body { body.writeImmutableBuffer(chunk) }
                collected = body
            } catch {
                lastFailure = "\(error)"
                continue  // connection refused or reset, timeout: retried
            }
            let status = Int(response.status.code)
            if accept.contains(status) { return Response(status: status, headers: response.headers, body: collected) }
            let answer = Response(status: status, headers: response.headers, body: collected)
            if status >= 500 || status == 429 || status == 409 {
                lastFailure = describe(answer)
                continue
            }
            throw failure(method, key, answer)
        }
        throw CloudError.s3("\(method.rawValue) \(location(key)) failed \(attempts) times: \(lastFailure); check that the S3 endpoint "
                            + "\(endpoint.scheme)://\(endpoint.authority(bucket: bucket)) is up (AWS_ENDPOINT_URL)")
    }

    func location(_ key: String?) -> String { "s3://\(bucket)/\(key ?? "")" }

    /// S3's error code and message from an error body.
    func describe(_ response: Response) -> String {
        let text = response.text
        let code = XML.first("Code", in: text), message = XML.first("Message", in: text)
        return "HTTP \(response.status)" + (code.map { " \($0)" } ?? "") + (message.map { ": \($0)" } ?? "")
    }

    func failure(_ method: HTTPMethod, _ key: String?, _ response: Response) -> CloudError {
        let code = XML.first("Code", in: response.text)
        let what = "\(method.rawValue) \(location(key)): \(describe(response))"
        switch (response.status, code) {
        case (403, _):
            return .s3("\(what) — S3 refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's policy")
        case (404, "NoSuchBucket"):
            return .s3("\(what) — there is no bucket '\(bucket)' at \(endpoint.scheme)://\(endpoint.authority(bucket: bucket)): create it first")
        case (400, "AuthorizationHeaderMalformed"), (400, "InvalidRequest"):
            return .s3("\(what) — check AWS_REGION (signing for '\(endpoint.region)')")
        default:
            return .s3(what)
        }
    }
}

/// The few XML shapes S3 answers with (list results, upload ids, errors): flat tags, read by scanning.
enum XML {
    static func first(_ tag: String, in text: String) -> String? { all(tag, in: text).first }

    static func all(_ tag: String, in text: String) -> [String] {
        var out: [String] = []
        var rest = text[...]
        let open = "<\(tag)>", close = "</\(tag)>"
        while let start = rest.range(of: open), let end = rest[start.upperBound...].range(of: close) {
            out.append(unescape(String(rest[start.upperBound..<end.lowerBound])))
            rest = rest[end.upperBound...]
        }
        return out
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
