import Foundation
import Hummingbird
import Loam
import LoamFormat
import LoamLabels

/// Labels and labelling tasks over `Labeler` and `LabelTasks`. Dataset routes need the token's role on
/// the dataset; task routes need the token's user to hold a role in the task (checked by `LabelTasks`),
/// and at least a reader's grant on the task's dataset.
struct LabelsController: Controller {
    let server: LoamServer

    static let table: [(method: String, path: String)] = [
        ("GET", "/api/v1/datasets/{name}/labels"), ("POST", "/api/v1/datasets/{name}/labels"),
        ("GET", "/api/v1/datasets/{name}/labels/schemas"), ("POST", "/api/v1/datasets/{name}/labels/schemas"),
        ("GET", "/api/v1/datasets/{name}/labels/agreement"), ("GET", "/api/v1/datasets/{name}/labels/export"),
        ("GET", "/api/v1/label-tasks"), ("POST", "/api/v1/label-tasks"), ("GET", "/api/v1/label-tasks/{task}"),
        ("POST", "/api/v1/label-tasks/{task}/members"), ("GET", "/api/v1/label-tasks/{task}/next"),
        ("GET", "/api/v1/label-tasks/{task}/items/{row}"), ("GET", "/api/v1/label-tasks/{task}/items/{row}/image"),
        ("POST", "/api/v1/label-tasks/{task}/items/{row}/submit"), ("POST", "/api/v1/label-tasks/{task}/items/{row}/skip"),
        ("POST", "/api/v1/label-tasks/{task}/items/{row}/resolve"), ("GET", "/api/v1/label-tasks/{task}/progress"),
        ("GET", "/api/v1/label-tasks/{task}/disagreements"), ("GET", "/api/v1/label-tasks/{task}/agreement"),
    ]

    var labels: Labeler { server.labels }
    var tasks: LabelTasks { get throws { try server.labelTasks } }

    func respond(_ path: String, _ request: Request, _ context: ServerContext) async throws -> Response {
        switch (request.method, path) {
        case (.get, "/api/v1/datasets/{name}/labels"): return try await annotations(request, context)
        case (.post, "/api/v1/datasets/{name}/labels"): return try await write(request, context)
        case (.get, "/api/v1/datasets/{name}/labels/schemas"): return try await schemas(request, context)
        case (.post, "/api/v1/datasets/{name}/labels/schemas"): return try await define(request, context)
        case (.get, "/api/v1/datasets/{name}/labels/agreement"): return try await datasetAgreement(request, context)
        case (.get, "/api/v1/datasets/{name}/labels/export"): return try await export(request, context)
        case (.get, "/api/v1/label-tasks"): return try await list(request, context)
        case (.post, "/api/v1/label-tasks"): return try await create(request, context)
        case (.get, "/api/v1/label-tasks/{task}"): return try await task(request, context)
        case (.post, "/api/v1/label-tasks/{task}/members"): return try await member(request, context)
        case (.get, "/api/v1/label-tasks/{task}/next"): return try await next(request, context)
        case (.get, "/api/v1/label-tasks/{task}/items/{row}"): return try await item(request, context)
        case (.get, "/api/v1/label-tasks/{task}/items/{row}/image"): return try await image(request, context)
        case (.post, "/api/v1/label-tasks/{task}/items/{row}/submit"): return try await submit(request, context)
        case (.post, "/api/v1/label-tasks/{task}/items/{row}/skip"): return try await skip(request, context)
        case (.post, "/api/v1/label-tasks/{task}/items/{row}/resolve"): return try await resolve(request, context)
        case (.get, "/api/v1/label-tasks/{task}/progress"): return try await progress(request, context)
        case (.get, "/api/v1/label-tasks/{task}/disagreements"): return try await disagreements(request, context)
        default: return try await taskAgreement(request, context)
        }
    }

    // MARK: dataset labels

    func dataset(_ context: ServerContext, _ role: Role) throws -> String {
        let name = try context.parameters.require("name")
        try context.require(role, dataset: name)
        return name
    }

    func user(_ context: ServerContext) throws -> String {
        guard let grant = context.grant else { throw APIError(status: .unauthorized, code: "unauthorized", message: "send a token") }
        return grant.user
    }

