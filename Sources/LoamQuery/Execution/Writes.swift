import Loam
import LoamFormat
import LoamStorage
import LoamTable

/// What a statement did: the rows of a query, or the rows a write changed and its commit.
public struct StatementResult: Sendable {
    public let query: QueryResult?
    public let affected: Int
    public let commit: ObjectID?
    /// SELECT, DELETE, UPDATE or INSERT.
    public let verb: String
}

/// What a write statement did, as `loam query --json` prints it and `POST /api/v1/query` answers:
/// `{"verb": "DELETE", "affected": 12, "commit": "…"}` (`commit` null when nothing changed).
public struct WriteOutcome: Encodable, Sendable {
    public let verb: String
    public let affected: Int
    public let commit: String?

    public init(_ result: StatementResult) {
        verb = result.verb
        affected = result.affected
        commit = result.commit?.hex
    }

    enum CodingKeys: String, CodingKey { case verb, affected, commit }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(verb, forKey: .verb)
        try c.encode(affected, forKey: .affected)
        try c.encode(commit, forKey: .commit)  // null, not absent
    }
}

extension Repository {
    /// Runs any statement: a SELECT returns rows; DELETE, UPDATE and INSERT
    /// each become one commit on the current branch, with the statement as its message.
    ///
    /// ```swift
    /// let done = try await repo.execute("UPDATE reviews SET label = label + 1 WHERE score < 0.1")
    /// done.affected   // rows changed; done.commit the new commit
    /// ```
    public func execute(_ sql: String, at ref: String = "HEAD") async throws -> StatementResult {
        try await execute(sql, at: ref, rows: nil)
    }

    /// Like `execute(_:at:)`, but a SELECT streams its rows to `rows` batch by
    /// batch; its `StatementResult.query` then holds the schema and no batches,
    /// and `affected` the number of rows.
    public func execute(_ sql: String, at ref: String = "HEAD", rows: ((RecordBatch) async throws -> Void)?) async throws -> StatementResult {
        try await execute(try SQLStatement(sql), at: ref, rows: rows)
    }

    /// Runs a statement parsed once by `SQLStatement` (the server checks its role first).
    public func execute(_ statement: SQLStatement, at ref: String = "HEAD", rows: ((RecordBatch) async throws -> Void)? = nil) async throws -> StatementResult {
        let sql = statement.sql
        let message = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        switch statement.parsed {
        case .select(let parsed):
            let runner = QueryRunner(repository: self, sql: sql, ref: ref)
            guard let rows else { return StatementResult(query: try await runner.result(parsed), affected: 0, commit: nil, verb: "SELECT") }
            var count = 0
            let schema = try await runner.stream(parsed) { batch in
                count += batch.length
                try await rows(batch)
            }
            return StatementResult(query: QueryResult(schema: schema, batches: []), affected: count, commit: nil, verb: "SELECT")
        case .delete(let name, let at, let filter):
            let target = try await writeTarget(name, at: at, sql: sql)
            let matcher = try WriteMatcher(sql: sql, dataset: target, filter: filter, reader: FragmentReader(objects: objects))
            try Self.refuseMasked(matcher.binder.columns, target, sql: sql, at: at)
            let (commit, rows) = try await delete(from: name, message: message, matching: { try await matcher.offsets($0, $1) })
            return StatementResult(query: nil, affected: rows, commit: commit, verb: "DELETE")
        case .update(let name, let at, let assignments, let filter):
            let target = try await writeTarget(name, at: at, sql: sql)
            let matcher = try WriteMatcher(sql: sql, dataset: target, filter: filter, reader: FragmentReader(objects: objects))
            let setter = try WriteSetter(sql: sql, dataset: target, assignments: assignments)
            try Self.refuseMasked(matcher.binder.columns + setter.binder.columns, target, sql: sql, at: at)
            let (commit, rows) = try await update(name, message: message, matching: { try await matcher.offsets($0, $1) },
                                                  computing: { try setter.values($0, $1) })
            return StatementResult(query: nil, affected: rows, commit: commit, verb: "UPDATE")
        case .createTableAs(let name, let at, _, let select):
            return try await createTable(name, at: at, select: select, sql: sql, message: message)
        case .alterAdd(let name, let at, let column, let type):
            _ = try await writeTarget(name, at: at, sql: sql)
            return StatementResult(query: nil, affected: 0, commit: try await alter(name, .add(name: column, type: type), message: message), verb: "ALTER TABLE")
        case .alterDrop(let name, let at, let column):
            _ = try await writeTarget(name, at: at, sql: sql)
            return StatementResult(query: nil, affected: 0, commit: try await alter(name, .drop(column), message: message), verb: "ALTER TABLE")
        case .alterRename(let name, let at, let from, let to):
            _ = try await writeTarget(name, at: at, sql: sql)
            return StatementResult(query: nil, affected: 0, commit: try await alter(name, .rename(from: from, to: to), message: message), verb: "ALTER TABLE")
        case .dropTable(let name, let at):
            _ = try await writeTarget(name, at: at, sql: sql)
            return StatementResult(query: nil, affected: 0, commit: try await dropDataset(name, message: message), verb: "DROP TABLE")
        case .insert(let name, let at, let columns, let rows):
            let target = try await writeTarget(name, at: at, sql: sql)
            let batch = try InsertValues.batch(sql: sql, dataset: target, columns: columns, rows: rows)
            let (commit, count) = try await append(batch, to: name, message: message)
            return StatementResult(query: nil, affected: count, commit: commit, verb: "INSERT")
        }
    }

