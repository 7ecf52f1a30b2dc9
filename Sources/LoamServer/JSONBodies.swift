import Foundation
import Hummingbird
import LoamFormat

/// A JSON response with sorted keys.
func jsonResponse(_ value: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// A request body of at most `limit` bytes as a JSON object's members (an empty body is an empty object); nil
/// when it is not one. Parsed with Loam's own JSON parser: several times faster than JSONSerialization on a
/// 1,000-metric batch.
func jsonMembers(_ request: Request, limit: Int) async throws -> [(String, JSONValue)]? {
    var request = request
    let body = try await request.collectBody(upTo: limit)
    if body.readableBytes == 0 { return [] }
    guard let value = body.withUnsafeReadableBytes({ try? JSONParser.parse($0) }), case .object(let members) = value else { return nil }
    return members
}

/// The same body as Foundation values, as most handlers read it.
func jsonObject(_ request: Request, limit: Int) async throws -> [String: Any]? {
    try await jsonMembers(request, limit: limit).map { foundationValue(.object($0)) as? [String: Any] ?? [:] }
}

/// A JSON value as handlers read it: String, NSNumber, [Any], [String: Any], NSNull.
func foundationValue(_ value: JSONValue) -> Any {
    switch value {
    case .null: return NSNull()
    case .bool(let b): return NSNumber(value: b)
    case .int(let i): return NSNumber(value: i)
    case .uint(let u): return NSNumber(value: u)
    case .double(let d): return NSNumber(value: d)
    case .string(let s): return s
    case .array(let items): return items.map(foundationValue)
    case .object(let members): return Dictionary(members.map { ($0.0, foundationValue($0.1)) }, uniquingKeysWith: { $1 })
    }
}

/// A request's query parameters, in order (a name may repeat).
struct FormQuery: Sequence {
    let pairs: [(key: Substring, value: Substring)]

    func get(_ name: String) -> String? { pairs.first { $0.key == name }.map { String($0.value) } }
    func getAll(_ name: String) -> [String] { pairs.filter { $0.key == name }.map { String($0.value) } }
    func makeIterator() -> IndexingIterator<[(key: Substring, value: Substring)]> { pairs.makeIterator() }
}

extension Request {
    /// The query string as HTML forms encode it: `+` is a space, then percent-decoding
    /// (Python's urlencode and the `requests` library send spaces as `+`).
    var formQuery: FormQuery {
        guard let query = uri.query, !query.isEmpty else { return FormQuery(pairs: []) }
        func decode(_ part: Substring) -> Substring {
            let spaced = part.replacingOccurrences(of: "+", with: " ")
            return Substring(spaced.removingPercentEncoding ?? spaced)
        }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { item -> (key: Substring, value: Substring) in
            guard let eq = item.firstIndex(of: "=") else { return (decode(item), "") }
            return (decode(item[..<eq]), decode(item[item.index(after: eq)...]))
        }
        return FormQuery(pairs: pairs)
    }
}
