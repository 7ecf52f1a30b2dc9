import Crypto
import Foundation
import LoamFormat
import LoamStorage
import NIOCore

/// The ObjectStore protocol over any S3-compatible server: objects at `<prefix>objects/ab/cdef…` in one
/// bucket, the layout of the local store. A small object is one PUT with `If-None-Match: *` (a 412
/// means the same content is there already); a staged object larger than `partSize` is uploaded as a
/// multipart upload, one part in memory at a time, and aborted if any part fails. Reads are GETs
/// (ranged for `read(_:range:)`); listing is ListObjectsV2, page by page.
///
/// ```swift
/// let store = try S3ObjectStore(url: "s3://training/pets", staging: tmp)   // endpoint and keys from AWS_*
/// let id = try await store.put(Array("hello".utf8))
/// ```
public final class S3ObjectStore: ObjectStore {
    public let client: S3Client
    /// The key prefix, empty or ending in "/".
    public let prefix: String
    /// Where staged objects are written before upload (a local folder).
    public let staging: URL
    /// Staged objects above this size go up as a multipart upload of parts this size (at least 5 MiB, S3's minimum).
    public let partSize: Int

    public init(client: S3Client, prefix: String, staging: URL, partSize: Int = 16 << 20) throws {
        guard partSize >= 5 << 20 else { throw CloudError.configuration("an S3 multipart part must be at least 5 MiB (got \(partSize) bytes)") }
        self.client = client
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.staging = staging
        self.partSize = partSize
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
    }

    /// `s3://bucket/prefix`, with the endpoint and credentials from the environment (`S3Endpoint`, `S3Credentials`).
    public convenience init(url: String, staging: URL, env: [String: String] = ProcessInfo.processInfo.environment) throws {
        let (bucket, prefix) = try Self.parse(url)
        guard let credentials = try S3Credentials.fromEnvironment(env) else {
            throw CloudError.configuration("no S3 credentials for \(url): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials (AWS_PROFILE)")
        }
        try self.init(client: S3Client(endpoint: S3Endpoint.fromEnvironment(env), bucket: bucket, credentials: credentials), prefix: prefix, staging: staging)
    }

