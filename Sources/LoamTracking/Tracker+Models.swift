import Foundation

/// What a registry search asks for: MLflow's filter grammar and order keys, and a page.
public struct ModelSearch: Sendable {
    public var filter: String
    public var orderBy: [String]
    public var maxResults: Int?
    public var pageToken: String?

    public init(filter: String = "", orderBy: [String] = [], maxResults: Int? = nil, pageToken: String? = nil) {
        self.filter = filter
        self.orderBy = orderBy
        self.maxResults = maxResults
        self.pageToken = pageToken
    }
}

/// Logged models (MLflow 3) and the model registry: every rule the MLflow routes and `loam models`
/// share. A model's lineage is its source run, whose inputs name the data commits it read.
extension Tracker {
    func modelStore() throws -> any ModelStore {
        guard let models else { throw TrackingError.invalid("this tracking store keeps no models") }
        return models
    }

    // MARK: - logged models

    public func createLoggedModel(experimentID: String, name: String? = nil, sourceRunID: String? = nil, modelType: String? = nil,
                                  params: [String: String] = [:], tags: [String: String] = [:], creator: String? = nil) async throws -> LoggedModel {
        let experiment = try await self.experiment(id: experimentID)
        guard experiment.lifecycleStage == .active else { throw TrackingError.invalid("experiment \(experimentID) is deleted; restore it to log models in it") }
        if let name { try checkModelName(name, what: "a logged model") }
        if let sourceRunID { _ = try await run(id: sourceRunID) }
        for key in params.keys { try checkKey(key) }
        for key in tags.keys { try checkKey(key) }
        let id = "m-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let now = Self.now
        let model = LoggedModel(id: id, experimentID: experiment.id, name: name ?? "model-\(id.dropFirst(2).prefix(8))",
                                artifactURI: experiment.artifactLocation + "/models/\(id)/artifacts", creationTime: now, lastUpdateTime: now,
                                status: .pending, creator: creator, modelType: modelType, sourceRunID: sourceRunID, lifecycleStage: .active,
                                tags: tags, params: params, metrics: [])
        try await modelStore().insertLoggedModel(model)
        return model
    }

    public func loggedModel(id: String, allowDeleted: Bool = false) async throws -> LoggedModel {
        guard let model = try await modelStore().loggedModel(id: id), allowDeleted || model.lifecycleStage == .active else {
            throw TrackingError.notFound("no logged model with id \(id)")
        }
        return model
    }

    @discardableResult
    public func changeLoggedModel(id: String, _ change: @escaping @Sendable (inout LoggedModel) throws -> Void) async throws -> LoggedModel {
        try await modelStore().updateLoggedModel(id: id) { model in
            guard model.lifecycleStage == .active else { throw TrackingError.notFound("no logged model with id \(id)") }
            try change(&model)
            model.lastUpdateTime = Tracker.now
        }
    }

    public func finalizeLoggedModel(id: String, status: LoggedModel.Status) async throws -> LoggedModel {
        guard status != .pending else { throw TrackingError.invalid("a logged model is finalized as LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED") }
        return try await changeLoggedModel(id: id) { $0.status = status }
    }

    public func setLoggedModelTags(id: String, _ tags: [String: String]) async throws {
        for key in tags.keys { try checkKey(key) }
        try await changeLoggedModel(id: id) { $0.tags.merge(tags) { $1 } }
    }

    public func deleteLoggedModelTag(id: String, key: String) async throws {
        try await changeLoggedModel(id: id) { model in
            guard model.tags.removeValue(forKey: key) != nil else { throw TrackingError.notFound("logged model \(id) has no tag '\(key)'") }
        }
    }

    /// Params are write-once, as a run's are.
    public func logLoggedModelParams(id: String, _ params: [String: String]) async throws {
        for key in params.keys { try checkKey(key) }
        try await changeLoggedModel(id: id) { model in
            for (key, value) in params {
                if let old = model.params[key], old != value { throw TrackingError.paramChanged(key: key, old: old, new: value) }
                model.params[key] = value
            }
        }
    }

    public func deleteLoggedModel(id: String) async throws {
        try await changeLoggedModel(id: id) { $0.lifecycleStage = .deleted }
    }

    /// Metric points logged with a `model_id` join that model's metrics (as well as the run's series).
    public func logModelMetrics(_ metrics: [String: [ModelMetric]]) async throws {
        for (id, points) in metrics { try await changeLoggedModel(id: id) { $0.metrics += points } }
    }