    /// Creates `name` from a query's result, recording the source commit and the query in the schema metadata.
    func createTable(_ name: String, at position: Int, select: String, sql: String, message: String) async throws -> StatementResult {
        let result = try await query(select)
        let source = try await resolve("HEAD")
        let lineage = ["loam.source_commit": source.hex, "loam.source_query": select]
        let schema = Schema(fields: result.schema.fields, metadata: lineage)
        let existing = try await datasets()
        if existing.contains(name) { throw SQLError(sql: sql, position: position, message: "dataset '\(name)' already exists (DROP TABLE it first)") }
        let (commit, rows) = try await createDataset(name, schema: schema, batches: result.batches.map { RecordBatch(schema: schema, columns: $0.columns, length: $0.length) },
                                                     message: message)
        return StatementResult(query: nil, affected: rows, commit: commit, verb: "CREATE TABLE")
    }

    /// A write evaluates its WHERE and SET on the stored values: one naming a column masked for the reader's
    /// role would reveal it (by the rows it counts, or by copying it), so it is refused.
    static func refuseMasked(_ columns: [String], _ target: Dataset, sql: String, at position: Int) throws {
        let masked = target.manifest.schema.maskedColumns
        if let column = columns.first(where: masked.contains) {
            throw SQLError(sql: sql, position: position, message: "column '\(column)' of '\(target.name)' is masked for the role \(ReadPolicy.role ?? "")"
                           + ": a DELETE or UPDATE may not read it (ask an admin, or name other columns)")
        }
    }

    private func writeTarget(_ name: String, at position: Int, sql: String) async throws -> Dataset {
        do { return try await dataset(name) } catch let error as LoamError {
            throw error  // a scope refusal stays itself (the server answers 403)
        } catch {
            throw SQLError(sql: sql, position: position, message: "\(error)")
        }
    }
}

/// The WHERE of a DELETE or UPDATE (or `--where`), evaluated fragment by fragment: zone maps
/// first, then the same `Condition` a SELECT's WHERE runs (a mask kernel over the Arrow
/// buffers where it applies, the typed evaluator otherwise).
struct WriteMatcher: Sendable {
    let binder: Binder
    let condition: Condition?
    let pruning: PruningPredicate?
    let reader: FragmentReader

    init(sql: String, dataset: Dataset, filter: Expression?, reader: FragmentReader) throws {
        var binder = Binder(sql: sql, schema: dataset.schema, dataset: dataset.name, alias: nil)
        if let filter {
            let (bound, type) = try binder.bind(filter, allowAggregates: false)
            guard type == .bool else { throw SQLError(sql: sql, position: filter.position, message: "WHERE needs a boolean condition, not \(type.name)") }
            let types = binder.columns.map { $0 == "_rowid" ? ArrowType.uint64 : binder.type(of: $0) }
            condition = Condition(bound, types: types, vectors: VectorEvaluator(rows: Evaluator(sql: sql)))
            pruning = Pruning.filter(bound, columns: binder.columns)
        } else {
            condition = nil
            pruning = nil
        }
        self.binder = binder
        self.reader = reader
    }

