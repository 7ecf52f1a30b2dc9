import Foundation
import Hummingbird
import Loam
import LoamFormat
import LoamQuality
import LoamQuery
import LoamStorage
import LoamTable

/// Datasets: listing, schema, rows, takes, training streams and imports.
struct DatasetController: Controller {
    let server: LoamServer

    static let table: [(method: String, path: String)] = [
        ("GET", "/api/v1/datasets"), ("GET", "/api/v1/datasets/{name}"), ("GET", "/api/v1/datasets/{name}/rows"),
        ("POST", "/api/v1/datasets/{name}/take"), ("GET", "/api/v1/datasets/{name}/stream"), ("POST", "/api/v1/datasets/{name}/import"),
        ("GET", "/api/v1/datasets/{name}/masks"), ("PUT", "/api/v1/datasets/{name}/masks/{column}"), ("DELETE", "/api/v1/datasets/{name}/masks/{column}"),
        ("GET", "/api/v1/datasets/{name}/profile"), ("GET", "/api/v1/datasets/{name}/check"), ("GET", "/api/v1/datasets/{name}/drift"),
        ("GET", "/api/v1/datasets/{name}/near-duplicates"), ("GET", "/api/v1/datasets/{name}/label-issues"),
    ]

    func respond(_ path: String, _ request: Request, _ context: ServerContext) async throws -> Response {
        switch path {
        case "/api/v1/datasets": return try await datasets(request, context)
        case "/api/v1/datasets/{name}": return try await dataset(request, context)
        case "/api/v1/datasets/{name}/rows": return try await rows(request, context)
        case "/api/v1/datasets/{name}/take": return try await take(request, context)
        case "/api/v1/datasets/{name}/stream": return try await stream(request, context)
        case "/api/v1/datasets/{name}/masks": return try await masks(request, context)
        case "/api/v1/datasets/{name}/masks/{column}": return try await setMask(request, context)
        case "/api/v1/datasets/{name}/profile": return try await profile(request, context)
        case "/api/v1/datasets/{name}/check": return try await check(request, context)
        case "/api/v1/datasets/{name}/drift": return try await drift(request, context)
        case "/api/v1/datasets/{name}/near-duplicates": return try await nearDuplicates(request, context)
        case "/api/v1/datasets/{name}/label-issues": return try await labelIssues(request, context)
        default: return try await importBody(request, context)
        }
    }

    /// The dataset's masking policies, by column (any reader of the dataset may see which columns are masked).
    func masks(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try context.parameters.require("name")
        try context.require(.reader, dataset: name)
        let masks = try await repository.masks(of: name, at: request.formQuery.get("ref") ?? "HEAD")
        return try json(Dictionary(uniqueKeysWithValues: masks.map { ($0.column, $0.policy) }))
    }

    /// PUT {"method": "hash" | "redact", "roles": ["reader", …]} sets a column's policy; DELETE removes it. Admins only.
    func setMask(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try context.parameters.require("name"), column = try context.parameters.require("column")
        try context.require(.admin, dataset: name)
        var policy: MaskPolicy?
        if request.method == .put {
            let body = try await jsonBody(request)
            guard let method = (body["method"] as? String).flatMap(MaskPolicy.Method.init(rawValue:)) else {
                throw APIError.badRequest("the body needs \"method\": \"hash\" or \"redact\"")
            }
            policy = MaskPolicy(method: method, roles: body["roles"] as? [String] ?? ["reader", "writer"])
        }
        let commit = try await repository.setMask(policy, column: column, of: name)
        server.metrics.committed()
        return try json(["commit": commit.hex])
    }

    /// The dataset's profile at `?ref=` (what `loam profile --json` prints); a column masked for the caller's
    /// role shows its counts only.
    func profile(_ request: Request, _ context: ServerContext) async throws -> Response {
        let ds = try await open(request, context)
        let report = try await Profiler(repository: repository).profile(ds.name, at: request.formQuery.get("ref") ?? "HEAD").report
        let masked = Set(ds.manifest.schema.columns.filter { $0.id.map { ds.manifest.schema.mask(columnID: $0) != nil } ?? false }.map(\.name))
        return try json(report.counting(only: masked))
    }

    /// The dataset's expectations checked at `?ref=` (what `loam check --json` prints; 200 whether they hold or not).
    func check(_ request: Request, _ context: ServerContext) async throws -> Response {
        let ds = try await open(request, context)
        let samples = try integer(request.formQuery.get("samples"), "samples", default: 10, range: 0...10_000)
        return try json(try await Checker(repository: repository).check(ds.name, at: request.formQuery.get("ref") ?? "HEAD", samples: samples))
    }

