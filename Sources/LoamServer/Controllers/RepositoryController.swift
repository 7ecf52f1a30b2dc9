import Foundation
import Hummingbird
import Loam
import LoamFormat
import LoamQuery
import LoamStorage
import LoamTable

/// The repository, its refs and its commits.
struct RepositoryController: Controller {
    let server: LoamServer

    static let table: [(method: String, path: String)] = [
        ("GET", "/api/v1/repository"), ("GET", "/api/v1/refs"), ("GET", "/api/v1/log"), ("GET", "/api/v1/commits/{id}"),
    ]

    func respond(_ path: String, _ request: Request, _ context: ServerContext) async throws -> Response {
        switch path {
        case "/api/v1/repository": return try await repositoryInfo(context)
        case "/api/v1/refs": return try await refs(context)
        case "/api/v1/log": return try await log(request, context)
        default: return try await commit(context)
        }
    }

    func repositoryInfo(_ context: ServerContext) async throws -> Response {
        try context.require(.reader)
        return try json(try await repository.repositoryView())
    }

    func refs(_ context: ServerContext) async throws -> Response {
        try context.require(.reader)
        let view = try await repository.repositoryView()
        return try json(["branches": view.branches, "tags": view.tags])
    }

    func log(_ request: Request, _ context: ServerContext) async throws -> Response {
        try context.require(.reader)
        let q = request.formQuery
        let limit = try integer(q.get("limit"), "limit", default: 100, range: 1...10_000)
        return try json(try await repository.logView(from: q.get("ref") ?? "HEAD", limit: limit))
    }

    func commit(_ context: ServerContext) async throws -> Response {
        try context.require(.reader)
        return try json(try await repository.commitView(try context.parameters.require("id"), changes: true))
    }
}