    func offsets(_ entry: FragmentEntry, _ manifest: Manifest) async throws -> [Int] {
        if let pruning, !pruning.mayMatch(entry, schema: manifest.schema) { return [] }
        let names = binder.columns
        let ids = names.filter { $0 != "_rowid" }.compactMap { manifest.schema.columnID($0) }
        let data = try await reader.read(entry, schema: manifest.schema, columnIDs: ids)
        let live = data.live ?? Array(0..<entry.rows)
        guard let condition else { return live }
        var next = 0
        let columns = names.map { name -> ArrowArray in
            if name == "_rowid" { return data.rowIDs }
            defer { next += 1 }
            return data.columns[next]
        }
        let mask = try condition.mask(columns, entry.rows)
        return live.filter { mask[$0] != 0 }
    }
}

/// The SET list of an UPDATE: expressions over the old row, one per assigned column.
struct WriteSetter: Sendable {
    let binder: Binder
    let assignments: [(index: Int, value: BoundExpression, type: ArrowType, column: String, at: Int)]
    let evaluator: VectorEvaluator
    let schemaNames: [String]

    init(sql: String, dataset: Dataset, assignments: [(column: String, value: Expression, at: Int)]) throws {
        var binder = Binder(sql: sql, schema: dataset.schema, dataset: dataset.name, alias: nil)
        var bound: [(Int, BoundExpression, ArrowType, String, Int)] = []
        for (column, value, at) in assignments {
            guard let index = dataset.schema.index(of: column) else {
                let hint = closest(column, in: binder.starColumns).map { " (did you mean '\($0)'?)" } ?? ""
                throw SQLError(sql: sql, position: at, message: "dataset '\(dataset.name)' has no column '\(column)' to SET" + hint)
            }
            bound.append((index, try binder.bind(value, allowAggregates: false).0, dataset.schema.fields[index].type, column, at))
        }
        self.binder = binder
        self.assignments = bound
        evaluator = VectorEvaluator(rows: Evaluator(sql: sql))
        schemaNames = dataset.schema.fields.map(\.name)
    }

    func values(_ data: FragmentData, _ matched: [Int]) throws -> [Int: ArrowArray] {
        let columns = binder.columns.map { name -> ArrowArray in
            name == "_rowid" ? data.rowIDs.take(matched) : data.columns[schemaNames.firstIndex(of: name)!].take(matched)
        }
        var cache: [Int: Vector] = [:]
        var out: [Int: ArrowArray] = [:]
        for (index, value, type, column, at) in assignments {
            let vector = try evaluator.evaluate(value, columns, &cache, matched.count)
            let builder = ArrayBuilder(type: type)
            for i in 0..<matched.count {
                let cell = try evaluator.rows.coerce(vector.value(i), to: type, at: at)
                do { try builder.append(cell) } catch {
                    throw SQLError(sql: evaluator.rows.sql, position: at, message: "SET \(column): \(error)")
                }
            }
            out[index] = builder.finish()
        }
        return out
    }
}