    /// Drift from `?from=` to `?to=` (default HEAD), or against `?against=` (another dataset the token may read).
    func drift(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try context.parameters.require("name")
        try context.require(.reader, dataset: name)
        let q = request.formQuery
        guard let from = q.get("from") else { throw APIError.badRequest("drift needs ?from=REF (and optionally to, against, columns)") }
        if let other = q.get("against") { try context.require(.reader, dataset: other) }
        let columns = q.get("columns").map { $0.split(separator: ",").map(String.init) }
        return try json(try await Drift(repository: repository).compare(name, from: from, to: q.get("to") ?? "HEAD", against: q.get("against"), columns: columns))
    }

    /// Clusters of near-duplicate rows of `?column=`: texts (`threshold`, `words`) or vectors (`cosine`).
    func nearDuplicates(_ request: Request, _ context: ServerContext) async throws -> Response {
        let ds = try await open(request, context)
        let q = request.formQuery
        guard let column = q.get("column") else { throw APIError.badRequest("near-duplicates needs ?column=TEXT_COLUMN") }
        guard let threshold = Double(q.get("threshold") ?? "0.8") else { throw APIError.badRequest("threshold is a number 0…1") }
        let cosine = try q.get("cosine").map { text in
            guard let value = Double(text) else { throw APIError.badRequest("cosine is a number 0…1, the least cosine similarity of a pair of vectors") }
            return value
        }
        let words = try flag(q.get("words"), "words", default: false)
        return try json(try await NearDuplicates(repository: repository).clusters(ds.name, column: column, at: q.get("ref") ?? "HEAD",
                                                                                 options: .init(threshold: threshold, shingles: words ? .words : .characters, cosine: cosine)))
    }

    /// Likely mislabelled rows from `?label=` and `?probabilities=` (confident learning).
    func labelIssues(_ request: Request, _ context: ServerContext) async throws -> Response {
        let ds = try await open(request, context)
        let q = request.formQuery
        guard let label = q.get("label"), let probabilities = q.get("probabilities") else {
            throw APIError.badRequest("label-issues needs ?label=COLUMN&probabilities=COLUMN")
        }
        return try json(try await LabelIssues(repository: repository).find(ds.name, label: label, probabilities: probabilities, at: q.get("ref") ?? "HEAD"))
    }

    func datasets(_ request: Request, _ context: ServerContext) async throws -> Response {
        try context.require(.reader, dataset: context.grant?.dataset)
        let scope = context.grant?.dataset
        return try json(try await repository.datasetSummaries(at: request.formQuery.get("ref") ?? "HEAD") { scope == nil || $0 == scope })
    }

    /// The dataset a route names, at `?ref=` (default HEAD), after checking the grant.
    func open(_ request: Request, _ context: ServerContext, _ role: Role = .reader) async throws -> Dataset {
        let name = try context.parameters.require("name")
        try context.require(role, dataset: name)
        return try await repository.dataset(name, at: request.formQuery.get("ref") ?? "HEAD")
    }

    func dataset(_ request: Request, _ context: ServerContext) async throws -> Response {
        try json(DatasetView(try await open(request, context)))
    }

    /// `?columns=a,b` (default: all), checked against the dataset.
    func columns(_ request: Request, _ ds: Dataset) throws -> [String] {
        guard let text = request.formQuery.get("columns"), !text.isEmpty else { return ds.schema.fields.map(\.name) }
        let names = text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        for name in names where ds.schema.index(of: name) == nil {
            throw APIError.badRequest("no column '\(name)' in dataset '\(ds.name)' (columns: \(ds.schema.fields.map(\.name).joined(separator: ", ")))")
        }
        return names
    }

    func rows(_ request: Request, _ context: ServerContext) async throws -> Response {
        let ds = try await open(request, context)
        let q = request.formQuery
        let offset = try integer(q.get("offset"), "offset", default: 0, range: 0...Int.max)
        let limit = try integer(q.get("limit"), "limit", default: min(ds.rowCount, server.limits.rowsPerRequest), range: 0...server.limits.rowsPerRequest)
        let names = try columns(request, ds)
        let start = min(offset, ds.rowCount)  // offset and limit may each be near Int.max: no sum of them
        let positions = Array(start..<(start + min(limit, ds.rowCount - start)))
        let batch = try await ds.take(positions, columns: names)
        return try arrow(batch.schema, [batch])
    }

    func take(_ request: Request, _ context: ServerContext) async throws -> Response {
        let ds = try await open(request, context)
        let body = try await jsonBody(request)
        guard let raw = body["positions"] as? [Any] else { throw APIError.badRequest("the body needs \"positions\": [row, …]") }
        guard raw.count <= server.limits.rowsPerRequest else {
            throw APIError(status: .contentTooLarge, code: "payload_too_large", message: "at most \(server.limits.rowsPerRequest) positions per take")
        }
        let positions = try raw.map { value -> Int in
            guard let n = value as? Int else { throw APIError.badRequest("positions must be integers, not \(value)") }
            return n
        }
        var names = ds.schema.fields.map(\.name)
        if let asked = body["columns"] as? [String] {
            for name in asked where ds.schema.index(of: name) == nil { throw APIError.badRequest("no column '\(name)' in dataset '\(ds.name)'") }
            names = asked
        }
        let batch = try await ds.take(positions, columns: names)
        return try arrow(batch.schema, [batch])
    }

