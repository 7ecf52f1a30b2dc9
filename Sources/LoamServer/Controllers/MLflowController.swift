import Foundation
import Hummingbird
import Loam
import LoamFormat
import LoamStorage
import LoamTracking

/// An error as the MLflow client expects it: `{"error_code": …, "message": …}`, with MLflow's HTTP status.
struct MLflowError: Error, HTTPResponseError {
    let code: String
    let message: String

    var status: HTTPResponse.Status {
        switch code {
        case "RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND": return .notFound
        case "PERMISSION_DENIED": return .forbidden
        case "INTERNAL_ERROR": return .internalServerError
        default: return .badRequest
        }
    }

    static func invalid(_ message: String) -> MLflowError { MLflowError(code: "INVALID_PARAMETER_VALUE", message: message) }
    static func missing(_ message: String) -> MLflowError { MLflowError(code: "RESOURCE_DOES_NOT_EXIST", message: message) }
    static let malformed = MLflowError(code: "MALFORMED_REQUEST", message: "the body must be a JSON object")

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: ["error_code": code, "message": message], options: [.sortedKeys])
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The MLflow tracking REST API 2.0 (`/api/2.0/mlflow/…`) and artifact proxy
/// (`/api/2.0/mlflow-artifacts/artifacts/…`), translated to and from `Tracker`,
/// which holds every rule. Reads need a reader token, writes a writer.
struct MLflowController: Sendable {
    let server: LoamServer
    var tracker: Tracker { get throws { try server.tracker } }

    static let table: [(method: String, path: String)] = [
        ("POST", "/api/2.0/mlflow/experiments/create"), ("GET", "/api/2.0/mlflow/experiments/get"),
        ("GET", "/api/2.0/mlflow/experiments/get-by-name"), ("POST", "/api/2.0/mlflow/experiments/search"),
        ("GET", "/api/2.0/mlflow/experiments/search"), ("POST", "/api/2.0/mlflow/experiments/update"),
        ("POST", "/api/2.0/mlflow/experiments/delete"), ("POST", "/api/2.0/mlflow/experiments/restore"),
        ("POST", "/api/2.0/mlflow/experiments/set-experiment-tag"),
        ("POST", "/api/2.0/mlflow/runs/create"), ("GET", "/api/2.0/mlflow/runs/get"), ("POST", "/api/2.0/mlflow/runs/update"),
        ("POST", "/api/2.0/mlflow/runs/delete"), ("POST", "/api/2.0/mlflow/runs/restore"), ("POST", "/api/2.0/mlflow/runs/search"),
        ("POST", "/api/2.0/mlflow/runs/log-metric"), ("POST", "/api/2.0/mlflow/runs/log-parameter"), ("POST", "/api/2.0/mlflow/runs/set-tag"),
        ("POST", "/api/2.0/mlflow/runs/delete-tag"), ("POST", "/api/2.0/mlflow/runs/log-batch"), ("POST", "/api/2.0/mlflow/runs/log-inputs"),
        ("GET", "/api/2.0/mlflow/metrics/get-history"), ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval"),
        ("GET", "/api/2.0/mlflow/artifacts/list"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts"), ("GET", "/api/2.0/mlflow-artifacts/artifacts/{path}"),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/{path}"), ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/{path}"),
    ]

    /// POST routes that only read (searches): a reader token may call them.
    static let readingPosts: Set<String> = ["/api/2.0/mlflow/experiments/search", "/api/2.0/mlflow/runs/search",
                                            "/api/2.0/mlflow/logged-models/search", "/api/2.0/mlflow/registered-models/get-latest-versions"]