/// The VALUES of an INSERT as a record batch typed like the dataset's columns.
enum InsertValues {
    static func batch(sql: String, dataset: Dataset, columns: [String]?, rows: [[Expression]]) throws -> RecordBatch {
        let names = columns ?? dataset.schema.fields.map(\.name)
        var fields: [Field] = []
        for name in names {
            guard let field = dataset.schema.fields.first(where: { $0.name == name }) else {
                let hint = closest(name, in: dataset.schema.fields.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
                throw SQLError(sql: sql, position: 0, message: "dataset '\(dataset.name)' has no column '\(name)'" + hint)
            }
            fields.append(field)
        }
        // VALUES may use literals and expressions over them, not columns.
        var binder = Binder(sql: sql, schema: Schema(fields: []), dataset: dataset.name, alias: nil)
        let evaluator = Evaluator(sql: sql)
        let builders = fields.map { ArrayBuilder(type: $0.type) }
        for row in rows {
            guard row.count == fields.count else {
                throw SQLError(sql: sql, position: row.first?.position ?? 0, message: "VALUES row has \(row.count) values for \(fields.count) columns (\(names.joined(separator: ", ")))")
            }
            for (c, expression) in row.enumerated() {
                let value = try evaluator.evaluate(try binder.bind(expression, allowAggregates: false).0, [])
                do { try builders[c].append(try evaluator.coerce(value, to: fields[c].type, at: expression.position)) } catch let error as SQLError {
                    throw error
                } catch {
                    throw SQLError(sql: sql, position: expression.position, message: "column '\(fields[c].name)': \(error)")
                }
            }
        }
        let schema = Schema(fields: fields)
        return RecordBatch(schema: schema, columns: builders.map { $0.finish() }, length: rows.count)
    }
}

extension Repository {
    /// Deletes the rows where `condition` (a SQL boolean expression, as after WHERE) holds, as one commit.
    ///
    /// ```swift
    /// try await repo.delete(from: "reviews", where: "label = 0 AND text LIKE '%spam%'")
    /// ```
    @discardableResult
    public func delete(from dataset: String, where condition: String, message: String? = nil) async throws -> (commit: ObjectID, rows: Int) {
        let matcher = try await conditionMatcher(dataset, condition)
        return try await delete(from: dataset, message: message ?? "Delete from \(dataset) where \(condition)",
                                matching: { try await matcher.offsets($0, $1) })
    }

    /// Sets columns (values as text, parsed by column type; `NULL` for null) of the rows where
    /// `condition` (SQL, as after WHERE) holds, as one commit. Rows keep their `_rowid`.
    @discardableResult
    public func update(_ dataset: String, set assignments: [(column: String, value: String)], where condition: String,
                       message: String? = nil) async throws -> (commit: ObjectID, rows: Int) {
        let matcher = try await conditionMatcher(dataset, condition)
        return try await update(dataset, set: assignments, matching: { try await matcher.offsets($0, $1) },
                                message: message ?? "Update \(dataset) set \(assignments.map { "\($0.column)=\($0.value)" }.joined(separator: ", ")) where \(condition)")
    }

    /// The rows of `dataset` (at HEAD) where `condition` holds: parsed and bound by the SQL engine,
    /// so `--where` accepts exactly what a WHERE clause does.
    private func conditionMatcher(_ dataset: String, _ condition: String) async throws -> WriteMatcher {
        let expression = try Parser.parseCondition(condition)
        return try WriteMatcher(sql: condition, dataset: try await self.dataset(dataset), filter: expression, reader: FragmentReader(objects: objects))
    }
}

/// A SQL condition (as after WHERE) over one dataset's rows, evaluated on any fragment of any version of
/// it, deleted rows included: what erasure asks of every fragment in a dataset's history.
///
/// ```swift
/// let predicate = try await RowPredicate(repository: repo, dataset: "users", condition: "user_id = 42")
/// let offsets = try await predicate.physicalOffsets(entry, manifest)   // nil: that version lacks a column
/// ```
public struct RowPredicate: Sendable {
    let matcher: WriteMatcher

    public init(repository: Repository, dataset: String, condition: String) async throws {
        let expression = try Parser.parseCondition(condition)
        matcher = try WriteMatcher(sql: condition, dataset: try await repository.dataset(dataset), filter: expression,
                                   reader: FragmentReader(objects: repository.objects))
    }

    /// Physical offsets (deleted rows too) of the rows of `entry` the condition holds for; nil when `manifest`'s
    /// version of the dataset lacks a column the condition names.
    public func physicalOffsets(_ entry: FragmentEntry, _ manifest: Manifest) async throws -> [Int]? {
        for name in matcher.binder.columns where name != "_rowid" && manifest.schema.columnID(name) == nil { return nil }
        var whole = entry
        whole.deletions = nil
        whole.deletedRows = 0
        return try await matcher.offsets(whole, manifest)
    }
}
