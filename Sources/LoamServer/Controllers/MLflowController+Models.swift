import Foundation
import Hummingbird
import LoamTracking

/// MLflow 3's logged models (`/api/2.0/mlflow/logged-models…`), run outputs, and the model registry
/// (`registered-models/…`, `model-versions/…`), translated to and from `Tracker+Models`.
extension MLflowController {
    static let modelTable: [(method: String, path: String)] = [
        ("POST", "/api/2.0/mlflow/logged-models"), ("POST", "/api/2.0/mlflow/logged-models/search"),
        ("GET", "/api/2.0/mlflow/logged-models/{model_id}"), ("PATCH", "/api/2.0/mlflow/logged-models/{model_id}"),
        ("DELETE", "/api/2.0/mlflow/logged-models/{model_id}"), ("PATCH", "/api/2.0/mlflow/logged-models/{model_id}/tags"),
        ("DELETE", "/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}"), ("POST", "/api/2.0/mlflow/logged-models/{model_id}/params"),
        ("GET", "/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories"),
        ("POST", "/api/2.0/mlflow/runs/outputs"), ("POST", "/api/2.0/mlflow/runs/log-model"),
        ("POST", "/api/2.0/mlflow/registered-models/create"), ("POST", "/api/2.0/mlflow/registered-models/rename"),
        ("PATCH", "/api/2.0/mlflow/registered-models/update"), ("DELETE", "/api/2.0/mlflow/registered-models/delete"),
        ("GET", "/api/2.0/mlflow/registered-models/get"), ("GET", "/api/2.0/mlflow/registered-models/search"),
        ("POST", "/api/2.0/mlflow/registered-models/get-latest-versions"), ("GET", "/api/2.0/mlflow/registered-models/get-latest-versions"),
        ("POST", "/api/2.0/mlflow/registered-models/set-tag"), ("DELETE", "/api/2.0/mlflow/registered-models/delete-tag"),
        ("POST", "/api/2.0/mlflow/registered-models/alias"), ("DELETE", "/api/2.0/mlflow/registered-models/alias"),
        ("GET", "/api/2.0/mlflow/registered-models/alias"),
        ("POST", "/api/2.0/mlflow/model-versions/create"), ("PATCH", "/api/2.0/mlflow/model-versions/update"),
        ("POST", "/api/2.0/mlflow/model-versions/transition-stage"), ("DELETE", "/api/2.0/mlflow/model-versions/delete"),
        ("GET", "/api/2.0/mlflow/model-versions/get"), ("GET", "/api/2.0/mlflow/model-versions/search"),
        ("GET", "/api/2.0/mlflow/model-versions/get-download-uri"), ("POST", "/api/2.0/mlflow/model-versions/set-tag"),
        ("DELETE", "/api/2.0/mlflow/model-versions/delete-tag"),
    ]