    /// A training epoch's batches for one rank, in the seeded order `ShufflePlan` defines (the Python
    /// client's order, bit for bit), as an Arrow IPC stream of one record batch per training batch.
    func stream(_ request: Request, _ context: ServerContext) async throws -> Response {
        let ds = try await open(request, context)
        let q = request.formQuery
        var read = EpochRead(columns: try columns(request, ds))
        read.batchSize = try integer(q.get("batch_size"), "batch_size", default: 256, range: 1...1_000_000)
        read.worldSize = try integer(q.get("world_size"), "world_size", default: 1, range: 1...100_000)
        read.rank = try integer(q.get("rank"), "rank", default: 0, range: 0...(read.worldSize - 1))
        read.startBatch = try integer(q.get("start_batch"), "start_batch", default: 0, range: 0...Int.max)
        read.seed = UInt64(try integer(q.get("seed"), "seed", default: 0, range: 0...Int.max))
        read.epoch = UInt64(try integer(q.get("epoch"), "epoch", default: 0, range: 0...Int.max))
        read.shuffle = try flag(q.get("shuffle"), "shuffle", default: true)
        read.dropLast = try flag(q.get("drop_last"), "drop_last", default: false)
        read.blockRows = try integer(q.get("block_rows"), "block_rows", default: 1024, range: 1...(1 << 24))
        read.windowBlocks = try integer(q.get("window_blocks"), "window_blocks", default: 64, range: 1...(1 << 20))
        if let name = q.get("split") {  // split=train&split_seed=42&split_fractions=0.8,0.1,0.1
            let fractions = try (q.get("split_fractions") ?? "0.8,0.1,0.1").split(separator: ",").map { text -> Double in
                guard let f = Double(text.trimmingCharacters(in: .whitespaces)) else {
                    throw APIError.badRequest("?split_fractions must be numbers separated by commas, e.g. 0.8,0.1,0.1")
                }
                return f
            }
            read.split = SplitRead(name: name, seed: UInt64(try integer(q.get("split_seed"), "split_seed", default: 0, range: 0...Int.max)), fractions: fractions)
            do { _ = try read.split!.index() } catch { throw APIError.badRequest("\(error)") }
        }
        try read.validate()
        let schema = try ds.schema(of: read), epoch = read
        let metrics = server.metrics
        let role = ReadPolicy.role, key = ReadPolicy.hashKey  // the body is written after this handler returns
        return Response(status: .ok, headers: [.contentType: "application/vnd.apache.arrow.stream"], body: ResponseBody { writer in
            let sink = ChunkSink()
            var ipc = try IPCWriter(schema: schema, format: .stream, sink: sink)
            // Batches are sent in chunks of about a mebibyte: fewer, larger writes for both ends.
            try await ReadPolicy.$role.withValue(role) { try await ReadPolicy.$hashKey.withValue(key) { try await ds.epochBatches(epoch) { _, batch in
                try ipc.write(batch)
                if sink.count >= 1 << 20 {
                    let bytes = sink.take()
                    metrics.streamed(bytes.count)
                    try await writer.write(ByteBuffer(bytes: bytes))
                }
            } } }
            _ = try ipc.finish()
            let bytes = sink.take()
            metrics.streamed(bytes.count)
            try await writer.write(ByteBuffer(bytes: bytes))
            try await writer.finish(nil)
        })
    }

    func importBody(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try context.parameters.require("name")
        try context.require(.writer, dataset: name)
        let q = request.formQuery
        guard let format = q.get("format").flatMap(ImportFormat.init(rawValue:)), format != .folder, format != .hf else {
            throw APIError.badRequest("say the body's format: ?format=csv, jsonl or arrow")
        }
        // Streamed to a file under .loam/uploads and mapped: a large body never sits in memory.
        let (file, bytes) = try await server.uploads.receive(request.body, maxBytes: server.limits.uploadBytes)
        var options = ImportOptions(format: format, schema: q.get("schema"), message: q.get("message"))
        options.progress = nil
        let result = try await repository.importData(bytes: bytes, named: "upload", format: format, into: name, options: options)
        withExtendedLifetime(file) {}  // removed once the import is done
        server.metrics.committed()
        return try json(["commit": result.commit.hex, "dataset": result.dataset, "rows": result.rows, "created": result.created], status: .created)
    }
}
