import Foundation
import Hummingbird
import Loam
import LoamFormat
import LoamStorage

/// An error as the MLflow client expects it: `{"error_code": …, "message": …}`, with MLflow's HTTP status.
struct MLflowError: Error, HTTPResponseError {
    let code: String
    let message: String

    var status: HTTPResponse.Status {
        switch code {
        case "RESOURCE_DOES_NOT_EXIST": return .notFound
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
/// (`/api/2.0/mlflow-artifacts/artifacts/…`): runs, params and metrics in the
/// MetaStore, artifacts in the ObjectStore. Reads need a reader token, writes a writer.
struct Tracking: Sendable {
    let server: LoamServer
    var repository: Repository { server.repository }
    var store: any TrackingStore { repository.meta }

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
        ("GET", "/api/2.0/mlflow/artifacts/list"), ("POST", "/api/2.0/mlflow/logged-models/search"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts"), ("GET", "/api/2.0/mlflow-artifacts/artifacts/{path}"),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/{path}"), ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/{path}"),
    ]

    func register(on api: RouterGroup<ServerContext>) {
        for (method, path) in Self.table {
            let pattern = RouterPath(path.replacingOccurrences(of: "{path}", with: "**"))
            let verb: HTTPRequest.Method = method == "GET" ? .get : method == "PUT" ? .put : method == "DELETE" ? .delete : .post
            api.on(pattern, method: verb) { request, context in
                do {
                    try context.require(method == "GET" ? .reader : .writer)
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
        if name == "logged-models/search" { try context.require(.reader) }
        if path.hasPrefix("/api/2.0/mlflow-artifacts/") { return try await artifactProxy(request, context) }
        if name == "runs/log-metric" || name == "runs/log-batch" { return try await logMetrics(name, request) }
        let body = request.method == .get ? try query(request) : try await jsonBody(request)
        if ["runs/get", "runs/search", "metrics/get-history", "metrics/get-history-bulk-interval", "runs/delete", "runs/restore"].contains(name) {
            try await server.metricQueue.flush()  // reads see every point logged before them
        }
        switch name {
        case "experiments/create": return try await createExperiment(body)
        case "experiments/get":
            guard let e = try await store.experiment(id: try string(body, "experiment_id")) else { throw MLflowError.missing("no experiment with id \(body["experiment_id"] ?? "")") }
            return try json(["experiment": experimentJSON(e)])
        case "experiments/get-by-name":
            let wanted = try string(body, "experiment_name")
            guard let e = try await store.experiment(named: wanted) else { throw MLflowError.missing("no experiment named '\(wanted)'") }
            return try json(["experiment": experimentJSON(e)])
        case "experiments/search": return try await searchExperiments(body)
        case "experiments/update":
            try await store.updateExperiment(id: try string(body, "experiment_id"), name: try string(body, "new_name"), lifecycleStage: nil)
            return try json([:])
        case "experiments/delete", "experiments/restore":
            try await store.updateExperiment(id: try string(body, "experiment_id"), name: nil, lifecycleStage: name.hasSuffix("delete") ? "deleted" : "active")
            return try json([:])
        case "experiments/set-experiment-tag":
            try await store.setExperimentTag(id: try string(body, "experiment_id"), key: try string(body, "key"), value: try string(body, "value"))
            return try json([:])
        case "runs/create": return try await createRun(body, context)
        case "runs/get":
            return try json(["run": runJSON(try await run(try runID(body)))])
        case "runs/update":
            let info = try await store.updateRun(id: try runID(body), status: try status(body["status"]), endTime: int(body["end_time"]),
                                                 name: body["run_name"] as? String, lifecycleStage: nil)
            return try json(["run_info": infoJSON(info)])
        case "runs/delete", "runs/restore":
            let id = try runID(body)
            _ = try await store.updateRun(id: id, status: nil, endTime: nil, name: nil, lifecycleStage: name.hasSuffix("delete") ? "deleted" : "active")
            server.metricQueue.forget(id)
            return try json([:])
        case "runs/search": return try await searchRuns(body)
        case "runs/log-parameter":
            try await store.log(runID: try runID(body), metrics: [], params: [try param(body)], tags: [])
            return try json([:])
        case "runs/set-tag":
            try await store.log(runID: try runID(body), metrics: [], params: [], tags: [(try key(body), try string(body, "value"))])
            return try json([:])
        case "runs/delete-tag":
            try await store.deleteTag(runID: try runID(body), key: try key(body))
            return try json([:])
        case "runs/log-inputs":
            let datasets = (body["datasets"] as? [Any]) ?? []
            let inputs = try datasets.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
            try await store.logInputs(runID: try runID(body), inputs: inputs)
            return try json([:])
        case "metrics/get-history": return try await history(body)
        case "metrics/get-history-bulk-interval": return try await bulkHistory(request, body)
        case "logged-models/search": return try json(["models": []])  // MLflow 3's logged models: Loam keeps none (yet)
        default: return try await listArtifacts(body)
        }
    }

    // MARK: experiments

    func createExperiment(_ body: [String: Any]) async throws -> Response {
        let name = try string(body, "name")
        guard !name.isEmpty else { throw MLflowError.invalid("an experiment needs a name") }
        let e = try await store.createExperiment(name: name, artifactRoot: (body["artifact_location"] as? String) ?? "", tags: tags(body["tags"]))
        return try json(["experiment_id": e.id])
    }

    func searchExperiments(_ body: [String: Any]) async throws -> Response {
        let view = (body["view_type"] as? String) ?? "ACTIVE_ONLY"
        var list = try await store.experiments().filter { view == "ALL" || (view == "DELETED_ONLY") == ($0.lifecycleStage == "deleted") }
        if let filter = body["filter"] as? String, !filter.isEmpty {
            let clauses = try RunFilter.parse(filter)
            list = list.filter { e in clauses.allSatisfy { $0.matches(experiment: e) } }
        }
        list.sort { $0.creationTime != $1.creationTime ? $0.creationTime > $1.creationTime : Int($0.id)! > Int($1.id)! }
        let (page, next) = try paged(list, body, defaultSize: 1000)
        var out: [String: Any] = ["experiments": page.map(experimentJSON)]
        if let next { out["next_page_token"] = next }
        return try json(out)
    }

    func experimentJSON(_ e: Experiment) -> [String: Any] {
        ["experiment_id": e.id, "name": e.name, "artifact_location": e.artifactLocation, "lifecycle_stage": e.lifecycleStage,
         "creation_time": e.creationTime, "last_update_time": e.lastUpdateTime, "tags": e.tags.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] }]
    }

    // MARK: runs

    func createRun(_ body: [String: Any], _ context: ServerContext) async throws -> Response {
        let experimentID = (body["experiment_id"] as? String) ?? int(body["experiment_id"]).map(String.init) ?? "0"
        guard let experiment = try await store.experiment(id: experimentID) else { throw MLflowError.missing("no experiment with id \(experimentID)") }
        var runTags = try tags(body["tags"])
        let name = (body["run_name"] as? String) ?? runTags["mlflow.runName"] ?? "run-\(UUID().uuidString.prefix(8).lowercased())"
        runTags["mlflow.runName"] = name
        let user = (body["user_id"] as? String) ?? runTags["mlflow.user"] ?? context.grant?.user ?? ""
        let start = int(body["start_time"]) ?? Int64(Date().timeIntervalSince1970 * 1000)
        let info = try await store.createRun(experimentID: experiment.id, name: name, userID: user, startTime: start, tags: runTags,
                                             artifactRoot: experiment.artifactLocation)
        return try json(["run": runJSON(try await run(info.id))])
    }

    func run(_ id: String) async throws -> TrackedRun {
        guard let run = try await store.run(id: id) else { throw MLflowError.missing("no run with id \(id)") }
        return run
    }

    func infoJSON(_ i: RunInfo) -> [String: Any] {
        var out: [String: Any] = ["run_id": i.id, "run_uuid": i.id, "run_name": i.name, "experiment_id": i.experimentID, "user_id": i.userID,
                                  "status": i.status, "start_time": i.startTime, "artifact_uri": i.artifactURI, "lifecycle_stage": i.lifecycleStage]
        if let end = i.endTime { out["end_time"] = end }
        return out
    }

    func runJSON(_ r: TrackedRun) -> [String: Any] {
        let inputs = r.inputs.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
        return ["info": infoJSON(r.info),
                "data": ["metrics": r.metrics.map(metricJSON),
                         "params": r.params.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
                         "tags": r.tags.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] }],
                "inputs": ["dataset_inputs": inputs]]
    }

    func metricJSON(_ m: MetricPoint) -> [String: Any] {
        ["key": m.key, "value": m.value.isFinite ? m.value : (m.value.isNaN ? "NaN" : (m.value > 0 ? "Infinity" : "-Infinity")) as Any,
         "timestamp": m.timestamp, "step": m.step]
    }

    func searchRuns(_ body: [String: Any]) async throws -> Response {
        let ids = ((body["experiment_ids"] as? [Any]) ?? []).map { "\($0)" }
        let view = (body["run_view_type"] as? String) ?? "ACTIVE_ONLY"
        var runs = try await store.runs(experimentIDs: ids).filter {
            view == "ALL" || (view == "DELETED_ONLY") == ($0.info.lifecycleStage == "deleted")
        }
        if let filter = body["filter"] as? String, !filter.isEmpty {
            let clauses = try RunFilter.parse(filter)
            runs = runs.filter { r in clauses.allSatisfy { $0.matches(r) } }
        }
        let order = try ((body["order_by"] as? [String]) ?? []).map(RunFilter.orderKey)
        runs.sort { a, b in
            for (key, ascending) in order {
                let x = key.value(a), y = key.value(b)
                switch (x, y) {
                case (nil, nil): continue
                case (nil, _): return false            // missing values last, whatever the direction
                case (_, nil): return true
                case (let x?, let y?):
                    if x == y { continue }
                    return ascending ? x < y : y < x
                }
            }
            return a.info.startTime != b.info.startTime ? a.info.startTime > b.info.startTime : a.info.id < b.info.id
        }
        let (page, next) = try paged(runs, body, defaultSize: 1000, limit: 50_000)
        var out: [String: Any] = ["runs": page.map(runJSON)]
        if let next { out["next_page_token"] = next }
        return try json(out)
    }

    /// log-metric and log-batch read their metrics straight from the parsed JSON: turning a 1,000-metric batch
    /// into Foundation objects first cost more than parsing it.
    func logMetrics(_ name: String, _ request: Request) async throws -> Response {
        guard let members = try await jsonMembers(request, limit: server.limits.jsonBytes) else { throw MLflowError.malformed }
        var body: [String: Any] = [:], metrics: [JSONValue] = []
        for (key, value) in members {
            if key == "metrics", case .array(let items) = value { metrics = items } else { body[key] = foundationValue(value) }
        }
        if name == "runs/log-metric" {
            try await server.metricQueue.append([try metric(.object(members))], runID: try runID(body))
            return try json([:])
        }
        let params = (body["params"] as? [[String: Any]]) ?? [], tagList = (body["tags"] as? [[String: Any]]) ?? []
        guard metrics.count <= 1000, params.count <= 100, tagList.count <= 100, metrics.count + params.count + tagList.count <= 1000 else {
            throw MLflowError.invalid("a batch holds at most 1000 metrics, 100 params and 100 tags, 1000 in all (got \(metrics.count), \(params.count), \(tagList.count))")
        }
        let id = try runID(body), points = try metrics.map(metric)
        if !params.isEmpty || !tagList.isEmpty {
            try await store.log(runID: id, metrics: [], params: try params.map(param), tags: try tagList.map { (try key($0), try string($0, "value")) })
        }
        try await server.metricQueue.append(points, runID: id)
        return try json([:])
    }

    func history(_ body: [String: Any]) async throws -> Response {
        let offset = try pageOffset(body)
        let size = max(1, min(int(body["max_results"]).map(Int.init) ?? 25_000, 25_000))
        let points = try await store.metricHistory(runID: try runID(body), key: try string(body, "metric_key"), offset: offset, limit: size + 1)
        var out: [String: Any] = ["metrics": points.prefix(size).map(metricJSON)]
        if points.count > size { out["next_page_token"] = Data(String(offset + size).utf8).base64EncodedString() }
        return try json(out)
    }

    func bulkHistory(_ request: Request, _ body: [String: Any]) async throws -> Response {
        let runs = request.uri.queryParameters.getAll("run_ids")
        let key = try string(body, "metric_key")
        let lo = int(body["start_step"]) ?? .min, hi = int(body["end_step"]) ?? .max
        let size = max(1, min(int(body["max_results"]).map(Int.init) ?? 25_000, 25_000))
        var out: [[String: Any]] = []
        for id in runs {
            let points = try await store.metricHistory(runID: id, key: key, offset: 0, limit: .max).filter { $0.step >= lo && $0.step <= hi }
            // At most max_results points per run, spread evenly over the steps (the first and last kept).
            let chosen = points.count <= size ? points : (0..<size).map { points[$0 * (points.count - 1) / max(size - 1, 1)] }
            out += chosen.map { var m = metricJSON($0); m["run_id"] = id; return m }
        }
        return try json(["metrics": out])
    }

    // MARK: artifacts

    /// `mlflow-artifacts:/<path>` of a run's artifact URI → the proxy path it names.
    func artifactPath(_ uri: String) -> String {
        uri.hasPrefix("mlflow-artifacts:") ? String(uri.dropFirst("mlflow-artifacts:".count)).trimmingCharacters(in: CharacterSet(charactersIn: "/")) : uri
    }

    func listArtifacts(_ body: [String: Any]) async throws -> Response {
        let run = try await self.run(try runID(body))
        let sub = ((body["path"] as? String) ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let base = artifactPath(run.info.artifactURI)
        let files = try await children(of: sub.isEmpty ? base : base + "/" + sub, relativeTo: base)
        return try json(["root_uri": run.info.artifactURI, "files": files])
    }

    /// The files and folders directly under `folder`, with paths relative to `base`.
    func children(of folder: String, relativeTo base: String) async throws -> [[String: Any]] {
        var seen = Set<String>()
        var out: [[String: Any]] = []
        let prefix = folder.isEmpty ? "" : folder + "/"
        for (path, size) in try await store.artifacts(under: prefix) {
            let rest = path.dropFirst(prefix.count)
            let relative = (folder + "/").dropFirst(base.isEmpty ? 0 : base.count + 1)
            if let slash = rest.firstIndex(of: "/") {
                let dir = relative + rest[..<slash]
                if seen.insert(String(dir)).inserted { out.append(["path": String(dir), "is_dir": true]) }
            } else {
                out.append(["path": String(relative + rest), "is_dir": false, "file_size": size])
            }
        }
        return out
    }

    func artifactProxy(_ request: Request, _ context: ServerContext) async throws -> Response {
        let path = context.parameters.getCatchAll().joined(separator: "/").removingPercentEncoding ?? ""
        guard !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else { throw MLflowError.invalid("artifact paths cannot contain '.' or '..'") }
        switch request.method {
        case .put:
            var request = request
            let body = try await request.collectBody(upTo: server.limits.uploadBytes)
            let id = try await repository.objects.put(Array(buffer: body))
            try await store.putArtifact(path: path, object: id.hex, size: body.readableBytes)
            return try json([:])
        case .delete:
            guard try await store.deleteArtifact(path: path) else { throw MLflowError.missing("no artifact at \(path)") }
            return try json([:])
        default:
            if path.isEmpty {  // list: ?path=
                let folder = (request.uri.queryParameters.get("path") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                return try json(["files": try await children(of: folder, relativeTo: folder)])
            }
            guard let (object, _) = try await store.artifact(path: path) else { throw MLflowError.missing("no artifact at \(path)") }
            let bytes = try await repository.objects.get(try ObjectID(hex: object))
            server.metrics.streamed(bytes.count)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                            body: .init(byteBuffer: ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes.pointer, count: bytes.count))))
        }
    }