    func annotations(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try dataset(context, .reader)
        let q = request.formQuery
        let ref = q.get("ref") ?? "HEAD"
        if let by = q.get("by") {
            guard let schema = q.get("schema") else { throw APIError.badRequest("?by= needs ?schema=") }
            let chosen = try await labels.gather(schema, of: name, by: try Gathering(parsing: by), at: ref)
            return try json(chosen.keys.sorted().map { ["row_id": $0, "value": chosen[$0]! as Any? ?? NSNull()] })
        }
        return try json(try await labels.annotations(of: name, schema: q.get("schema"), at: ref))
    }

    /// `{"schema": "sentiment", "labels": [{"row_id": 7, "value": "pos", "source"?, "model"?, "score"?, "status"?}]}`:
    /// people's labels are the token user's; a writer may also write model pre-labels and imports under other names.
    func write(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try dataset(context, .writer)
        let me = try user(context)
        guard let members = try await jsonMembers(request, limit: server.limits.jsonBytes) else { throw APIError.badRequest("the body must be a JSON object") }
        let body = Dictionary(members, uniquingKeysWith: { $1 })
        guard let schema = body["schema"]?.stringValue, let items = body["labels"]?.arrayValue, !items.isEmpty else {
            throw APIError.badRequest("give {\"schema\": NAME, \"labels\": [{\"row_id\": …, \"value\": …}, …]}")
        }
        var drafts: [Labeler.Draft] = []
        for (i, item) in items.enumerated() {
            guard let row = item["row_id"], let rowID = row.intValue.flatMap({ $0 >= 0 ? UInt64($0) : nil }) ?? (row.stringValue.flatMap { UInt64($0) }) else {
                throw APIError.badRequest("labels[\(i)] needs row_id, the row's _rowid")
            }
            let source = try item["source"]?.stringValue.map { s in
                try Annotation.Source(rawValue: s).orThrow(APIError.badRequest("labels[\(i)].source '\(s)' is not human, model, import or adjudication"))
            } ?? .human
            var annotator = me
            if let other = item["annotator"]?.stringValue, other != me {
                guard source == .model || source == .import else {
                    throw APIError.forbidden("labels[\(i)]: a person's label is the token user's own (\(me)); only model and import labels name another annotator")
                }
                annotator = other
            }
            let status = try item["status"]?.stringValue.map { s in
                try Annotation.Status(rawValue: s).orThrow(APIError.badRequest("labels[\(i)].status '\(s)' is not submitted, skipped or draft"))
            }
            let value = item["value"]
            drafts.append(Labeler.Draft(rowID: rowID, schema: schema, annotator: annotator, input: value == nil || value == .null ? .none : .json(value!),
                                        source: source, model: item["model"]?.stringValue, score: item["score"]?.numberValue, status: status,
                                        task: item["task"]?.stringValue))
        }
        return try json(try await labels.annotate(drafts, on: name))
    }