    func register(on api: RouterGroup<ServerContext>) {
        let models = Set(Self.modelTable.map(\.path))
        for (method, path) in Self.table + Self.modelTable {
            let pattern = RouterPath(path.replacingOccurrences(of: "{path}", with: "**")
                .replacingOccurrences(of: "{model_id}", with: ":model_id").replacingOccurrences(of: "{tag_key}", with: ":tag_key"))
            let verb = HTTPRequest.Method(method) ?? .post
            api.on(pattern, method: verb) { request, context in
                do {
                    try context.require(method == "GET" || Self.readingPosts.contains(path) ? .reader : .writer)
                    if models.contains(path) { return try await respondModels(path, request, context) }
                    return try await respond(path, request, context)
                } catch let error as APIError where error.status == .forbidden {
                    throw MLflowError(code: "PERMISSION_DENIED", message: error.message)
                } catch let error as TrackingError {
                    switch error {
                    case .notFound(let m): throw MLflowError.missing(m)
                    case .exists(let m): throw MLflowError(code: "RESOURCE_ALREADY_EXISTS", message: m)
                    default: throw MLflowError.invalid(error.description)
                    }
                }
            }
        }
    }

    func respond(_ path: String, _ request: Request, _ context: ServerContext) async throws -> Response {
        let name = path.split(separator: "/").suffix(2).joined(separator: "/")
        if path.hasPrefix("/api/2.0/mlflow-artifacts/") { return try await artifactProxy(request, context) }
        if name == "runs/log-metric" || name == "runs/log-batch" { return try await logMetrics(name, request) }
        let body = request.method == .get ? try query(request) : try await jsonBody(request)
        switch name {
        case "experiments/create":
            let e = try await tracker.createExperiment(name: try string(body, "name"), artifactLocation: body["artifact_location"] as? String,
                                                       tags: try tags(body["tags"]))
            return try json(["experiment_id": e.id])
        case "experiments/get":
            return try json(["experiment": experimentJSON(try await tracker.experiment(id: try string(body, "experiment_id")))])
        case "experiments/get-by-name":
            return try json(["experiment": experimentJSON(try await tracker.experiment(named: try string(body, "experiment_name")))])
        case "experiments/search":
            let page = try await tracker.searchExperiments(ExperimentSearch(filter: (body["filter"] as? String) ?? "", orderBy: orderBy(body, request),
                                                                            view: try view(body["view_type"]),
                                                                            maxResults: try int(body, "max_results").map(Int.init), pageToken: body["page_token"] as? String))
            return try json(paged(["experiments": page.items.map(experimentJSON)], page.nextPageToken))
        case "experiments/update":
            try await tracker.renameExperiment(id: try string(body, "experiment_id"), to: try string(body, "new_name"))
            return try json([:])
        case "experiments/delete", "experiments/restore":
            try await tracker.setLifecycle(experimentID: try string(body, "experiment_id"), name.hasSuffix("delete") ? .deleted : .active)
            return try json([:])
        case "experiments/set-experiment-tag":
            try await tracker.setExperimentTag(experimentID: try string(body, "experiment_id"), key: try string(body, "key"), value: try string(body, "value"))
            return try json([:])
        case "runs/create":
            let experimentID = try (body["experiment_id"] as? String) ?? int(body, "experiment_id").map(String.init)
            let run = try await tracker.createRun(experimentID: experimentID, name: body["run_name"] as? String,
                                                  user: body["user_id"] as? String, creator: context.grant?.user, startTime: try int(body, "start_time"),
                                                  tags: try tags(body["tags"]))
            return try json(["run": try await runJSON(run)])
        case "runs/get":
            return try json(["run": try await runJSON(try await tracker.run(id: try runID(body)))])
        case "runs/update":
            let status = try (body["status"]).map { try RunStatus(parsing: "\($0)") }
            let info = try await tracker.updateRun(id: try runID(body), status: status, endTime: try int(body, "end_time"), name: body["run_name"] as? String)
            return try json(["run_info": infoJSON(info)])
        case "runs/delete", "runs/restore":
            try await tracker.setLifecycle(runID: try runID(body), name.hasSuffix("delete") ? .deleted : .active)
            return try json([:])
        case "runs/search":
            let search = RunSearch(experimentIDs: ((body["experiment_ids"] as? [Any]) ?? []).map { "\($0)" }, filter: (body["filter"] as? String) ?? "",
                                   orderBy: orderBy(body, request), view: try view(body["run_view_type"]),
                                   maxResults: try int(body, "max_results").map(Int.init), pageToken: body["page_token"] as? String)
            let page = try await tracker.searchRuns(search)
            var runs: [[String: Any]] = []
            for run in page.items { runs.append(try await runJSON(run)) }
            return try json(paged(["runs": runs], page.nextPageToken))
        case "runs/log-parameter":
            try await tracker.logParam(runID: try runID(body), key: try string(body, "key"), value: try string(body, "value"))
            return try json([:])
        case "runs/set-tag":
            try await tracker.setTag(runID: try runID(body), key: try string(body, "key"), value: try string(body, "value"))
            return try json([:])
        case "runs/delete-tag":
            try await tracker.deleteTag(runID: try runID(body), key: try string(body, "key"))
            return try json([:])
        case "runs/log-inputs":
            let datasets = (body["datasets"] as? [Any]) ?? []
            let inputs = try datasets.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
            try await tracker.logInputs(runID: try runID(body), inputs)
            return try json([:])
        case "metrics/get-history":
            let page = try await tracker.metricHistory(runID: try runID(body), key: try string(body, "metric_key"),
                                                       maxResults: try int(body, "max_results").map(Int.init), pageToken: body["page_token"] as? String)
            return try json(paged(["metrics": page.items.map(metricJSON)], page.nextPageToken))
        case "metrics/get-history-bulk-interval":
            let points = try await tracker.metricHistory(runIDs: request.formQuery.getAll("run_ids"), key: try string(body, "metric_key"),
                                                         fromStep: int(body, "start_step") ?? .min, toStep: int(body, "end_step") ?? .max,
                                                         maxResults: try int(body, "max_results").map(Int.init))
            return try json(["metrics": points.map { var m = metricJSON($0.point); m["run_id"] = $0.runID; return m }])
        default:
            let (root, files) = try await tracker.runArtifacts(runID: try runID(body), path: (body["path"] as? String) ?? "")
            return try json(["root_uri": root, "files": files.map(artifactJSON)])
        }
    }