    // MARK: request fields

    func query(_ request: Request) throws -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in request.uri.queryParameters { out[String(key)] = String(value) }
        return out
    }

    func jsonBody(_ request: Request) async throws -> [String: Any] {
        guard let object = try await jsonObject(request, limit: server.limits.jsonBytes) else { throw MLflowError.malformed }
        return object
    }

    func string(_ body: [String: Any], _ key: String) throws -> String {
        if let s = body[key] as? String { return s }
        if let n = body[key] as? NSNumber { return n.stringValue }
        throw MLflowError.invalid("missing value for required parameter '\(key)'")
    }

    func runID(_ body: [String: Any]) throws -> String {
        if let id = body["run_id"] as? String, !id.isEmpty { return id }
        if let id = body["run_uuid"] as? String, !id.isEmpty { return id }
        throw MLflowError.invalid("missing value for required parameter 'run_id'")
    }

    func key(_ body: [String: Any]) throws -> String { try checkedKey(try string(body, "key")) }

    func checkedKey(_ k: String) throws -> String {
        guard !k.isEmpty, k.utf8.count <= 250 else { throw MLflowError.invalid("a key must be 1 to 250 bytes, not '\(k.prefix(40))'") }
        return k
    }

    func int(_ value: Any?) -> Int64? {
        if let n = value as? NSNumber { return n.int64Value }
        if let s = value as? String { return Int64(s) }
        return nil
    }

    func status(_ value: Any?) throws -> String? {
        guard let value else { return nil }
        let s = "\(value)"
        guard ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"].contains(s) else { throw MLflowError.invalid("unknown run status '\(s)'") }
        return s
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
        guard let key else { throw MLflowError.invalid("missing value for required parameter 'key'") }
        guard let number = value.flatMap(Self.double) else { throw MLflowError.invalid("metric '\(key.prefix(40))' needs a numeric value") }
        guard let timestamp else { throw MLflowError.invalid("missing value for required parameter 'timestamp'") }
        func integer(_ field: JSONValue, _ name: String) throws -> Int64 {
            guard let n = Self.integer(field) else { throw MLflowError.invalid("metric '\(key.prefix(40))': \(name) must be an integer") }
            return n
        }
        return MetricPoint(key: try checkedKey(key), value: number, timestamp: try integer(timestamp, "timestamp"), step: try step.map { try integer($0, "step") } ?? 0)
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

    func param(_ body: [String: Any]) throws -> (String, String) {
        let value = try string(body, "value")
        guard value.utf8.count <= 6000 else { throw MLflowError.invalid("param values are at most 6000 bytes") }
        return (try key(body), value)
    }

    func tags(_ value: Any?) throws -> [String: String] {
        var out: [String: String] = [:]
        for tag in (value as? [[String: Any]]) ?? [] { out[try key(tag)] = try string(tag, "value") }
        return out
    }

    func pageOffset(_ body: [String: Any]) throws -> Int {
        guard let token = body["page_token"] as? String, !token.isEmpty else { return 0 }
        guard let data = Data(base64Encoded: token), let n = Int(String(decoding: data, as: UTF8.self)), n >= 0 else {
            throw MLflowError.invalid("invalid page_token")
        }
        return n
    }

    func paged<T>(_ items: [T], _ body: [String: Any], defaultSize: Int, limit: Int = 1000) throws -> ([T], String?) {
        let size = Int(int(body["max_results"]) ?? Int64(defaultSize))
        guard size >= 1, size <= limit else { throw MLflowError.invalid("max_results must be between 1 and \(limit)") }
        let offset = try pageOffset(body)
        let page = Array(items.dropFirst(offset).prefix(size))
        return (page, offset + size < items.count ? Data(String(offset + size).utf8).base64EncodedString() : nil)
    }

    func json(_ value: [String: Any]) throws -> Response { try jsonResponse(value) }
}
