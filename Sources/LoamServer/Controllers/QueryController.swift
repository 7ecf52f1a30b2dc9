import Foundation
import Hummingbird
import Loam
import LoamFormat
import LoamQuery
import LoamStorage
import LoamTable

/// SQL over the repository: a query answers Arrow, a write answers what it committed.
struct QueryController: Controller {
    let server: LoamServer

    static let table: [(method: String, path: String)] = [("POST", "/api/v1/query")]

    func respond(_ path: String, _ request: Request, _ context: ServerContext) async throws -> Response {
        let body = try await jsonBody(request)
        guard let sql = body["sql"] as? String else { throw APIError.badRequest("the body needs \"sql\": \"SELECT …\"") }
        let ref = body["ref"] as? String ?? "HEAD"
        var timeout = server.limits.statementSeconds
        if let asked = body["timeout_seconds"] {
            guard let seconds = (asked as? NSNumber)?.doubleValue, seconds > 0, seconds.isFinite else {
                throw APIError.badRequest("\"timeout_seconds\" takes a positive number of seconds")
            }
            timeout = min(timeout, seconds)  // may lower the server's limit, not raise it
        }
        let statement = try SQLStatement(sql)  // parsed once: the role is checked on what will run
        try context.require(statement.isQuery ? .reader : .writer, dataset: context.grant?.dataset)
        let repository = self.repository, channel = context.channel
        // A token for one dataset runs SQL over that dataset and its labels, and nothing else.
        let scope = context.grant?.dataset.map { Set([$0, $0 + "__labels"]) }
        let role = ReadPolicy.role, key = ReadPolicy.hashKey  // masking, carried onto the statement's thread
        let outcome = try await server.queries.run(timeout: timeout, memoryLimit: server.limits.statementMemory, channel: channel) {
            try await ReadPolicy.$role.withValue(role) {
                try await ReadPolicy.$hashKey.withValue(key) {
                    try await Repository.$datasetScope.withValue(scope) { try await repository.execute(statement, at: ref) }
                }
            }
        }
        if let result = outcome.query { return try arrow(result.schema, result.batches) }
        if outcome.commit != nil { server.metrics.committed() }
        return try json(WriteOutcome(outcome))
    }
}