    // MARK: MLflow's JSON shapes

    func experimentJSON(_ e: Experiment) -> [String: Any] {
        ["experiment_id": e.id, "name": e.name, "artifact_location": e.artifactLocation, "lifecycle_stage": e.lifecycleStage.rawValue,
         "creation_time": e.creationTime, "last_update_time": e.lastUpdateTime, "tags": e.tags.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] }]
    }

    func infoJSON(_ i: RunInfo) -> [String: Any] {
        var out: [String: Any] = ["run_id": i.id, "run_uuid": i.id, "run_name": i.name, "experiment_id": i.experimentID, "user_id": i.userID,
                                  "status": i.status.rawValue, "start_time": i.startTime, "artifact_uri": i.artifactURI,
                                  "lifecycle_stage": i.lifecycleStage.rawValue]
        if let end = i.endTime { out["end_time"] = end }
        return out
    }

    func runJSON(_ r: TrackedRun) async throws -> [String: Any] {
        let inputs = r.inputs.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
        let outputs = try await tracker.outputs(runID: r.info.id).map { ["model_id": $0.modelID, "step": $0.step] as [String: Any] }
        return ["info": infoJSON(r.info),
                "data": ["metrics": r.metrics.map(metricJSON),
                         "params": r.params.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
                         "tags": r.tags.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] }],
                "inputs": ["dataset_inputs": inputs], "outputs": ["model_outputs": outputs]]
    }

    func metricJSON(_ m: MetricPoint) -> [String: Any] {
        ["key": m.key, "value": m.value.isFinite ? m.value : (m.value.isNaN ? "NaN" : (m.value > 0 ? "Infinity" : "-Infinity")) as Any,
         "timestamp": m.timestamp, "step": m.step]
    }

    func artifactJSON(_ a: ArtifactEntry) -> [String: Any] {
        var out: [String: Any] = ["path": a.path, "is_dir": a.isDirectory]
        if let size = a.size { out["file_size"] = size }
        return out
    }

    func paged(_ body: [String: Any], _ next: String?) -> [String: Any] {
        var out = body
        if let next { out["next_page_token"] = next }
        return out
    }

    /// log-metric and log-batch read their metrics straight from the parsed JSON: turning a 1,000-metric batch
    /// into Foundation objects first cost more than parsing it.
    func logMetrics(_ name: String, _ request: Request) async throws -> Response {
        guard let members = try await jsonMembers(request, limit: server.limits.jsonBytes) else { throw MLflowError.malformed }
        var body: [String: Any] = [:], metrics: [JSONValue] = []
        for (key, value) in members {
            if key == "metrics", case .array(let items) = value { metrics = items } else { body[key] = foundationValue(value) }
        }
        let run = try runID(body)
        if name == "runs/log-metric" {
            let point = try metric(.object(members))
            try await tracker.logMetrics(runID: run, [point])
            try await tracker.logModelMetrics(modelMetrics([(.object(members), point)], run: run))
            return try json([:])
        }
        let params = try ((body["params"] as? [[String: Any]]) ?? []).map { (try string($0, "key"), try string($0, "value")) }
        let tags = try ((body["tags"] as? [[String: Any]]) ?? []).map { (try string($0, "key"), try string($0, "value")) }
        let points = try metrics.map(metric)
        try await tracker.logBatch(runID: run, metrics: points, params: params, tags: tags)
        try await tracker.logModelMetrics(modelMetrics(Array(zip(metrics, points)), run: run))
        return try json([:])
    }

    /// The points that name a logged model (`model_id`, with the dataset they were computed on), by model.
    func modelMetrics(_ items: [(JSONValue, MetricPoint)], run: String) -> [String: [ModelMetric]] {
        var out: [String: [ModelMetric]] = [:]
        for (json, point) in items {
            guard case .object(let members) = json else { continue }
            func text(_ key: String) -> String? {
                guard let found = members.first(where: { $0.0 == key }), case .string(let s) = found.1, !s.isEmpty else { return nil }
                return s
            }
            guard let model = text("model_id") else { continue }
            out[model, default: []].append(ModelMetric(point: point, runID: run, datasetName: text("dataset_name"), datasetDigest: text("dataset_digest")))
        }
        return out
    }

    // MARK: artifacts

    func artifactProxy(_ request: Request, _ context: ServerContext) async throws -> Response {
        let path = context.parameters.getCatchAll().joined(separator: "/").removingPercentEncoding ?? ""
        switch request.method {
        case .put:
            var request = request
            let body = try await request.collectBody(upTo: server.limits.uploadBytes)
            try await tracker.putArtifact(path: path, bytes: Array(buffer: body))
            return try json([:])
        case .delete:
            try await tracker.deleteArtifact(path: path)
            return try json([:])
        default:
            if path.isEmpty {  // list: ?path=
                let folder = (request.formQuery.get("path") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                return try json(["files": try await tracker.artifacts(in: folder, relativeTo: folder).map(artifactJSON)])
            }
            let bytes = try await tracker.artifact(path: path)
            server.metrics.streamed(bytes.count)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                            body: .init(byteBuffer: ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes.pointer, count: bytes.count))))
        }
    }

    // MARK: request fields

    func query(_ request: Request) throws -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in request.formQuery { out[String(key)] = String(value) }
        return out
    }

    func jsonBody(_ request: Request) async throws -> [String: Any] {
        guard let object = try await jsonObject(request, limit: server.limits.jsonBytes) else { throw MLflowError.malformed }
        return object
    }

    func string(_ body: [String: Any], _ key: String) throws -> String {
        if let s = body[key] as? String { return s }
        if let n = body[key] as? NSNumber { return n.stringValue }
        guard let value = body[key], !(value is NSNull) else { throw MLflowError.invalid("Missing value for required parameter '\(key)'.") }
        let shown = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        throw MLflowError.invalid("Invalid value \(shown.prefix(80)) for parameter '\(key)' supplied: it must be a string.")
    }

    func runID(_ body: [String: Any]) throws -> String {
        if let id = body["run_id"] as? String, !id.isEmpty { return id }
        if let id = body["run_uuid"] as? String, !id.isEmpty { return id }
        throw MLflowError.invalid("Missing value for required parameter 'run_id'.")
    }

    /// An integer field (a JSON number, or a string of one as proto JSON writes int64); nil when
    /// absent, an error naming the field when it is there but not a whole number that fits 64 bits.
    func int(_ body: [String: Any], _ key: String) throws -> Int64? {
        guard let value = body[key], !(value is NSNull) else { return nil }
        if let s = value as? String, let i = Int64(s.trimmingCharacters(in: .whitespaces)) { return i }
        if let n = value as? NSNumber, !(value is String) {
            let d = n.doubleValue
            if d == d.rounded(), d >= -9.223372036854775e18, d <= 9.223372036854775e18 { return n.int64Value }
            if let exact = Int64(n.stringValue) { return exact }
        }
        throw MLflowError.invalid("'\(key)' must be a whole number that fits in 64 bits, not \(String(describing: value).prefix(40))")
    }

    /// A metric object: a key, a value (a number, or "NaN", "Infinity", "-Infinity" as proto JSON writes them),
    /// a timestamp and an optional step (integers, or strings of them as proto JSON writes int64).
    func metric(_ json: JSONValue) throws -> MetricPoint {
        guard case .object(let members) = json else { throw MLflowError.invalid("each metric must be a JSON object") }
        var key: String?, value: JSONValue?, timestamp: JSONValue?, step: JSONValue?
        for (name, field) in members {
            switch name {
            case "key": if case .string(let s) = field { key = s }
            case "value": value = field
            case "timestamp": timestamp = field
            case "step": step = field
            default: continue
            }
        }
        guard let key else { throw MLflowError.invalid("Missing value for required parameter 'key'.") }
        guard let number = value.flatMap(Self.double) else { throw MLflowError.invalid("metric '\(key.prefix(40))' needs a numeric value") }
        guard let timestamp else { throw MLflowError.invalid("Missing value for required parameter 'timestamp'.") }
        func integer(_ field: JSONValue, _ name: String) throws -> Int64 {
            guard let n = Self.integer(field) else { throw MLflowError.invalid("metric '\(key.prefix(40))': \(name) must be an integer") }
            return n
        }
        return MetricPoint(key: key, value: number, timestamp: try integer(timestamp, "timestamp"), step: try step.map { try integer($0, "step") } ?? 0)
    }

    static func double(_ json: JSONValue) -> Double? {
        switch json {
        case .int(let i): return Double(i)
        case .uint(let u): return Double(u)
        case .double(let d): return d
        case .string(let s): return ["NaN": .nan, "Infinity": .infinity, "-Infinity": -.infinity][s] ?? Double(s)
        default: return nil
        }
    }

    static func integer(_ json: JSONValue) -> Int64? {
        switch json {
        case .int(let i): return i
        case .double(let d): return Int64(exactly: d)
        case .string(let s): return Int64(s)
        default: return nil
        }
    }

    /// `order_by`: a JSON list in a POST body, repeated query parameters in a GET.
    func orderBy(_ body: [String: Any], _ request: Request) -> [String] {
        request.method == .get ? request.formQuery.getAll("order_by") : (body["order_by"] as? [String]) ?? []
    }

    func tags(_ value: Any?) throws -> [String: String] {
        var out: [String: String] = [:]
        for tag in (value as? [[String: Any]]) ?? [] { out[try string(tag, "key")] = try string(tag, "value") }
        return out
    }

    /// ACTIVE_ONLY (the default), DELETED_ONLY or ALL.
    func view(_ value: Any?) throws -> ViewType {
        guard let value else { return .activeOnly }
        guard let view = ViewType(rawValue: "\(value)") else { throw MLflowError.invalid("view type must be ACTIVE_ONLY, DELETED_ONLY or ALL, not '\(value)'") }
        return view
    }

    func json(_ value: [String: Any]) throws -> Response { try jsonResponse(value) }
}