    /// The bucket and the key prefix of `s3://bucket/prefix/`.
    public static func parse(_ url: String) throws -> (bucket: String, prefix: String) {
        guard url.hasPrefix("s3://") else { throw CloudError.configuration("'\(url)' is not an S3 location: give s3://bucket/prefix") }
        let rest = url.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        var prefix = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
        while prefix.hasSuffix("//") { prefix.removeLast() }
        guard S3Client.validBucket(bucket) else {
            throw CloudError.configuration("'\(bucket)' in \(url) is not a bucket name: 3–63 lowercase letters, digits, '.' and '-'")
        }
        guard !prefix.contains("//"), !prefix.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else {
            throw CloudError.configuration("the prefix of \(url) has an empty, '.' or '..' part")
        }
        return (bucket, prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/")
    }

    public var isLocal: Bool { false }

    func key(_ id: ObjectID) -> String {
        let hex = id.hex
        return prefix + "objects/" + hex.prefix(2) + "/" + hex.dropFirst(2)
    }

    public func put(_ bytes: [UInt8]) async throws -> ObjectID {
        let id = bytes.withUnsafeBytes { ObjectID.hash($0) }
        try await upload(id, ByteBuffer(bytes: bytes))
        return id
    }

    /// One PUT that creates the object only if it is absent: 412 (it exists) is success, the content being the same.
    /// The signed payload hash is the id itself (both are the bytes' SHA-256), so the body is not hashed twice.
    private func upload(_ id: ObjectID, _ body: ByteBuffer) async throws {
        FailPoint.hit("object-sealed")
        _ = try await client.send(.PUT, key: key(id), headers: ["if-none-match": "*"], body: body, payloadHash: id.hex, accept: [200, 201, 204, 412])
        FailPoint.hit("object-published")
    }

    /// The repository's descriptor beside its objects, `<prefix>loam.json` (which catalog holds its refs), so that
    /// readers given only the S3 location — Spark's `load("s3://bucket/prefix")` — find the rest.
    public func writeDescriptor(_ json: [UInt8]) async throws {
        _ = try await client.send(.PUT, key: prefix + "loam.json", body: ByteBuffer(bytes: json), accept: [200, 201, 204])
    }

    public func stage() throws -> StagedObject { try StagedObject.temporary(in: staging) }

    public func publish(_ staged: StagedObject) async throws -> ObjectID {
        defer { staged.discard() }
        let id = try staged.seal()
        let size = staged.byteCount
        if size <= partSize {
            let bytes = try Data(contentsOf: staged.url)
            try await upload(id, ByteBuffer(bytes: bytes))
            return id
        }
        if try await contains(id) { return id }
        try await multipartUpload(id, file: staged.url, size: size)
        return id
    }

    /// CreateMultipartUpload, one UploadPart per `partSize` bytes read from the file, CompleteMultipartUpload;
    /// AbortMultipartUpload when any step fails, so no parts are left behind.
    private func multipartUpload(_ id: ObjectID, file: URL, size: Int) async throws {
        let key = key(id)
        let created = try await client.send(.POST, key: key, query: ["uploads": ""], accept: [200])
        guard let upload = XML.first("UploadId", in: created.text) else {
            throw CloudError.s3("POST \(client.location(key))?uploads answered without an UploadId: \(created.text.prefix(200))")
        }
        do {
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            var parts: [(Int, String)] = []
            var number = 1
            while let chunk = try handle.read(upToCount: partSize), !chunk.isEmpty {
                let answer = try await client.send(.PUT, key: key, query: ["partNumber": String(number), "uploadId": upload],
                                                   body: ByteBuffer(bytes: chunk), accept: [200])
                guard let etag = answer.headers.first(name: "etag") else {
                    throw CloudError.s3("PUT part \(number) of \(client.location(key)) answered without an ETag")
                }
                parts.append((number, etag))
                number += 1
            }
            FailPoint.hit("object-sealed")
            let body = "<CompleteMultipartUpload>" + parts.map { "<Part><PartNumber>\($0.0)</PartNumber><ETag>\(XML.escape($0.1))</ETag></Part>" }.joined()
                + "</CompleteMultipartUpload>"
            let done = try await client.send(.POST, key: key, query: ["uploadId": upload], body: ByteBuffer(string: body), accept: [200])
            // S3 may answer 200 and put the error in the body.
            if done.text.contains("<Error>") { throw CloudError.s3("completing the upload of \(client.location(key)): \(client.describe(done))") }
            FailPoint.hit("object-published")
        } catch {
            _ = try? await client.send(.DELETE, key: key, query: ["uploadId": upload], accept: [200, 204, 404])
            throw error
        }
    }

    public func get(_ id: ObjectID) async throws -> ByteView {
        let answer = try await client.send(.GET, key: key(id), accept: [200, 404])
        guard answer.status == 200 else { throw StorageError.objectNotFound(id.hex) }
        return Self.view(answer.body)
    }

    public func read(_ id: ObjectID, range: Range<Int>) async throws -> ByteView {
        guard range.lowerBound >= 0 else { throw StorageError.invalid("a byte range cannot start before 0 (\(range))") }
        if range.isEmpty { return .empty }
        let answer = try await client.send(.GET, key: key(id), headers: ["range": "bytes=\(range.lowerBound)-\(range.upperBound - 1)"],
                                           accept: [200, 206, 404, 416])
        switch answer.status {
        case 404: throw StorageError.objectNotFound(id.hex)
        case 206 where answer.body.readableBytes == range.count: return Self.view(answer.body)
        case 200 where answer.body.readableBytes >= range.upperBound:  // a server that ignores Range sends the whole object
            return Self.view(answer.body).slice(range.lowerBound, range.count)
        default:
            throw StorageError.invalid("bytes \(range.lowerBound)..<\(range.upperBound) pass the end of object \(id.short)")
        }
    }

    /// The body as a `ByteView`, without a copy: the view keeps the buffer alive, and nothing writes to it again.
    static func view(_ buffer: ByteBuffer) -> ByteView {
        let count = buffer.readableBytes
        guard count > 0, let base = buffer.withUnsafeReadableBytes({ $0.baseAddress }) else { return .empty }
        return ByteView(storage: ByteStorage(base: base, count: count) { _, _ in withExtendedLifetime(buffer) {} })
    }

    public func contains(_ id: ObjectID) async throws -> Bool {
        try await client.send(.HEAD, key: key(id), accept: [200, 404]).status == 200
    }

    public func ids(withPrefix prefix: String) async throws -> [ObjectID] {
        let lower = prefix.lowercased()
        guard lower.count >= 4, lower.allSatisfy(\.isHexDigit) else { return [] }
        let start = self.prefix + "objects/" + lower.prefix(2) + "/" + lower.dropFirst(2)
        return try await listing(under: start).map(\.id).sorted()
    }

    public func delete(_ id: ObjectID) async throws {
        _ = try await client.send(.DELETE, key: key(id), accept: [200, 204, 404])
    }

    public func list() async throws -> [ObjectInfo] { try await listing(under: prefix + "objects/") }

    /// Every object whose key starts with `start`, through ListObjectsV2's pages.
    private func listing(under start: String) async throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = ["list-type": "2", "prefix": start, "max-keys": "1000"]
            if let token { query["continuation-token"] = token }
            let page = try await client.send(.GET, key: nil, query: query, accept: [200]).text
            for entry in XML.all("Contents", in: page) {
                guard let key = XML.first("Key", in: entry), key.hasPrefix(prefix + "objects/") else { continue }
                let parts = key.dropFirst(prefix.count + "objects/".count).split(separator: "/")
                guard parts.count == 2, let id = try? ObjectID(hex: String(parts[0] + parts[1])) else { continue }
                result.append(ObjectInfo(id: id, bytes: XML.first("Size", in: entry).flatMap { Int($0) } ?? 0,
                                         modified: XML.first("LastModified", in: entry).flatMap(Self.date) ?? Date()))
            }
            token = XML.first("IsTruncated", in: page) == "true" ? XML.first("NextContinuationToken", in: page) : nil
        } while token != nil
        return result
    }

    /// S3's `LastModified` (`2026-12-01T03:00:00.000Z`, some servers without the fraction).
    static func date(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// Staged files of writers that died before they uploaded.
    public func removeStaleTemporaryFiles(olderThan age: TimeInterval) {
        StagedObject.removeStale(in: staging, olderThan: age)
    }
}
