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