    func respondModels(_ path: String, _ request: Request, _ context: ServerContext) async throws -> Response {
        let body = request.method == .get ? try query(request) : try await jsonBody(request)
        let route = path.dropFirst("/api/2.0/mlflow/".count)
        let method = request.method
        func modelID() throws -> String {
            guard let id = context.parameters.get("model_id"), !id.isEmpty else { throw MLflowError.invalid("missing model id in the path") }
            return id
        }
        switch (method, route) {
        case (.post, "logged-models"):
            let model = try await tracker.createLoggedModel(
                experimentID: try string(body, "experiment_id"), name: body["name"] as? String, sourceRunID: body["source_run_id"] as? String,
                modelType: body["model_type"] as? String, params: try tags(body["params"]), tags: try tags(body["tags"]), creator: context.grant?.user)
            return try json(["model": try await loggedModelJSON(model)])
        case (.post, "logged-models/search"):
            let ids = try list(body, "experiment_ids")
            guard !ids.isEmpty else { throw MLflowError.invalid("search needs at least one experiment id in 'experiment_ids'") }
            let order = try ((body["order_by"] as? [Any]) ?? []).map { item -> String in
                guard let o = item as? [String: Any], let field = o["field_name"] as? String else { throw MLflowError.invalid("each order_by needs a field_name") }
                return field + ((o["ascending"] as? Bool) == false ? " DESC" : " ASC")
            }
            let page = try await tracker.searchLoggedModels(experimentIDs: ids, ModelSearch(
                filter: (body["filter"] as? String) ?? "", orderBy: order, maxResults: try int(body, "max_results").map(Int.init), pageToken: body["page_token"] as? String))
            var models: [[String: Any]] = []
            for model in page.items { models.append(try await loggedModelJSON(model)) }
            return try json(paged(["models": models], page.nextPageToken))
        case (.get, "logged-models/{model_id}"):
            let allowDeleted = (body["allow_deleted"] as? String)?.lowercased() == "true"
            return try json(["model": try await loggedModelJSON(try await tracker.loggedModel(id: try modelID(), allowDeleted: allowDeleted))])
        case (.patch, "logged-models/{model_id}"):
            let raw = (body["status"]).map { "\($0)" } ?? ""
            guard let status = LoggedModel.Status(rawValue: raw) ?? (Int(raw)).flatMap({ [1: .pending, 2: .ready, 3: .uploadFailed][$0] }) else {
                throw MLflowError.invalid("status must be LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED, not '\(raw.prefix(40))'")
            }
            return try json(["model": try await loggedModelJSON(try await tracker.finalizeLoggedModel(id: try modelID(), status: status))])
        case (.delete, "logged-models/{model_id}"):
            try await tracker.deleteLoggedModel(id: try modelID())
            return try json([:])
        case (.patch, "logged-models/{model_id}/tags"):
            try await tracker.setLoggedModelTags(id: try modelID(), try tags(body["tags"]))
            return try json([:])
        case (.delete, "logged-models/{model_id}/tags/{tag_key}"):
            let key = context.parameters.get("tag_key")?.removingPercentEncoding ?? ""
            try await tracker.deleteLoggedModelTag(id: try modelID(), key: key)
            return try json([:])
        case (.post, "logged-models/{model_id}/params"):
            try await tracker.logLoggedModelParams(id: try modelID(), try tags(body["params"]))
            return try json([:])
        case (.get, "logged-models/{model_id}/artifacts/directories"):
            let model = try await tracker.loggedModel(id: try modelID())
            let base = Tracker.proxyPath(model.artifactURI)
            let sub = ((body["artifact_directory_path"] as? String) ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            let files = try await tracker.artifacts(in: sub.isEmpty || sub == "." ? base : base + "/" + sub, relativeTo: base)
            return try json(["root_uri": model.artifactURI, "files": files.map(artifactJSON)])
        case (.post, "runs/outputs"):
            let outputs = try ((body["models"] as? [Any]) ?? []).map { item -> ModelOutput in
                guard let o = item as? [String: Any] else { throw MLflowError.invalid("each model output must be a JSON object") }
                return ModelOutput(modelID: try string(o, "model_id"), step: try int(o, "step") ?? 0)
            }
            try await tracker.logOutputs(runID: try runID(body), outputs)
            return try json([:])
        case (.post, "runs/log-model"):
            try await tracker.recordLoggedModel(runID: try runID(body), modelJSON: try string(body, "model_json"))
            return try json([:])
        default:
            return try await respondRegistry(route, method, body, request, context)
        }
    }

    func respondRegistry(_ route: Substring, _ method: HTTPRequest.Method, _ body: [String: Any], _ request: Request,
                         _ context: ServerContext) async throws -> Response {
        let name = { try self.string(body, "name") }
        let version = { () throws -> Int64 in
            let text = try self.string(body, "version")
            guard let v = Int64(text), v > 0 else { throw MLflowError.invalid("version must be a positive whole number, not '\(text.prefix(40))'") }
            return v
        }
        switch (method, route) {
        case (.post, "registered-models/create"):
            let model = try await tracker.createRegisteredModel(name: try name(), description: (body["description"] as? String) ?? "",
                                                                tags: try tags(body["tags"]), user: context.grant?.user)
            return try json(["registered_model": try await registeredJSON(model)])
        case (.get, "registered-models/get"):
            return try json(["registered_model": try await registeredJSON(try await tracker.registeredModel(name: try name()))])
        case (.post, "registered-models/rename"):
            let model = try await tracker.renameRegisteredModel(name: try name(), to: try string(body, "new_name"))
            return try json(["registered_model": try await registeredJSON(model)])
        case (.patch, "registered-models/update"):
            let description = (body["description"] as? String) ?? ""
            let model = try await tracker.changeRegisteredModel(name: try name()) { $0.description = description }
            return try json(["registered_model": try await registeredJSON(model)])
        case (.delete, "registered-models/delete"):
            try await tracker.deleteRegisteredModel(name: try name())
            return try json([:])
        case (.get, "registered-models/search"):
            let page = try await tracker.searchRegisteredModels(search(body, request))
            var models: [[String: Any]] = []
            for model in page.items { models.append(try await registeredJSON(model)) }
            return try json(paged(["registered_models": models], page.nextPageToken))
        case (_, "registered-models/get-latest-versions"):
            let stages = request.method == .get ? request.formQuery.getAll("stages") : try list(body, "stages")
            return try json(["model_versions": try await tracker.latestVersions(name: try name(), stages: stages).map(versionJSON(aliases: [:]))])
        case (.post, "registered-models/set-tag"):
            try await tracker.setRegisteredModelTag(name: try name(), key: try string(body, "key"), value: try string(body, "value"))
            return try json([:])
        case (.delete, "registered-models/delete-tag"):
            try await tracker.deleteRegisteredModelTag(name: try name(), key: try string(body, "key"))
            return try json([:])
        case (.post, "registered-models/alias"):
            try await tracker.setRegisteredModelAlias(name: try name(), alias: try string(body, "alias"), version: try version())
            return try json([:])
        case (.delete, "registered-models/alias"):
            try await tracker.deleteRegisteredModelAlias(name: try name(), alias: try string(body, "alias"))
            return try json([:])
        case (.get, "registered-models/alias"):
            let found = try await tracker.modelVersion(name: try name(), alias: try string(body, "alias"))
            return try json(["model_version": try await versionJSON(found)])
        case (.post, "model-versions/create"):
            let created = try await tracker.createModelVersion(
                name: try name(), source: try string(body, "source"), runID: (body["run_id"] as? String).flatMap { $0.isEmpty ? nil : $0 },
                modelID: (body["model_id"] as? String).flatMap { $0.isEmpty ? nil : $0 }, tags: try tags(body["tags"]),
                description: (body["description"] as? String) ?? "", user: context.grant?.user)
            return try json(["model_version": try await versionJSON(created)])
        case (.get, "model-versions/get"):
            return try json(["model_version": try await versionJSON(try await tracker.modelVersion(name: try name(), version: try version()))])
        case (.patch, "model-versions/update"):
            let description = (body["description"] as? String) ?? ""
            let changed = try await tracker.changeModelVersion(name: try name(), version: try version()) { $0.description = description }
            return try json(["model_version": try await versionJSON(changed)])
        case (.post, "model-versions/transition-stage"):
            let archive = (body["archive_existing_versions"] as? Bool) ?? ((body["archive_existing_versions"] as? String)?.lowercased() == "true")
            let moved = try await tracker.transitionStage(name: try name(), version: try version(), stage: try string(body, "stage"), archiveExisting: archive)
            return try json(["model_version": try await versionJSON(moved)])
        case (.delete, "model-versions/delete"):
            try await tracker.deleteModelVersion(name: try name(), version: try version())
            return try json([:])
        case (.get, "model-versions/search"):
            let page = try await tracker.searchModelVersions(search(body, request))
            var versions: [[String: Any]] = []
            for found in page.items { versions.append(try await versionJSON(found)) }
            return try json(paged(["model_versions": versions], page.nextPageToken))
        case (.get, "model-versions/get-download-uri"):
            return try json(["artifact_uri": try await tracker.modelVersion(name: try name(), version: try version()).storageLocation])
        case (.post, "model-versions/set-tag"):
            try await tracker.setModelVersionTag(name: try name(), version: try version(), key: try string(body, "key"), value: try string(body, "value"))
            return try json([:])
        case (.delete, "model-versions/delete-tag"):
            try await tracker.deleteModelVersionTag(name: try name(), version: try version(), key: try string(body, "key"))
            return try json([:])
        default:
            throw MLflowError(code: "ENDPOINT_NOT_FOUND", message: "\(method) /api/2.0/mlflow/\(route) is not served")
        }
    }

    // MARK: request fields

    /// A list field: a JSON array in a POST body, repeated query parameters in a GET.
    func list(_ body: [String: Any], _ key: String) throws -> [String] {
        guard let value = body[key] else { return [] }
        if let items = value as? [Any] { return items.map { "\($0)" } }
        if let one = value as? String { return [one] }
        throw MLflowError.invalid("'\(key)' must be a list of strings")
    }

    func search(_ body: [String: Any], _ request: Request) throws -> ModelSearch {
        ModelSearch(filter: (body["filter"] as? String) ?? "", orderBy: orderBy(body, request), maxResults: try int(body, "max_results").map(Int.init),
                    pageToken: body["page_token"] as? String)
    }

    // MARK: MLflow's JSON shapes

    func keyValues(_ pairs: [String: String]) -> [[String: Any]] {
        pairs.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] }
    }

    func loggedModelJSON(_ m: LoggedModel) async throws -> [String: Any] {
        var info: [String: Any] = ["model_id": m.id, "experiment_id": m.experimentID, "name": m.name, "creation_timestamp_ms": m.creationTime,
                                   "last_updated_timestamp_ms": m.lastUpdateTime, "artifact_uri": m.artifactURI, "status": m.status.rawValue,
                                   "tags": keyValues(m.tags),
                                   "registrations": try await tracker.registrations(modelID: m.id).map { ["name": $0.name, "version": String($0.version)] }]
        // creator_id is an int64 in MLflow's proto (a Databricks user id): Loam's users are names, kept in `creator` only.
        if let type = m.modelType { info["model_type"] = type }
        if let run = m.sourceRunID { info["source_run_id"] = run }
        if let message = m.statusMessage { info["status_message"] = message }
        let metrics = m.metrics.map { metric -> [String: Any] in
            var out = metricJSON(metric.point)
            out["model_id"] = m.id
            if let run = metric.runID { out["run_id"] = run }
            if let name = metric.datasetName { out["dataset_name"] = name }
            if let digest = metric.datasetDigest { out["dataset_digest"] = digest }
            return out
        }
        return ["info": info, "data": ["params": keyValues(m.params), "metrics": metrics]]
    }

    func registeredJSON(_ m: RegisteredModel) async throws -> [String: Any] {
        var out: [String: Any] = ["name": m.name, "creation_timestamp": m.creationTime, "last_updated_timestamp": m.lastUpdateTime,
                                  "description": m.description, "tags": keyValues(m.tags),
                                  "aliases": m.aliases.sorted { $0.key < $1.key }.map { ["alias": $0.key, "version": String($0.value)] },
                                  "latest_versions": try await tracker.latestVersions(name: m.name).map(versionJSON(aliases: m.aliases))]
        if let user = m.user { out["user_id"] = user }
        return out
    }

    func versionJSON(_ v: ModelVersion) async throws -> [String: Any] {
        versionJSON(aliases: try await tracker.registeredModel(name: v.name).aliases)(v)
    }

    func versionJSON(aliases: [String: Int64]) -> (ModelVersion) -> [String: Any] {
        { v in
            var out: [String: Any] = ["name": v.name, "version": String(v.version), "creation_timestamp": v.creationTime,
                                      "last_updated_timestamp": v.lastUpdateTime, "current_stage": v.stage, "description": v.description,
                                      "source": v.source, "status": "READY", "tags": self.keyValues(v.tags),
                                      "aliases": aliases.filter { $0.value == v.version }.map(\.key).sorted()]
            if let run = v.runID { out["run_id"] = run }
            if let model = v.modelID { out["model_id"] = model }
            if let user = v.user { out["user_id"] = user }
            return out
        }
    }
}