    func schemas(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try dataset(context, .reader)
        let all = try await labels.schemas(of: name, at: request.formQuery.get("ref") ?? "HEAD")
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: "[" + all.map { $0.json() }.joined(separator: ",") + "]")))
    }

    /// A schema as `loam label schema list --json` prints one: `{"name", "kind", "classes", …}`.
    func define(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try dataset(context, .writer)
        var body = request
        let bytes = try await body.collectBody(upTo: server.limits.jsonBytes)
        let schema: LabelSchema
        do { schema = try JSONDecoder().decode(LabelSchema.self, from: Data(buffer: bytes)) } catch {
            throw APIError.badRequest("a label schema is {\"name\", \"kind\", \"classes\", …} (\(error))")
        }
        return try json(["commit": try await labels.define(schema, on: name)])
    }

    func datasetAgreement(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try dataset(context, .reader)
        let q = request.formQuery
        guard let schema = q.get("schema") else { throw APIError.badRequest("give ?schema=") }
        guard let weights = Ratings.Weights(rawValue: q.get("weights") ?? "none") else { throw APIError.badRequest("?weights= takes none, linear or quadratic") }
        return try json(try await labels.agreement(schema, of: name, at: q.get("ref") ?? "HEAD", weights: weights))
    }

    /// `?schema=&format=coco|jsonl|csv&by=`: the file as the CLI's export writes it.
    func export(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try dataset(context, .reader)
        let q = request.formQuery
        guard let schema = q.get("schema") else { throw APIError.badRequest("give ?schema=") }
        guard let format = LabelFormat(rawValue: q.get("format") ?? "jsonl"), !format.isFolder else {
            throw APIError.badRequest("?format= takes jsonl, csv, coco or labelstudio (YOLO and VOC are folders: use `loam label export`)")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loam-labels-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try await labels.export(schema, of: name, to: file.path, format: format, by: try Gathering(parsing: q.get("by") ?? "majority"),
                                at: q.get("ref") ?? "HEAD")
        let type = format == .csv ? "text/csv" : format == .jsonl ? "application/x-ndjson" : "application/json"  // coco, labelstudio
        return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: try Data(contentsOf: file))))
    }

    // MARK: tasks

    /// The task named by the route, after checking the token may read its dataset.
    func taskID(_ context: ServerContext) async throws -> String {
        let id = try context.parameters.require("task")
        guard let task = try await tasks.store.task(id) else { throw APIError.notFound("no labelling task '\(id)'") }
        try context.require(.reader, dataset: task.dataset)
        return id
    }

    func rowID(_ context: ServerContext) throws -> UInt64 {
        let text = try context.parameters.require("row")
        guard let row = UInt64(text) else { throw APIError.badRequest("'\(text)' is not a _rowid") }
        return row
    }

    func list(_ request: Request, _ context: ServerContext) async throws -> Response {
        let me = try user(context)
        let scope = context.grant?.dataset
        var visible: [LabelTask] = []
        for task in try await tasks.tasks(dataset: request.formQuery.get("dataset")) where scope == nil || scope == task.dataset {
            if (try? await tasks.store.members(task.id))?[me] != nil { visible.append(task) }
        }
        return try json(visible)
    }

    /// `{"dataset", "schema", "query", "annotators"?, "overlap"?, "seed"?}`; the token user becomes the task's manager.
    func create(_ request: Request, _ context: ServerContext) async throws -> Response {
        let body = try await jsonBody(request)
        guard let dataset = body["dataset"] as? String, let schema = body["schema"] as? String, let query = body["query"] as? String else {
            throw APIError.badRequest("give {\"dataset\", \"schema\", \"query\": \"SELECT _rowid FROM …\"}")
        }
        try context.require(.writer, dataset: dataset)
        let task = try await tasks.create(dataset: dataset, schema: schema, query: query, annotators: (body["annotators"] as? NSNumber)?.intValue ?? 1,
                                          overlap: (body["overlap"] as? NSNumber)?.doubleValue ?? 1, seed: (body["seed"] as? NSNumber)?.uint64Value ?? 0,
                                          by: try user(context))
        return try json(task)
    }

    struct TaskView: Encodable {
        let task: LabelTask
        let role: String
        let schema: LabelSchema
    }

    func task(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        let me = try user(context)
        let task = try await tasks.require(.annotator, id, user: me)
        let role = try await tasks.store.members(id)[me]!
        return try json(TaskView(task: task, role: role.rawValue, schema: try await labels.schema(task.schema, of: task.dataset)))
    }

    func member(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        let body = try await jsonBody(request)
        guard let user = body["user"] as? String, let role = (body["role"] as? String).flatMap(TaskRole.init(rawValue:)) else {
            throw APIError.badRequest("give {\"user\": NAME, \"role\": \"annotator\" | \"reviewer\" | \"manager\"}")
        }
        try await tasks.setMember(id, user: user, role: role, by: try self.user(context))
        return try json(["task": id, "user": user, "role": role.rawValue])
    }

    /// An item with the row's values: text and numbers as JSON, binary values left out (the image route serves them).
    struct ItemView: Encodable {
        let item: TaskItem?
        let row: [String: RowValue]?

        enum CodingKeys: String, CodingKey { case item, row }

        func encode(to encoder: Encoder) throws {  // {"item": null, "row": null} when the annotator is done
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(item, forKey: .item)
            try c.encode(row, forKey: .row)
        }
    }

    enum RowValue: Encodable {
        case text(String), number(Double), integer(Int64), flag(Bool), null
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .text(let s): try c.encode(s)
            case .number(let d): if d.isFinite { try c.encode(d) } else { try c.encodeNil() }
            case .integer(let i): try c.encode(i)
            case .flag(let b): try c.encode(b)
            case .null: try c.encodeNil()
            }
        }
    }

    func view(_ item: TaskItem?, dataset: String) async throws -> Response {
        guard let item else { return try json(ItemView(item: nil, row: nil)) }
        var row: [String: RowValue] = [:]
        for (name, value) in try await labels.row(item.rowID, of: dataset) {
            switch value {
            case .string(let s): row[name] = .text(s)
            case .int(let i): row[name] = .integer(i)
            case .uint(let u): row[name] = u <= UInt64(Int64.max) ? .integer(Int64(u)) : .number(Double(u))
            case .float(let d): row[name] = .number(d)
            case .bool(let b): row[name] = .flag(b)
            case .null: row[name] = .null
            case .binary: continue
            case .list, .structValue: row[name] = .text(value.displayText)
            }
        }
        return try json(ItemView(item: item, row: row))
    }

    func next(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        let task = try await tasks.store.task(id)!
        return try await view(try await tasks.next(id, annotator: try user(context)), dataset: task.dataset)
    }

    func item(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        let task = try await tasks.store.task(id)!
        return try await view(try await tasks.item(id, rowID: try rowID(context), annotator: try user(context)), dataset: task.dataset)
    }

    /// The item's image: the schema's image column's bytes (binary) or the file it names (a path inside the repository's folder).
    func image(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        let row = try rowID(context)
        let item = try await tasks.item(id, rowID: row, annotator: try user(context))  // checks the user was handed it (or reviews)
        let task = try await tasks.store.task(id)!
        let schema = try await labels.schema(task.schema, of: task.dataset)
        guard let column = schema.imageColumn else { throw APIError.notFound("label schema '\(schema.name)' names no image column") }
        guard let value = try await labels.row(item.rowID, of: task.dataset).first(where: { $0.0 == column })?.1 else {
            throw APIError.notFound("no column '\(column)'")
        }
        let bytes: [UInt8]
        var name = ""
        switch value {
        case .binary(let b): bytes = b
        case .string(let path):
            let root = repository.root.standardizedFileURL.path
            let file = (path.hasPrefix("/") ? URL(fileURLWithPath: path) : repository.root.appendingPathComponent(path)).standardizedFileURL.resolvingSymlinksInPath()
            guard file.path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
                throw APIError.forbidden("the image '\(path)' lies outside the repository's folder; only images inside it are served")
            }
            guard let data = FileManager.default.contents(atPath: file.path) else { throw APIError.notFound("no image file at '\(path)'") }
            bytes = Array(data)
            name = file.lastPathComponent.lowercased()
        default: throw APIError.notFound("row \(row) has no image in '\(column)'")
        }
        return Response(status: .ok, headers: [.contentType: Self.imageType(bytes, name: name), .cacheControl: "private, max-age=3600"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func imageType(_ bytes: [UInt8], name: String) -> String {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: Array("GIF8".utf8)) { return "image/gif" }
        if bytes.count > 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) { return "image/webp" }
        if name.hasSuffix(".svg") { return "image/svg+xml" }
        return "application/octet-stream"
    }

    /// `{"value": …}`: the label as JSON (a class name is a string).
    func value(_ request: Request) async throws -> LabelInput {
        guard let members = try await jsonMembers(request, limit: server.limits.jsonBytes),
              let value = Dictionary(members, uniquingKeysWith: { $1 })["value"], value != .null else {
            throw APIError.badRequest("give {\"value\": …}")
        }
        return .json(value)
    }

    func submit(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        return try json(try await tasks.submit(id, rowID: try rowID(context), annotator: try user(context), input: try await value(request)))
    }

    func skip(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        try await tasks.skip(id, rowID: try rowID(context), annotator: try user(context))
        return try json(["skipped": true])
    }

    func resolve(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        return try json(try await tasks.resolve(id, rowID: try rowID(context), reviewer: try user(context), input: try await value(request)))
    }

    func progress(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        return try json(try await tasks.progress(id, by: try user(context)))
    }

    func disagreements(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        return try json(try await tasks.disagreements(id, by: try user(context), includeResolved: try flag(request.formQuery.get("all"), "all", default: false)))
    }

    func taskAgreement(_ request: Request, _ context: ServerContext) async throws -> Response {
        let id = try await taskID(context)
        return try json(try await tasks.agreement(id, by: try user(context)))
    }
}