    public func searchLoggedModels(experimentIDs: [String], _ search: ModelSearch) async throws -> Page<LoggedModel> {
        let filter = try RunFilter(search.filter)
        let order = try search.orderBy.map(RunFilter.orderKey)
        let models = try await modelStore().loggedModels(experimentIDs: experimentIDs).filter { model in
            model.lifecycleStage == .active && filter.matches { Self.value($0, of: model) }
        }
        let sorted = Self.sorted(models, order, value: { Self.value($0, of: $1) }) { a, b in
            a.creationTime != b.creationTime ? a.creationTime > b.creationTime : a.id < b.id
        }
        return try Page(sorted, size: search.maxResults ?? 100, limit: 1000, token: search.pageToken)
    }

    static func value(_ key: RunFilter.Key, of model: LoggedModel) -> RunFilter.Value? {
        switch key.entity {
        case .metric: return model.metrics.last { $0.point.key == key.name }.map { .number($0.point.value) }
        case .param: return model.params[key.name].map(RunFilter.Value.text)
        case .tag: return model.tags[key.name].map(RunFilter.Value.text)
        case .dataset: return nil
        case .attribute:
            switch key.name {
            case "name": return .text(model.name)
            case "model_id": return .text(model.id)
            case "model_type": return model.modelType.map(RunFilter.Value.text)
            case "status": return .text(model.status.rawValue)
            case "source_run_id": return model.sourceRunID.map(RunFilter.Value.text)
            case "creation_time", "creation_timestamp": return .number(Double(model.creationTime))
            case "last_updated_timestamp": return .number(Double(model.lastUpdateTime))
            default: return nil
            }
        }
    }

    /// MLflow's runs/outputs: the models a run produced, at their steps.
    public func logOutputs(runID: String, _ outputs: [ModelOutput]) async throws {
        for output in outputs { _ = try await loggedModel(id: output.modelID) }
        try await modelStore().logOutputs(runID: runID, outputs)
    }

    public func outputs(runID: String) async throws -> [ModelOutput] {
        guard let models else { return [] }
        return try await models.outputs(runID: runID)
    }

    /// MLflow 2's runs/log-model: the model's MLmodel description joins the run's `mlflow.log-model.history` tag.
    public func recordLoggedModel(runID: String, modelJSON: String) async throws {
        guard let model = try? JSONSerialization.jsonObject(with: Data(modelJSON.utf8)), model is [String: Any] else {
            throw TrackingError.invalid("model_json must be a JSON object")
        }
        let run = try await run(id: runID)
        var history = (run.tags["mlflow.log-model.history"]).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [Any] } ?? []
        history.append(model)
        try await setTag(runID: runID, key: "mlflow.log-model.history",
                         value: String(decoding: try JSONSerialization.data(withJSONObject: history, options: [.sortedKeys]), as: UTF8.self))
    }

    // MARK: - registry

    public func createRegisteredModel(name: String, description: String = "", tags: [String: String] = [:], user: String? = nil) async throws -> RegisteredModel {
        try checkModelName(name, what: "a registered model")
        for key in tags.keys { try checkKey(key) }
        let now = Self.now
        let model = RegisteredModel(name: name, creationTime: now, lastUpdateTime: now, description: description, user: user, tags: tags, aliases: [:])
        try await modelStore().insertRegisteredModel(model)
        return model
    }

    public func registeredModel(name: String) async throws -> RegisteredModel {
        guard let model = try await modelStore().registeredModel(name: name) else { throw TrackingError.notFound("no registered model named '\(name)'") }
        return model
    }

    @discardableResult
    public func changeRegisteredModel(name: String, _ change: @escaping @Sendable (inout RegisteredModel) throws -> Void) async throws -> RegisteredModel {
        try await modelStore().updateRegisteredModel(name: name) { model in
            try change(&model)
            model.lastUpdateTime = Tracker.now
        }
    }

    public func renameRegisteredModel(name: String, to newName: String) async throws -> RegisteredModel {
        try checkModelName(newName, what: "a registered model")
        return try await modelStore().renameRegisteredModel(from: name, to: newName)
    }

    public func deleteRegisteredModel(name: String) async throws {
        try await modelStore().deleteRegisteredModel(name: name)
    }

    /// Registered models by name (the default order) or by the order keys (`name`, `last_updated_timestamp`, `creation_timestamp`).
    public func searchRegisteredModels(_ search: ModelSearch) async throws -> Page<RegisteredModel> {
        let filter = try RunFilter(search.filter)
        let order = try search.orderBy.map(RunFilter.orderKey)
        let models = try await modelStore().registeredModels().filter { model in filter.matches(absentDiffers: true) { Self.value($0, of: model) } }
        let sorted = Self.sorted(models, order, value: { Self.value($0, of: $1) }) { $0.name < $1.name }
        return try Page(sorted, size: search.maxResults ?? 100, limit: 1000, token: search.pageToken)
    }

    static func value(_ key: RunFilter.Key, of model: RegisteredModel) -> RunFilter.Value? {
        switch (key.entity, key.name) {
        case (.tag, let name): return model.tags[name].map(RunFilter.Value.text)
        case (.attribute, "name"): return .text(model.name)
        case (.attribute, "creation_timestamp"), (.attribute, "creation_time"): return .number(Double(model.creationTime))
        case (.attribute, "last_updated_timestamp"), (.attribute, "last_update_time"): return .number(Double(model.lastUpdateTime))
        default: return nil
        }
    }

    public func setRegisteredModelTag(name: String, key: String, value: String) async throws {
        try checkKey(key)
        try await changeRegisteredModel(name: name) { $0.tags[key] = value }
    }

    public func deleteRegisteredModelTag(name: String, key: String) async throws {
        try await changeRegisteredModel(name: name) { model in
            guard model.tags.removeValue(forKey: key) != nil else { throw TrackingError.notFound("registered model '\(name)' has no tag '\(key)'") }
        }
    }

    public func setModelVersionTag(name: String, version: Int64, key: String, value: String) async throws {
        try checkKey(key)
        try await changeModelVersion(name: name, version: version) { $0.tags[key] = value }
    }

    public func deleteModelVersionTag(name: String, version: Int64, key: String) async throws {
        try await changeModelVersion(name: name, version: version) { found in
            guard found.tags.removeValue(forKey: key) != nil else { throw TrackingError.notFound("version \(version) of '\(name)' has no tag '\(key)'") }
        }
    }

    public func setRegisteredModelAlias(name: String, alias: String, version: Int64) async throws {
        guard !alias.isEmpty, alias.range(of: #"^[A-Za-z0-9_\-]+$"#, options: .regularExpression) != nil,
              alias.range(of: #"^[vV]\d+$"#, options: .regularExpression) == nil, alias.lowercased() != "latest" else {
            throw TrackingError.invalid("an alias is letters, digits, '_' and '-', and not 'latest' or v<number> (those name versions), not '\(alias.prefix(40))'")
        }
        _ = try await modelVersion(name: name, version: version)
        try await changeRegisteredModel(name: name) { $0.aliases[alias] = version }
    }

    public func deleteRegisteredModelAlias(name: String, alias: String) async throws {
        try await changeRegisteredModel(name: name) { model in
            guard model.aliases.removeValue(forKey: alias) != nil else { throw TrackingError.notFound("registered model '\(name)' has no alias '\(alias)'") }
        }
    }

    public func modelVersion(name: String, alias: String) async throws -> ModelVersion {
        let model = try await registeredModel(name: name)
        guard let version = model.aliases[alias] else { throw TrackingError.notFound("registered model '\(name)' has no alias '\(alias)'") }
        return try await modelVersion(name: name, version: version)
    }

    /// A new version of `name` from `source` (`models:/<logged model id>` with that `modelID`, or a URI of the
    /// files); the logged model, when named, must exist, and its artifact URI becomes the version's storage location.
    public func createModelVersion(name: String, source: String, runID: String? = nil, modelID: String? = nil, tags: [String: String] = [:],
                                   description: String = "", user: String? = nil) async throws -> ModelVersion {
        guard !source.isEmpty else { throw TrackingError.invalid("a model version needs a source (models:/<model id> or an artifact URI)") }
        for key in tags.keys { try checkKey(key) }
        // MLflow's rules: a `models:/<id>` source names the logged model given as model_id; no source climbs out with `..`.
        func refuse(_ parameter: String) -> TrackingError {
            .invalid("Invalid model version source: '\(source)'. The \(parameter) request parameter must identify the resource that contains the source.")
        }
        if source.split(separator: "/").contains("..") { throw TrackingError.invalid("Invalid model version source: '\(source)': it may not contain '..'") }
        if source.hasPrefix("models:/") {
            let rest = source.dropFirst("models:/".count)
            let sourceModel = rest.hasPrefix("m-") ? String(rest.split(separator: "/").first ?? "") : nil
            if let sourceModel, sourceModel != modelID { throw refuse("model_id") }
        } else if source.hasPrefix("runs:/"), modelID != nil {
            throw refuse("model_id")
        }
        let named = modelID
        var location = source
        var runID = runID
        if let named {
            let logged = try await loggedModel(id: named)
            location = logged.artifactURI
            runID = runID ?? logged.sourceRunID
        }
        if let runID { _ = try await run(id: runID) }
        let now = Self.now
        let (storage, run) = (location, runID)
        return try await modelStore().insertModelVersion(name: name) { version in
            ModelVersion(name: name, version: version, creationTime: now, lastUpdateTime: now, description: description, user: user, source: source,
                         storageLocation: storage, runID: run, modelID: named, stage: "None", tags: tags)
        }
    }

    public func modelVersion(name: String, version: Int64) async throws -> ModelVersion {
        guard let found = try await modelStore().modelVersion(name: name, version: version) else {
            _ = try await registeredModel(name: name)
            throw TrackingError.notFound("registered model '\(name)' has no version \(version)")
        }
        return found
    }

    @discardableResult
    public func changeModelVersion(name: String, version: Int64, _ change: @escaping @Sendable (inout ModelVersion) throws -> Void) async throws -> ModelVersion {
        try await modelStore().updateModelVersion(name: name, version: version) { found in
            try change(&found)
            found.lastUpdateTime = Tracker.now
        }
    }

    public func deleteModelVersion(name: String, version: Int64) async throws {
        try await modelStore().deleteModelVersion(name: name, version: version)
    }

    /// MLflow's deprecated stages: None, Staging, Production, Archived; `archiveExisting` archives the
    /// other versions in the target stage.
    public func transitionStage(name: String, version: Int64, stage: String, archiveExisting: Bool) async throws -> ModelVersion {
        guard let canonical = ["None", "Staging", "Production", "Archived"].first(where: { $0.lowercased() == stage.lowercased() }) else {
            throw TrackingError.invalid("stage must be None, Staging, Production or Archived, not '\(stage.prefix(40))'")
        }
        let moved = try await changeModelVersion(name: name, version: version) { $0.stage = canonical }
        if archiveExisting, canonical == "Staging" || canonical == "Production" {
            for other in try await modelStore().modelVersions(name: name) where other.version != version && other.stage == canonical {
                try await changeModelVersion(name: name, version: other.version) { $0.stage = "Archived" }
            }
        }
        return moved
    }

    /// The newest version per stage (of the stages asked for, or all).
    public func latestVersions(name: String, stages: [String] = []) async throws -> [ModelVersion] {
        _ = try await registeredModel(name: name)
        var latest: [String: ModelVersion] = [:]
        for version in try await modelStore().modelVersions(name: name) where stages.isEmpty || stages.contains(where: { $0.lowercased() == version.stage.lowercased() }) {
            if (latest[version.stage]?.version ?? 0) < version.version { latest[version.stage] = version }
        }
        return latest.values.sorted { $0.version < $1.version }
    }

    public func searchModelVersions(_ search: ModelSearch) async throws -> Page<ModelVersion> {
        let filter = try RunFilter(search.filter)
        let order = try search.orderBy.map(RunFilter.orderKey)
        let versions = try await modelStore().modelVersions(name: nil).filter { version in filter.matches(absentDiffers: true) { Self.value($0, of: version) } }
        let sorted = Self.sorted(versions, order, value: { Self.value($0, of: $1) }) { a, b in
            a.name != b.name ? a.name < b.name : a.version > b.version
        }
        return try Page(sorted, size: search.maxResults ?? 10_000, limit: 200_000, token: search.pageToken)
    }

    static func value(_ key: RunFilter.Key, of version: ModelVersion) -> RunFilter.Value? {
        switch (key.entity, key.name) {
        case (.tag, let name): return version.tags[name].map(RunFilter.Value.text)
        case (.attribute, "name"): return .text(version.name)
        case (.attribute, "version"), (.attribute, "version_number"): return .number(Double(version.version))
        case (.attribute, "run_id"): return version.runID.map(RunFilter.Value.text)
        case (.attribute, "model_id"): return version.modelID.map(RunFilter.Value.text)
        case (.attribute, "source_path"), (.attribute, "source"): return .text(version.source)
        case (.attribute, "current_stage"): return .text(version.stage)
        case (.attribute, "creation_timestamp"): return .number(Double(version.creationTime))
        case (.attribute, "last_updated_timestamp"): return .number(Double(version.lastUpdateTime))
        default: return nil
        }
    }

    /// The versions registered from a logged model (MLflow shows them as the model's registrations).
    public func registrations(modelID: String) async throws -> [ModelVersion] {
        try await modelStore().modelVersions(name: nil).filter { $0.modelID == modelID }
    }

    func checkModelName(_ name: String, what: String) throws {
        guard !name.isEmpty, name.utf8.count <= limits.keyBytes, !name.contains("/"), !name.contains(":"), !name.contains("\0") else {
            throw TrackingError.invalid("\(what) needs a name of 1 to \(limits.keyBytes) bytes without '/' or ':', not '\(name.prefix(40))'")
        }
    }
}
