import Foundation
import Loam
import LoamFormat
import LoamTable

/// The result of a query: Arrow record batches under one schema.
public struct QueryResult: Sendable {
    public let schema: Schema
    public let batches: [RecordBatch]
    public var rowCount: Int { batches.reduce(0) { $0 + $1.length } }

    public init(schema: Schema, batches: [RecordBatch]) {
        self.schema = schema
        self.batches = batches
    }

    /// One batch built from rows of values typed like `schema`.
    init(schema: Schema, rows: some Collection<[Value]>) throws {
        let builders = schema.fields.map { ArrayBuilder(type: $0.type) }
        for row in rows { for (builder, value) in zip(builders, row) { try builder.append(value) } }
        self.init(schema: schema, batches: [RecordBatch(schema: schema, columns: builders.map { $0.finish() }, length: rows.count)])
    }
}

extension Repository {
    /// Runs a SELECT over a dataset at a ref (HEAD, or `AT 'ref'` in the FROM clause).
    ///
    /// ```swift
    /// let result = try await repo.query("SELECT label, count(*) FROM reviews AT 'v1' GROUP BY label ORDER BY label")
    /// ```
    ///
    /// Errors are `SQLError`s that point at the place in the statement.
    public func query(_ sql: String, at ref: String = "HEAD") async throws -> QueryResult {
        try await QueryRunner(repository: self, sql: sql, ref: ref).result(try Parser.parse(sql))
    }

    /// Runs a SELECT and hands its result to `body` batch by batch, returning
    /// the result's schema. A query without GROUP BY, ORDER BY, DISTINCT, joins
    /// or UNION ALL streams: it holds a few fragments in memory, not its result,
    /// so it runs over datasets larger than memory.
    @discardableResult
    public func query(_ sql: String, at ref: String = "HEAD", each body: (RecordBatch) async throws -> Void) async throws -> Schema {
        try await QueryRunner(repository: self, sql: sql, ref: ref).stream(try Parser.parse(sql), body)
    }
}

/// Runs a full query: WITH names and subqueries first (into memory), then
/// each UNION ALL part over its relation, then the union's order and limit.
///
/// EXPLAIN plans instead: every WITH name, subquery, join and sample becomes a
/// `PlannedRelation` (its schema and the plan that would build it), and each
/// SELECT's executor binds and chooses its strategies, then stops. No row is read.
struct QueryRunner {
    let repository: Repository
    let sql: String
    let ref: String
    /// EXPLAIN: plan every part, run nothing.
    var planning = false

    /// The result of a parsed query, or its plan for EXPLAIN.
    func result(_ query: QueryStatement) async throws -> QueryResult {
        if query.explains { return PlanLine.result(try await planner.plan(query, names: [:]).lines) }
        return try await run(query, names: [:])
    }

    private var planner: QueryRunner { QueryRunner(repository: repository, sql: sql, ref: ref, planning: true) }

    func run(_ query: QueryStatement, names: [String: any Relation]) async throws -> QueryResult {
        var names = names
        for (name, cte) in query.ctes {
            names[name] = MemoryRelation(name: name, result: try await run(cte.query, names: names))
        }
        var results: [QueryResult] = []
        for part in query.parts {
            results.append(try await executor(part, names: names).run())
        }
        return results.count == 1 ? results[0] : try union(results, query)
    }

    /// The plan of a query and the schema its result would have: WITH names first, then each part.
    func plan(_ query: QueryStatement, names: [String: any Relation]) async throws -> (schema: Schema, lines: [PlanLine]) {
        var names = names
        var withLines: [PlanLine] = []
        for (name, cte) in query.ctes {
            let sub = try await plan(cte.query, names: names)
            names[name] = PlannedRelation(name: name, schema: sub.schema, lines: [])  // printed once, here
            withLines.append(PlanLine(depth: 0, text: "With \(name) (run once, held in memory)"))
            withLines += PlanLine.nested(sub.lines, under: 0)
        }
        var parts: [(schema: Schema, lines: [PlanLine])] = []
        for part in query.parts { parts.append(try await executor(part, names: names).plan()) }
        guard parts.count > 1 else { return (parts[0].schema, withLines + parts[0].lines) }
        var lines: [PlanLine] = []
        if query.limit != nil || query.offset > 0 { lines.append(PlanLine(depth: lines.count, text: "Limit \(query.limit.map(String.init) ?? "all") offset \(query.offset)")) }
        if !query.orderBy.isEmpty {
            lines.append(PlanLine(depth: lines.count, text: "Sort by " + query.orderBy.map { $0.expression.canonical + ($0.descending ? " DESC" : "") }.joined(separator: ", ")))
        }
        let depth = lines.count
        let operators = Set(query.operators.map(\.rawValue)).sorted().joined(separator: ", ")
        lines.append(PlanLine(depth: depth, text: query.operators.allSatisfy { $0 == .unionAll } ? "Union all of \(parts.count) parts, in order"
                              : "\(operators) of \(parts.count) parts (INTERSECT first, then left to right; repeated rows dropped by hash)"))
        for part in parts { lines += PlanLine.nested(part.lines, under: depth) }
        return (parts[0].schema, withLines + lines)
    }

    /// A single SELECT streams; WITH and UNION ALL run whole, then hand over their batches.
    func stream(_ query: QueryStatement, _ emit: (RecordBatch) async throws -> Void) async throws -> Schema {
        if query.explains {
            let plan = PlanLine.result(try await planner.plan(query, names: [:]).lines)
            try await emit(plan.batches[0])
            return plan.schema
        }
        guard query.ctes.isEmpty, query.parts.count == 1, let part = query.parts.first else {
            let result = try await run(query, names: [:])
            for batch in result.batches where batch.length > 0 { try await emit(batch) }
            return result.schema
        }
        return try await executor(part, names: [:]).stream(emit)
    }

    /// One SELECT over its source (sampled if asked), with its IN subqueries already run
    /// (only planned, when planning).
    private func executor(_ part: SelectStatement, names: [String: any Relation]) async throws -> QueryExecutor {
        var relation = try await source(part, names: names)
        if let sample = part.sample { relation = try await sampled(relation, sample) }
        let (statement, subqueryLines) = try await resolvingSubqueries(part, names: names, relation: relation)
        return QueryExecutor(sql: sql, statement: statement, relation: relation, written: part, subqueryLines: subqueryLines)
    }

    private func source(_ part: SelectStatement, names: [String: any Relation]) async throws -> Relation {
        if part.noFrom {  // SELECT without FROM: one row of no columns
            let empty = Schema(fields: [])
            return MemoryRelation(name: "", result: QueryResult(schema: empty, batches: [RecordBatch(schema: empty, columns: [], length: 1)]))
        }
        if let arguments = part.tableFunction {
            return try await tableFunction(part.dataset, arguments, alias: part.alias, at: part.datasetPosition)
        }
        let first = try await single(dataset: part.dataset, ref: part.ref, subquery: part.subquery, alias: part.alias,
                                     position: part.datasetPosition, names: names)
        return part.joins.isEmpty ? first : try await joined(first, alias: part.alias ?? part.dataset, part, names: names)
    }

    private func single(dataset name: String, ref partRef: String?, subquery: Subquery?, alias: String?, position: Int,
                        names: [String: any Relation]) async throws -> Relation {
        if let sub = subquery {
            if planning {
                let planned = try await plan(sub.query, names: names)
                return PlannedRelation(name: alias ?? "subquery", schema: planned.schema, lines: planned.lines)
            }
            return MemoryRelation(name: alias ?? "subquery", result: try await run(sub.query, names: names))
        }
        if let named = names[name] {
            if partRef != nil { throw SQLError(sql: sql, position: position, message: "'\(name)' is a WITH name; AT applies to datasets") }
            return named
        }
        do {
            return DatasetRelation(source: try await repository.dataset(name, at: partRef ?? ref))
        } catch let error as TableError {
            if case .unknownDataset(let name, let available) = error {
                let candidates = available + Array(names.keys)
                let hint = closest(name, in: candidates).map { " (did you mean '\($0)'?)" } ?? (candidates.isEmpty ? "" : " (datasets: \(candidates.sorted().joined(separator: ", ")))")
                throw SQLError(sql: sql, position: position, message: "unknown dataset '\(name)'" + hint)
            }
            throw SQLError(sql: sql, position: position, message: "\(error)")
        }
    }

    /// `loam_diff('from', 'to'[, 'dataset'])`: the row-level diff in long form
    /// (dataset, _rowid, change, column, old, new), one row per changed cell or row.
    private func tableFunction(_ name: String, _ arguments: [Value], alias: String?, at: Int) async throws -> Relation {
        guard name == "loam_diff" else {
            throw SQLError(sql: sql, position: at, message: "unknown table function \(name)() (there is loam_diff('from', 'to'[, 'dataset']))")
        }
        let texts = arguments.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        guard texts.count == arguments.count, (2...3).contains(texts.count) else {
            throw SQLError(sql: sql, position: at, message: "loam_diff('from', 'to'[, 'dataset']) takes two or three quoted arguments")
        }
        if planning {
            let schema = try DiffExport.batch([]).schema
            return PlannedRelation(name: alias ?? name, schema: schema,
                                   lines: [PlanLine(depth: 0, text: "Diff \(texts.map { "'\($0)'" }.joined(separator: " → ")) by _rowid (reads only the fragments that differ)")])
        }
        let diffs: [DatasetDiff]
        do { diffs = try await repository.diff(texts[0], texts[1], dataset: texts.count == 3 ? texts[2] : nil) } catch let error as LoamError {
            throw error
        } catch {
            throw SQLError(sql: sql, position: at, message: "\(error)")
        }
        let batch = try DiffExport.batch(diffs)
        return MemoryRelation(name: alias ?? name, result: QueryResult(schema: batch.schema, batches: [batch]))
    }

    /// A number of rows from a sample's amount: whole, clamped to 0…Int.max (no trap on 1e300).
    static func rows(_ amount: Double) -> Int {
        amount.isNaN || amount <= 0 ? 0 : amount >= 9.2e18 ? Int.max : Int(amount)
    }

    /// A reservoir sample of the relation's rows (with `_rowid` for datasets), the same for the same seed.
    private func sampled(_ relation: Relation, _ sample: (amount: Double, percent: Bool, seed: UInt64)) async throws -> Relation {
        let hasRowID = relation.dataset != nil && relation.schema.index(of: "_rowid") == nil
        var fields = relation.schema.fields
        if hasRowID { fields.insert(Field(name: "_rowid", type: .uint64, nullable: false), at: 0) }
        if planning {
            let amount = sample.percent ? "\(sample.amount)%" : "\(Self.rows(sample.amount)) rows"
            return PlannedRelation(name: relation.name, schema: Schema(fields: fields), qualified: relation.qualified, hidesRowID: hasRowID, usingColumns: relation.usingColumns,
                                   lines: [PlanLine(depth: 0, text: "Sample \(amount) (reservoir, seed \(sample.seed))")]
                                       + PlanLine.nested(scanLines(relation, relation.schema.fields.map(\.name)), under: 0))
        }
        var rows: [[Value]] = []
        var seen = 0
        var random = SeededRandom(seed: sample.seed)
        // A percentage of the relation's rows: a dataset knows its count, an in-memory result (subquery, WITH) too.
        let total = relation.dataset?.rowCount ?? (relation as? MemoryRelation)?.result.rowCount ?? 0
        let wanted = sample.percent ? Self.rows((Double(total) * min(sample.amount, 100) / 100).rounded()) : Self.rows(sample.amount)
        try await relation.scan(columns: relation.schema.fields.map(\.name), includeRowID: hasRowID) { batch in
            for r in 0..<batch.length {
                seen += 1
                if rows.count < wanted { rows.append(batch.row(r)) }
                else if wanted > 0 {
                    let slot = Int.random(in: 0..<seen, using: &random)
                    if slot < wanted { rows[slot] = batch.row(r) }
                }
            }
        }
        return MemoryRelation(name: relation.name, result: try QueryResult(schema: Schema(fields: fields), rows: rows),
                              qualified: relation.qualified, usingColumns: relation.usingColumns, hidesRowID: hasRowID)
    }

    /// Joins left to right, reading only the columns the query names. Each join
    /// hashes its right side on the equalities of ON / USING; when those are the
    /// whole condition, the left side probes it batch by batch, in parallel,
    /// moving whole columns (`HashJoin`); any other condition is tested row by row.
    private func joined(_ first: Relation, alias: String, _ part: SelectStatement, names: [String: any Relation]) async throws -> Relation {
        let needed = part.referencedColumns
        // A dataset's `_rowid` joins like a column (`ON l.row_id = r._rowid`), and stays out of `*`.
        func carryingRowID(_ relation: Relation) -> Relation {
            guard let plain = relation as? DatasetRelation else { return relation }
            return RowIDRelation(source: plain.source)
        }
        let first = carryingRowID(first)
        func wanted(_ relation: Relation) -> [String] {
            relation.schema.fields.map(\.name).filter { name in
                needed.map { $0.contains(name) || $0.contains(String(name.split(separator: ".", maxSplits: 1).last!)) } ?? true
            }
        }
        var current = first
        var currentNames = wanted(first)
        var fields = currentNames.map { name in
            Field(name: first.qualified ? name : "\(alias).\(name)", type: first.schema.fields[first.schema.index(of: name)!].type)
        }
        var using: Set<String> = []
        let evaluator = Evaluator(sql: sql)
        let space = SpillSpace()
        // WHERE conjuncts that name only the first relation (as alias.column) filter its rows before the first join.
        var pushed: (condition: Condition, slots: [Int])?
        var pushedText: String?
        // (Not under a RIGHT or FULL join: a left row filtered early would bring back its right rows as unmatched.)
        if let filter = part.filter, !part.joins.contains(where: \.right) {
            func own(_ e: Expression) -> Bool {
                switch e {
                case .column(let table, _, _): return table == alias
                case .star, .inSubquery: return false
                default: return e.children.allSatisfy(own)
                }
            }
            func conjuncts(_ e: Expression) -> [Expression] {
                if case .binary("AND", let a, let b, _) = e { return conjuncts(a) + conjuncts(b) }
                return [e]
            }
            let mine = conjuncts(filter).filter(own)
            var binder = Binder(sql: sql, schema: Schema(fields: fields), dataset: "join", alias: nil)
            binder.qualified = true
            if let first = mine.first,
               let (bound, type) = try? binder.bind(mine.dropFirst().reduce(first) { .binary(op: "AND", $0, $1, at: $1.position) }, allowAggregates: false),
               type == .bool {
                let slots = binder.columns.map { name in fields.firstIndex { $0.name == name }! }
                pushed = (Condition(bound, types: slots.map { fields[$0].type }, vectors: VectorEvaluator(rows: evaluator)), slots)
                pushedText = mine.map(\.canonical).joined(separator: " AND ")
            }
        }
        for join in part.joins {
            let right = carryingRowID(try await single(dataset: join.dataset, ref: join.ref, subquery: join.subquery, alias: join.alias,
                                                       position: join.position, names: names))
            let rightAlias = join.alias ?? join.dataset
            let rightNames = wanted(right)
            let rightFields = rightNames.map { Field(name: "\(rightAlias).\($0)", type: right.schema.fields[right.schema.index(of: $0)!].type) }
            let combined = fields + rightFields
            var binder = Binder(sql: sql, schema: Schema(fields: combined), dataset: "join", alias: nil)
            binder.qualified = true
            binder.usingColumns = using
            var condition: Expression
            if !join.using.isEmpty {
                var parts: [Expression] = []
                for column in join.using {
                    guard let l = fields.first(where: { $0.name.hasSuffix(".\(column)") || $0.name == column })?.name,
                          rightFields.contains(where: { $0.name == "\(rightAlias).\(column)" }) else {
                        throw SQLError(sql: sql, position: join.position, message: "USING column '\(column)' must exist on both sides of the join")
                    }
                    parts.append(.binary(op: "=", .column(table: nil, name: l, at: join.position), .column(table: nil, name: "\(rightAlias).\(column)", at: join.position), at: join.position))
                }
                condition = parts.dropFirst().reduce(parts[0]) { .binary(op: "AND", $0, $1, at: join.position) }
            } else if let on = join.on {
                condition = on
            } else {
                // A comma or CROSS join: the WHERE's equalities between the two sides become its keys (the WHERE
                // still runs after the join), so `FROM a, b WHERE a.k = b.k` is a hash join, not a cross product.
                func conjuncts(_ e: Expression) -> [Expression] {
                    if case .binary("AND", let a, let b, _) = e { return conjuncts(a) + conjuncts(b) }
                    return [e]
                }
                let leftNames = Set(fields.map(\.name)), rightSet = Set(rightFields.map(\.name))
                let keys = (part.filter.map(conjuncts) ?? []).filter { e in
                    guard case .binary("=", .column(let t1, let n1, let at), .column(let t2, let n2, _), _) = e,
                          let a = try? binder.resolveQualified(t1, n1, at: at), let b = try? binder.resolveQualified(t2, n2, at: at) else { return false }
                    return (leftNames.contains(a) && rightSet.contains(b)) || (leftNames.contains(b) && rightSet.contains(a))
                }
                condition = keys.dropFirst().reduce(keys.first ?? .literal(.bool(true), at: join.position)) { .binary(op: "AND", $0, $1, at: join.position) }
            }
            let (bound, type) = try binder.bind(condition, allowAggregates: false)
            guard type == .bool else { throw SQLError(sql: sql, position: condition.position, message: "ON needs a boolean condition, not \(type.name)") }
            let slots = binder.columns.map { name in combined.firstIndex { $0.name == name }! }
            // Equality conjuncts between a left and a right column become hash keys; the rest is a residual condition.
            var keys: [(left: Int, right: Int)] = []
            var residual = false
            func conjuncts(_ e: Expression) {
                if case .binary("AND", let a, let b, _) = e { conjuncts(a); conjuncts(b); return }
                guard case .binary("=", .column(let t1, let n1, let at), .column(let t2, let n2, _), _) = e,
                      let a = try? binder.resolveQualified(t1, n1, at: at), let b = try? binder.resolveQualified(t2, n2, at: at),
                      let i = combined.firstIndex(where: { $0.name == a }), let j = combined.firstIndex(where: { $0.name == b }) else { residual = true; return }
                if i < fields.count && j >= fields.count { keys.append((i, j - fields.count)) }
                else if j < fields.count && i >= fields.count { keys.append((j, i - fields.count)) }
                else { residual = true }
            }
            conjuncts(condition)
            let outSchema = Schema(fields: combined)
            if planning {
                let how = keys.isEmpty ? "Join (nested loop, row by row)"
                    : residual || join.right ? "Join (hash on the equalities, the rest row by row)" : "HashJoin (columnar: the right side hashed once, the left probing in parallel)"
                var left = scanLines(current, currentNames)
                if let text = pushedText { left = [PlanLine(depth: 0, text: "Filter (pushed below the join) \(text)")] + PlanLine.nested(left, under: 0) }
                let kind = join.left && join.right ? "full" : join.left ? "left" : join.right ? "right" : "inner"
                current = PlannedRelation(name: "join", schema: outSchema, qualified: true,
                                          lines: [PlanLine(depth: 0, text: "\(how) \(kind) on \(condition.canonical)")]
                                              + PlanLine.nested(left, under: 0) + PlanLine.nested(scanLines(right, rightNames), under: 0))
                fields = combined
                currentNames = combined.map(\.name)
                pushed = nil
                pushedText = nil
                using.formUnion(join.using)
                continue
            }
            if !keys.isEmpty && !residual && !join.right {
                let filter = pushed
                let leftKeys = keys.map(\.left), rightKeys = keys.map(\.right)
                @Sendable func filtered(_ batch: RecordBatch) throws -> RecordBatch {
                    guard let filter, let keep = Condition.selection(try filter.condition.mask(filter.slots.map { batch.columns[$0] }, batch.length)) else { return batch }
                    return RecordBatch(schema: batch.schema, columns: batch.columns.map { $0.take(keep) }, length: keep.count)
                }
                let output = BatchCollector(schema: outSchema, space: space)
                if let rightBatches = try await heldBatches(right, rightNames) {
                    let hashed = HashJoin(keys: keys, right: rightBatches, rightFields: rightFields, left: join.left)
                    try await current.scanFragments(columns: currentNames, includeRowID: false, pruning: nil, transform: { batch in
                        hashed.probe(try filtered(batch), schema: outSchema)
                    }, consume: { batch in
                        try output.add(batch)
                        return true
                    })
                } else {
                    // Grace hash join: both sides split by the hash of their keys into files, then joined a partition at a time.
                    let count = 64
                    // Right rows with a NULL key match nothing (this path has no RIGHT or FULL join): they are dropped.
                    let rightParts = try await partitioned(right, rightNames, keys: rightKeys, count: count, space: space, keepingNullKeys: false)
                    let leftParts = try await partitioned(current, currentNames, keys: leftKeys, count: count, space: space, keepingNullKeys: true,
                                                          filter: filtered)
                    for p in 0..<count where leftParts[p] != nil {
                        let rightBatches = try rightParts[p]?.finish() ?? []
                        let bytes = MemoryEstimate.bytes(rightBatches.flatMap(\.columns))
                        if !StatementLimit.reserve(bytes) {  // the output held so far goes to disk first
                            try output.spill()
                            try StatementLimit.charge(bytes, for: "one of \(count) partitions of a join's right side (its rows that share one key may not fit)")
                        }
                        defer { StatementLimit.release(bytes) }
                        let hashed = HashJoin(keys: keys, right: rightBatches, rightFields: rightFields, left: join.left)
                        for batch in try leftParts[p]!.finish() {
                            try StatementLimit.check()
                            try output.add(hashed.probe(RecordBatch(schema: Schema(fields: fields), columns: batch.columns, length: batch.length), schema: outSchema))
                        }
                    }
                }
                current = MemoryRelation(name: "join", result: QueryResult(schema: outSchema, batches: try output.finish()), qualified: true)
            } else {
                let rightBatches = try await batches(right, rightNames)
                let rightRows = rightBatches.flatMap { b in (0..<b.length).map { b.row($0) } }
                var table: [[Value]: [Int]] = [:]
                if !keys.isEmpty {
                    for (r, row) in rightRows.enumerated() {
                        let key = keys.map { Evaluator.hashKey(row[$0.right]) }
                        if key.contains(where: \.isNull) { continue }  // NULL never equals
                        table[key, default: []].append(r)
                    }
                }
                var output: [[Value]] = []
                let nulls = [Value](repeating: .null, count: rightFields.count)
                var rightMatched = [Bool](repeating: false, count: join.right ? rightRows.count : 0)
                var ticker = StatementTicker()
                for batch in try await batches(current, currentNames) {
                    for i in 0..<batch.length {
                        try ticker.tick()
                        let row = batch.row(i)
                        let candidates: [Int]
                        if keys.isEmpty {
                            candidates = Array(rightRows.indices)
                        } else {
                            let key = keys.map { Evaluator.hashKey(row[$0.left]) }
                            candidates = key.contains(where: \.isNull) ? [] : table[key] ?? []
                        }
                        var matched = false
                        for r in candidates {
                            try ticker.tick()
                            let both = row + rightRows[r]
                            if case .bool(true) = try evaluator.evaluate(bound, slots.map { both[$0] }) {
                                try StatementLimit.charge(MemoryEstimate.bytes(both), for: "the rows of a join")
                                output.append(both)
                                matched = true
                                if join.right { rightMatched[r] = true }
                            }
                        }
                        if join.left && !matched {
                            try StatementLimit.charge(MemoryEstimate.bytes(row) + nulls.count * MemoryLayout<Value>.stride, for: "the rows of a join")
                            output.append(row + nulls)
                        }
                    }
                }
                // RIGHT and FULL: the right rows nothing matched, with NULLs on the left.
                let leftNulls = [Value](repeating: .null, count: fields.count)
                for (r, matched) in rightMatched.enumerated() where !matched { output.append(leftNulls + rightRows[r]) }
                current = MemoryRelation(name: "join", result: try QueryResult(schema: outSchema, rows: output), qualified: true)
            }
            fields = combined
            currentNames = combined.map(\.name)
            pushed = nil
            using.formUnion(join.using)
        }
        if let planned = current as? PlannedRelation {
            return PlannedRelation(name: "join", schema: planned.schema, qualified: true, hidesRowID: true, usingColumns: using, lines: planned.lines)
        }
        return MemoryRelation(name: "join", result: (current as! MemoryRelation).result, qualified: true, usingColumns: using, hidesRowID: true)
    }

    /// How a relation's rows would be read, for a plan: a dataset scan, or the plan of what builds them.
    func scanLines(_ relation: Relation, _ columns: [String]) -> [PlanLine] {
        if let planned = relation as? PlannedRelation {
            return planned.lines.isEmpty ? [PlanLine(depth: 0, text: "Scan \(relation.name) (WITH, run once above) columns [\(columns.joined(separator: ", "))]")] : planned.lines
        }
        if let ds = relation.dataset {
            let live = ds.manifest.fragments.filter { $0.liveRows > 0 }.count
            return [PlanLine(depth: 0, text: "Scan \(ds.name) @ \(ds.commit.short) columns [\(columns.joined(separator: ", "))] fragments \(live), in parallel")]
        }
        return [PlanLine(depth: 0, text: "Scan \(relation.name) (in memory) columns [\(columns.joined(separator: ", "))]")]
    }

    /// The relation's batches of these columns, in order.
    private func batches(_ relation: Relation, _ columns: [String]) async throws -> [RecordBatch] {
        var out: [RecordBatch] = []
        try await relation.scan(columns: columns) { batch in
            try StatementLimit.charge(MemoryEstimate.bytes(batch.columns), for: "the rows of \(relation.name), read for a join")
            out.append(batch)
        }
        return out
    }

    /// The relation's batches of these columns, charged to the budget; nil (and nothing held) when they do not fit.
    private func heldBatches(_ relation: Relation, _ columns: [String]) async throws -> [RecordBatch]? {
        var out: [RecordBatch] = []
        var held = 0
        var fits = true
        try await relation.scanFragments(columns: columns, includeRowID: false, pruning: nil, transform: { $0 }) { batch in
            let bytes = MemoryEstimate.bytes(batch.columns)
            guard StatementLimit.reserve(bytes) else { fits = false; return false }
            held += bytes
            out.append(batch)
            return true
        }
        if fits { return out }
        StatementLimit.release(held)
        return nil
    }

    /// The relation's rows split into `count` spill files by the hash of their `keys` columns.
    private func partitioned(_ relation: Relation, _ columns: [String], keys: [Int], count: Int, space: SpillSpace, keepingNullKeys: Bool,
                             filter: (@Sendable (RecordBatch) throws -> RecordBatch)? = nil) async throws -> [BatchSpill?] {
        var files = [BatchSpill?](repeating: nil, count: count)
        try await relation.scanFragments(columns: columns, includeRowID: false, pruning: nil, transform: { batch in
            let batch = try filter?(batch) ?? batch
            let numbers = partitionNumbers(keys.map { k in { batch.columns[k].value(at: $0) } }, rows: batch.length, count: count, salt: 0,
                                           nulls: keepingNullKeys ? 0 : nil)
            return (batch.schema, split(batch.columns, by: numbers, count: count))
        }, consume: { schema, parts in
            for part in parts {
                if files[part.partition] == nil { files[part.partition] = try BatchSpill(schema: schema, space: space) }
                try files[part.partition]!.write(RecordBatch(schema: schema, columns: part.columns, length: part.rows))
            }
            return true
        })
        return files
    }

    /// Subqueries in expressions run once, up front, and become constants: `x IN (SELECT …)` a list,
    /// `(SELECT …)` its one value (NULL without rows), `EXISTS (SELECT …)` true or false. A scalar or
    /// EXISTS subquery naming `outer.column` runs once per distinct value of those columns and becomes
    /// a lookup (`correlated`). When planning, each is planned instead (its lines returned).
    private func resolvingSubqueries(_ part: SelectStatement, names: [String: any Relation], relation: Relation) async throws -> (SelectStatement, [PlanLine]) {
        var found: [(at: Int, sub: Subquery, kind: String)] = []
        func collect(_ e: Expression) {
            switch e {
            case .inSubquery(_, let sub, _, let at): found.append((at, sub, "IN"))
            case .scalarSubquery(let sub, let at): found.append((at, sub, "scalar"))
            case .exists(let sub, _, let at): found.append((at, sub, "EXISTS"))
            default: break
            }
            e.children.forEach(collect)
        }
        let expressions = [part.filter, part.having, part.qualify].compactMap { $0 } + part.items.map(\.expression)
            + part.orderBy.map(\.expression) + part.groupBy
        expressions.forEach(collect)
        guard !found.isEmpty else { return (part, []) }
        var values: [Int: Expression] = [:]
        var lists: [Int: [Expression]] = [:]
        var lines: [PlanLine] = []
        let outerTables = Set([part.alias ?? part.dataset] + part.joins.map { $0.alias ?? $0.dataset })
        for (at, sub, kind) in found {
            let schema: Schema
            var result: QueryResult?
            // A subquery naming outer columns (`outer.column`) runs once per distinct value of those columns.
            let outer = Self.outerReferences(sub.query, outerTables: outerTables)
            if !outer.isEmpty {
                guard kind != "IN" else {
                    throw SQLError(sql: sql, position: at, message: "a correlated subquery after IN is not supported yet; write EXISTS (SELECT … WHERE inner = outer AND …)")
                }
                let (table, planned) = try await correlated(sub.query, kind: kind, outer: outer, relation: relation, names: names, at: at)
                if let planned {
                    lines.append(PlanLine(depth: 0, text: "Correlated subquery (\(kind)) at character \(at): run once per distinct value of "
                                          + outer.map { "\($0.table).\($0.name)" }.joined(separator: ", ")))
                    lines += PlanLine.nested(planned, under: 0)
                }
                values[at] = .lookup(table, keys: outer.map { .column(table: $0.table, name: $0.name, at: at) }, at: at)
                continue
            }
            do {
                if planning {
                    let planned = try await plan(sub.query, names: names)
                    schema = planned.schema
                    lines.append(PlanLine(depth: 0, text: "Subquery (\(kind)) at character \(at): run once, before the scan; its answer becomes a constant"))
                    lines += PlanLine.nested(planned.lines, under: 0)
                } else {
                    result = try await run(sub.query, names: names)
                    schema = result!.schema
                }
            } catch let error as SQLError where error.message.hasPrefix("unknown column") || error.message.hasPrefix("unknown table") {
                throw SQLError(sql: sql, position: at, message: "in the subquery: \(error.message). A column of the outer query is named "
                               + "with its table (EXISTS (SELECT 1 FROM b WHERE b.k = a.k))")
            }
            guard kind == "EXISTS" || schema.fields.count == 1 else {
                throw SQLError(sql: sql, position: at, message: "a subquery \(kind == "IN" ? "after IN" : "used as a value") must return one column, not \(schema.fields.count)")
            }
            guard let result else { continue }
            let column = result.batches.flatMap { $0.columns.isEmpty ? [] : $0.columns[0].values }
            switch kind {
            case "IN": lists[at] = column.map { Expression.literal($0, at: at) }
            case "EXISTS": values[at] = .literal(.bool(result.rowCount > 0), at: at)
            default:
                guard column.count <= 1 else {
                    throw SQLError(sql: sql, position: at, message: "a subquery used as a value returned \(column.count) rows; it must return at most one (add LIMIT 1 or an aggregate)")
                }
                // The value keeps the subquery's column type, so it compares (or refuses to) as that type would.
                let type = schema.fields[0].type
                let temporal: Bool = { if case .timestamp = type { return true } else { return type == .date32 } }()
                values[at] = type.isString || type.isInteger || type.isFloatingPoint || type == .bool || temporal
                    ? .cast(.literal(column.first ?? .null, at: at), type: type, at: at) : .literal(column.first ?? .null, at: at)
            }
        }
        // (When planning, nothing ran: IN stands as an empty list, a value as NULL, EXISTS as false.)
        func rewrite(_ e: Expression) -> Expression {
            e.rewritten { node in
                switch node {
                case .inSubquery(let x, _, let negated, let at):
                    let items = lists[at] ?? []
                    // An empty list: IN is false and NOT IN true for every x, NULL included (SQL's rule).
                    return items.isEmpty ? .literal(.bool(negated), at: at) : .inList(rewrite(x), items, negated: negated, at: at)
                case .scalarSubquery(_, let at): return values[at] ?? .literal(.null, at: at)
                case .exists(_, let negated, let at):
                    if case .lookup = values[at] { return negated ? .unary(op: "NOT", values[at]!, at: at) : values[at] }
                    guard case .literal(.bool(let b), _) = values[at] else { return .literal(.bool(negated), at: at) }
                    return .literal(.bool(b != negated), at: at)
                default: return nil
                }
            }
        }
        var out = part
        out.filter = part.filter.map(rewrite)
        out.having = part.having.map(rewrite)
        out.qualify = part.qualify.map(rewrite)
        out.items = part.items.map { SelectItem(expression: rewrite($0.expression), alias: $0.alias) }
        out.orderBy = part.orderBy.map { OrderItem(expression: rewrite($0.expression), descending: $0.descending, nullsFirst: $0.nullsFirst) }
        out.groupBy = part.groupBy.map(rewrite)
        return (out, lines)
    }

    /// The qualified columns a subquery names of the outer query's tables (and not of its own FROM).
    static func outerReferences(_ query: QueryStatement, outerTables: Set<String>) -> [(table: String, name: String)] {
        var found: [(table: String, name: String)] = []
        for part in query.parts {
            let own = Set([part.alias ?? part.dataset] + part.joins.map { $0.alias ?? $0.dataset })
            func walk(_ e: Expression) {
                if case .column(let table?, let name, _) = e, outerTables.contains(table), !own.contains(table),
                   !found.contains(where: { $0.table == table && $0.name == name }) {
                    found.append((table, name))
                }
                e.children.forEach(walk)
            }
            let expressions = part.items.map(\.expression) + part.groupBy + part.orderBy.map(\.expression)
                + [part.filter, part.having, part.qualify].compactMap { $0 } + part.joins.compactMap(\.on)
            expressions.forEach(walk)
        }
        return found
    }

    /// Runs a correlated subquery once per distinct value of the outer columns it names (read from the
    /// outer relation), each time with those columns replaced by the values. When planning, it is
    /// planned once with NULLs in their place.
    private func correlated(_ query: QueryStatement, kind: String, outer: [(table: String, name: String)], relation: Relation,
                            names: [String: any Relation], at: Int) async throws -> (LookupTable, [PlanLine]?) {
        func substituted(_ values: [Value]) -> QueryStatement {
            func replace(_ e: Expression) -> Expression {
                e.rewritten { node in
                    guard case .column(let table?, let name, let position) = node,
                          let i = outer.firstIndex(where: { $0.table == table && $0.name == name }) else { return nil }
                    return .literal(values[i], at: position)
                }
            }
            var q = query
            for p in q.parts.indices {
                q.parts[p].items = q.parts[p].items.map { SelectItem(expression: replace($0.expression), alias: $0.alias) }
                q.parts[p].filter = q.parts[p].filter.map(replace)
                q.parts[p].having = q.parts[p].having.map(replace)
                q.parts[p].groupBy = q.parts[p].groupBy.map(replace)
                q.parts[p].orderBy = q.parts[p].orderBy.map { OrderItem(expression: replace($0.expression), descending: $0.descending, nullsFirst: $0.nullsFirst) }
                for j in q.parts[p].joins.indices { q.parts[p].joins[j].on = q.parts[p].joins[j].on.map(replace) }
            }
            return q
        }
        let missing: Value = kind == "EXISTS" ? .bool(false) : .null
        // Planned once with NULLs for the outer values: its shape and type hold even when the outer query has no rows.
        let planned = try await planner.plan(substituted(outer.map { _ in .null }), names: names)
        guard kind == "EXISTS" || planned.schema.fields.count == 1 else {
            throw SQLError(sql: sql, position: at, message: "a subquery used as a value must return one column, not \(planned.schema.fields.count)")
        }
        let type: ArrowType = kind == "EXISTS" ? .bool : planned.schema.fields[0].type
        if planning { return (LookupTable(answers: [:], type: type, missing: missing), planned.lines) }
        // The outer relation's distinct values of those columns.
        let columns = outer.map { relation.qualified ? "\($0.table).\($0.name)" : $0.name }
        for (column, ref) in zip(columns, outer) where relation.schema.index(of: column) == nil {
            throw SQLError(sql: sql, position: at, message: "the subquery names \(ref.table).\(ref.name), which the outer query does not have")
        }
        var distinct: [[Value]: [Value]] = [:]
        try await relation.scan(columns: columns) { batch in
            for r in 0..<batch.length {
                let row = batch.row(r)
                distinct[row.map(Evaluator.hashKey)] = row
            }
        }
        let limit = 10_000
        guard distinct.count <= limit else {
            throw SQLError(sql: sql, position: at, message: "a correlated subquery over \(distinct.count) distinct outer values (more than \(limit)) would run that many times; "
                           + "rewrite it as a join (EXISTS as SELECT DISTINCT … JOIN, a scalar as a LEFT JOIN on a GROUP BY)")
        }
        var answers: [[Value]: Value] = [:]
        for (key, values) in distinct {
            let result = try await run(substituted(values), names: names)
            if kind == "EXISTS" {
                answers[key] = .bool(result.rowCount > 0)
                continue
            }
            let column = result.batches.flatMap { $0.columns[0].values }
            guard column.count <= 1 else {
                throw SQLError(sql: sql, position: at, message: "a subquery used as a value returned \(column.count) rows for one outer row; it must return at most one (add LIMIT 1 or an aggregate)")
            }
            answers[key] = column.first ?? .null
        }
        return (LookupTable(answers: answers, type: type, missing: missing), nil)
    }

    /// UNION [ALL], EXCEPT and INTERSECT (which binds tighter, as in standard SQL), then the whole
    /// query's ORDER BY / LIMIT. Each column takes the parts' common type (float64 over integers; a
    /// part whose column is all NULL takes any type); UNION, EXCEPT and INTERSECT drop repeated rows.
    private func union(_ results: [QueryResult], _ query: QueryStatement) throws -> QueryResult {
        let width = results[0].schema.fields.count
        for (p, result) in results.enumerated() where result.schema.fields.count != width {
            throw SQLError(sql: sql, position: query.parts[p].datasetPosition,
                           message: "\(query.operators[p - 1].rawValue) needs parts with the same number of columns (\(width) and \(result.schema.fields.count))")
        }
        var fields = results[0].schema.fields
        for c in 0..<width {
            let typed = results.filter { r in r.batches.contains { $0.columns[c].nullCount < $0.length } }.map { $0.schema.fields[c].type }
            let types = typed.isEmpty ? [fields[c].type] : typed
            let numeric = types.allSatisfy { $0.isInteger || $0.isFloatingPoint }
            if numeric && types.contains(where: \.isFloatingPoint) { fields[c] = Field(name: fields[c].name, type: .float64) }
            else if numeric && Set(types).count > 1 { fields[c] = Field(name: fields[c].name, type: types.allSatisfy { $0 == .uint64 } ? .uint64 : .int64) }
            else if let mixed = types.first(where: { $0 != types[0] }), !(numeric || (mixed.isString && types[0].isString)) {
                throw SQLError(sql: sql, position: query.parts[0].datasetPosition,
                               message: "column \(c + 1) of \(query.operators[0].rawValue) is \(types[0].name) in one part and \(mixed.name) in another; CAST one of them")
            } else { fields[c] = Field(name: fields[c].name, type: types[0]) }
        }
        let schema = Schema(fields: fields)
        let evaluator = Evaluator(sql: sql)
        let parts: [[[Value]]] = try results.map { result in
            try result.batches.flatMap { batch in
                try (0..<batch.length).map { r in try fields.indices.map { try evaluator.coerce(batch.columns[$0].value(at: r), to: fields[$0].type, at: 0) } }
            }
        }
        func key(_ row: [Value]) -> [Value] { row.map(Evaluator.hashKey) }
        func distinct(_ rows: [[Value]]) -> [[Value]] {
            var seen = Set<[Value]>()
            return rows.filter { seen.insert(key($0)).inserted }
        }
        func combine(_ op: SetOperator, _ a: [[Value]], _ b: [[Value]]) -> [[Value]] {
            switch op {
            case .unionAll: return a + b
            case .union: return distinct(a + b)
            case .except:
                let other = Set(b.map(key))
                return distinct(a).filter { !other.contains(key($0)) }
            case .intersect:
                let other = Set(b.map(key))
                return distinct(a).filter { other.contains(key($0)) }
            }
        }
        var operands = [parts[0]], operators: [SetOperator] = []
        for (i, op) in query.operators.enumerated() {
            if op == .intersect { operands[operands.count - 1] = combine(.intersect, operands[operands.count - 1], parts[i + 1]) }
            else { operators.append(op); operands.append(parts[i + 1]) }
        }
        var rows = operands[0]
        for (i, op) in operators.enumerated() { rows = combine(op, rows, operands[i + 1]) }
        if !query.orderBy.isEmpty {
            let names = schema.fields.map(\.name)
            let keys = try query.orderBy.map { order -> (Int, OrderItem) in
                switch order.expression {
                case .column(nil, let name, _) where names.contains(name): return (names.firstIndex(of: name)!, order)
                case .literal(.int(let n), _) where n >= 1 && n <= names.count: return (Int(n) - 1, order)
                default: throw SQLError(sql: sql, position: order.expression.position, message: "ORDER BY after \(query.operators[0].rawValue) names an output column or its position")
                }
            }
            var ticker = StatementTicker()
            try rows.sort { a, b in
                try ticker.tick()
                for (index, order) in keys { if let first = order.compare(a[index], b[index]) { return first } }
                return false
            }
        }
        let start = min(query.offset, rows.count)
        let end = query.limit.map { min(rows.count - start, $0) + start } ?? rows.count
        return try QueryResult(schema: schema, rows: rows[start..<end])
    }
}

/// Scan → filter → (group and aggregate) → having → project → distinct → order → offset/limit.
///
/// Fragments are filtered, aggregated or projected in parallel (`Relation.scanFragments`);
/// their results are combined in fragment order. A query without GROUP BY, ORDER BY or
/// DISTINCT streams its result a fragment at a time.
struct QueryExecutor: Sendable {
    let sql: String
    let statement: SelectStatement
    let relation: Relation
    /// The statement as written (before IN subqueries became lists), for the plan's text.
    var written: SelectStatement?
    /// The plans of IN subqueries, printed after this SELECT's plan.
    var subqueryLines: [PlanLine] = []

    /// What one fragment's parallel step hands to the ordered step after it.
    private struct Work: Sendable {
        var columns: [ArrowArray] = []
        /// The batch's rows (its columns may be none, when the query names no column).
        var rows = 0
        var selection: [Int]?
        var partial: PartialAggregates?
        var candidates: [(out: [Value], keys: [Value])] = []
        var output: RecordBatch?
    }

    /// The plan of this SELECT, with the plans of its IN subqueries after it; nothing runs.
    func plan() throws -> (schema: Schema, lines: [PlanLine]) {
        let plan = try SelectPlan(sql: sql, statement: statement, relation: relation)
        return (plan.schema, plan.lines(written: written ?? statement) + subqueryLines)
    }

    func run() async throws -> QueryResult {
        var batches: [RecordBatch] = []
        let schema = try await stream { batches.append($0) }
        if batches.isEmpty { batches = [RecordBatch(schema: schema, columns: schema.fields.map { .nulls(type: $0.type, count: 0) }, length: 0)] }
        return QueryResult(schema: schema, batches: batches)
    }

    /// Runs the query, handing result batches to `emit` as they are ready, and returns the result's schema.
    @discardableResult
    func stream(_ emit: (RecordBatch) async throws -> Void) async throws -> Schema {
        let plan = try SelectPlan(sql: sql, statement: statement, relation: relation)
        let (schema, outputs, selectItems, groupKeys, having, orderKeys) = (plan.schema, plan.outputs, plan.items, plan.groupKeys, plan.having, plan.orderKeys)
        let (scanned, wantsRowID, batchIndex, pruning, aggregates, slotCount) = (plan.scanned, plan.wantsRowID, plan.batchIndex, plan.pruning, plan.aggregates, plan.slotCount)
        let (grouped, condition, typed, streaming, topK, nearest) = (plan.grouped, plan.condition, plan.typed, plan.streaming, plan.topK, plan.nearest)
        let windowed = plan.windowed
        let items = selectItems
        let evaluator = plan.evaluator
        let vectors = plan.vectors
        let ordering = orderKeys

        // An output row and its ORDER BY keys.
        @Sendable func project(_ values: [Value], _ aggregates: [Value]) throws -> (out: [Value], keys: [Value]) {
            let out = try outputs.map { try evaluator.evaluate($0.0, values, aggregates) }
            let keys = try ordering.map { bound, index, _ in try index.map { out[$0] } ?? evaluator.evaluate(bound!, values, aggregates) }
            return (out, keys)
        }
        let specs = orderKeys.map(\.2)
        @Sendable func sortRows(_ list: inout [(out: [Value], keys: [Value])]) throws {
            var ticker = StatementTicker()
            try list.sort { a, b in
                try ticker.tick()
                for (i, spec) in specs.enumerated() { if let first = spec.compare(a.keys[i], b.keys[i]) { return first } }
                return false
            }
        }

        // The parallel step: filter, then aggregate, rank or project one fragment.
        let transform: @Sendable (RecordBatch) throws -> Work = { batch in
            let n = batch.length
            var work = Work(columns: batchIndex.map { batch.columns[$0] }, rows: n)
            let mask = try condition?.mask(work.columns, n)
            if let typed {
                work.partial = typed.aggregate(work.columns, n, mask: mask)
                return work
            }
            if let mask { work.selection = Condition.selection(mask) }  // nil when every row passed: no copies
            if grouped { return work }
            if windowed {  // the filtered rows, kept as columns until every batch is in
                if let selection = work.selection { (work.columns, work.rows, work.selection) = (work.columns.map { $0.take(selection) }, selection.count, nil) }
                return work
            }
            if streaming {
                work.output = try outputBatch(schema, outputs.map(\.0), work.columns, work.selection, n, vectors: vectors, items: selectItems)
                work.columns = []
                return work
            }
            let rows = topK.flatMap { k in nearest?.candidates(work.columns, work.selection, n, k: k) } ?? work.selection ?? Array(0..<n)
            for i in rows {
                work.candidates.append(try project(work.columns.map { $0.value(at: i) }, []))
                if let k = topK, work.candidates.count >= max(2 * k, 1024) {
                    try sortRows(&work.candidates)
                    work.candidates.removeLast(work.candidates.count - k)
                }
            }
            work.columns = []
            return work
        }

        var skip = statement.offset
        var left = statement.limit ?? .max
        var candidates: [(out: [Value], keys: [Value])] = []  // ORDER BY … LIMIT k: the best rows so far
        var merged: PartialAggregates?
        var slow = SlowGrouping()
        var windowBatches: [(columns: [ArrowArray], rows: Int)] = []
        let space = SpillSpace()
        let collector = RowCollector(order: specs, distinct: statement.distinct, widths: (schema.fields.count, orderKeys.count), space: space)
        /// Rows on their way to DISTINCT, ORDER BY and the output: one per list item under UNNEST (none for a NULL or empty list).
        func keep(_ rows: [OutputRow]) throws {
            guard let u = plan.unnestIndex else { return try collector.add(rows) }
            let keyed = orderKeys.indices.filter { orderKeys[$0].1 == u }
            try collector.add(rows.flatMap { row -> [OutputRow] in
                guard case .list(let items) = row.out[u] else { return [] }
                return items.map { item in
                    var copy = row
                    copy.out[u] = item
                    for k in keyed { copy.keys[k] = item }
                    return copy
                }
            })
        }
        /// Streaming: OFFSET and LIMIT applied to a batch on its way out.
        func hand(_ output: RecordBatch) async throws {
            let from = min(skip, output.length), to = from + min(output.length - from, left)  // (left may be Int.max)
            skip -= from
            left -= to - from
            if to > from {
                try await emit(from == 0 && to == output.length ? output
                    : RecordBatch(schema: schema, columns: output.columns.map { $0.take(Array(from..<to)) }, length: to - from))
            }
        }
        // Groups held in memory; past the budget, the groups are dropped and the input is read again into hash partitions.
        let canSpillGroups = !windowed && !statement.groupBy.isEmpty && !batchIndex.isEmpty
        var groupBytes = 0
        var groupsOverflowed = false
        func keepGroups(_ bytes: Int) throws -> Bool {
            if StatementLimit.reserve(bytes) { groupBytes += bytes; return true }
            guard canSpillGroups else { try StatementLimit.charge(bytes, for: "the groups of GROUP BY"); return true }
            StatementLimit.release(groupBytes)
            (groupBytes, groupsOverflowed, merged, slow) = (0, true, nil, SlowGrouping())
            return false
        }
        if left > 0 {
            try await relation.scanFragments(columns: scanned, includeRowID: wantsRowID, pruning: pruning, transform: transform) { work in
                if let output = work.output {
                    try await hand(output)
                    return left > 0
                }
                if let partial = work.partial {
                    let before = merged?.count ?? 0
                    if merged == nil { merged = partial } else { merged!.merge(partial) }
                    return try keepGroups((merged!.count - before) * (24 + 16 * merged!.states.count))
                }
                if windowed && !grouped {
                    try StatementLimit.charge(MemoryEstimate.bytes(work.columns), for: "the rows of a window function")
                    windowBatches.append((work.columns, work.rows))
                    return true
                }
                if grouped {
                    let before = slow.groupCount
                    try slow.add(work.columns, work.selection, rows: work.rows, groupKeys: groupKeys, aggregates: aggregates, vectors: vectors)
                    return try keepGroups((slow.groupCount - before) * (64 + work.columns.count * MemoryLayout<Value>.stride + aggregates.count * 64))
                }
                guard let k = topK else {
                    try keep(work.candidates)
                    return true
                }
                candidates += work.candidates
                if candidates.count >= max(2 * k, 1024) {
                    try sortRows(&candidates)
                    candidates.removeLast(candidates.count - k)
                }
                return true
            }
        }
        if streaming { return schema }
        try keep(candidates)

        if windowed && !grouped {
            // Each batch gains its window columns; QUALIFY filters it; then it streams out, or its rows go on to sort.
            let windowColumns = try WindowEvaluator(evaluator: evaluator, specs: plan.windows).columns(windowBatches, vectors: vectors)
            let streams = orderKeys.isEmpty && !statement.distinct && plan.unnestIndex == nil
            for (b, batch) in windowBatches.enumerated() {
                let columns = batch.columns + windowColumns[b]
                let selection = try plan.qualifyCondition.flatMap { Condition.selection(try $0.mask(columns, batch.rows)) }
                if streams {
                    guard left > 0 else { break }
                    try await hand(try outputBatch(schema, outputs.map(\.0), columns, selection, batch.rows, vectors: vectors, items: selectItems))
                    continue
                }
                try keep(try (selection ?? Array(0..<batch.rows)).map { i in try project(columns.map { $0.value(at: i) }, []) })
            }
            if streams { return schema }
        }
        /// The output rows of finished groups: HAVING, window functions over groups, QUALIFY, then the SELECT list.
        func groupOutput(_ merged: PartialAggregates?, _ slow: SlowGrouping) throws -> [OutputRow] { do {
            var rows: [(values: [Value], aggregates: [Value])] = []
            if let typed, let merged {
                for (key, values) in try merged.results(typed.functions) {
                    var representative = [Value](repeating: .null, count: slotCount)
                    if let slot = typed.keySlot { representative[slot] = key }
                    rows.append((representative, values))
                }
            } else {
                rows = try slow.rows(aggregates)
            }
            if rows.isEmpty && statement.groupBy.isEmpty {  // aggregates over no rows: one row
                rows = [(Array(repeating: .null, count: slotCount), try aggregates.map { try Accumulator(distinct: $0.distinct).result($0) })]  // never a sum out of range
            }
            if let having {
                rows = try rows.filter { if case .bool(true) = try evaluator.evaluate(having, $0.values, $0.aggregates) { return true } else { return false } }
            }
            if windowed {
                rows = try WindowEvaluator(evaluator: evaluator, specs: plan.windows).apply(rows)
                if let qualify = plan.qualify {
                    rows = try rows.filter { if case .bool(true) = try evaluator.evaluate(qualify, $0.values, $0.aggregates) { return true } else { return false } }
                }
            }
            return try rows.map { try project($0.values, $0.aggregates) }
        } catch let overflow as SumOutOfRange {
            let spec = aggregates[overflow.aggregate]
            throw SQLError(sql: sql, position: spec.position,
                           message: "\(spec.text) is \(overflow.exact), outside int64; sum CAST(… AS float64) for an approximate total")
        } }
        if grouped && !groupsOverflowed {
            try keep(try groupOutput(merged, slow))
            StatementLimit.release(groupBytes)
        } else if grouped {
            // Grace aggregation: the input again, split by the hash of its group keys into files, aggregated a file at a
            // time; a file whose groups still do not fit is split again (by another hash), up to three times.
            let count = 64
            @Sendable func parts(_ columns: [ArrowArray], _ n: Int, salt: Int) throws -> [(partition: Int, columns: [ArrowArray], rows: Int)] {
                var cache: [Int: Vector] = [:]
                let keys = try groupKeys.map { try vectors.evaluate($0, columns, &cache, n) }
                return split(columns, by: partitionNumbers(keys.map { key in { key.value($0) } }, rows: n, count: count, salt: salt), count: count)
            }
            func write(_ parts: [(partition: Int, columns: [ArrowArray], rows: Int)], to files: inout [BatchSpill?]) throws {
                for part in parts {
                    let schema = Schema(fields: part.columns.indices.map { Field(name: "c\($0)", type: part.columns[$0].type) })
                    if files[part.partition] == nil { files[part.partition] = try BatchSpill(schema: schema, space: space) }
                    try files[part.partition]!.write(RecordBatch(schema: schema, columns: part.columns, length: part.rows))
                }
            }
            func aggregate(_ batches: [RecordBatch], depth: Int) throws {
                var merged: PartialAggregates?
                var slow = SlowGrouping()
                var held = 0
                defer { StatementLimit.release(held) }
                for batch in batches {
                    try StatementLimit.check()
                    let bytes: Int
                    if let typed {
                        let before = merged?.count ?? 0
                        let partial = typed.aggregate(batch.columns, batch.length, mask: nil)
                        if merged == nil { merged = partial } else { merged!.merge(partial) }
                        bytes = (merged!.count - before) * (24 + 16 * merged!.states.count)
                    } else {
                        let before = slow.groupCount
                        try slow.add(batch.columns, nil, rows: batch.length, groupKeys: groupKeys, aggregates: aggregates, vectors: vectors)
                        bytes = (slow.groupCount - before) * (64 + batch.columns.count * MemoryLayout<Value>.stride + aggregates.count * 64)
                    }
                    guard StatementLimit.reserve(bytes) else {
                        guard depth < 3 else {
                            throw StatementStopped.outOfMemory(limit: StatementLimit.memory?.limit ?? 0, what: "the groups of GROUP BY (one key's rows alone may not fit)")
                        }
                        StatementLimit.release(held)
                        (held, merged, slow) = (0, nil, SlowGrouping())
                        var files = [BatchSpill?](repeating: nil, count: count)
                        for batch in batches { try write(try parts(batch.columns, batch.length, salt: depth + 1), to: &files) }
                        for case let file? in files { try aggregate(try file.finish(), depth: depth + 1) }
                        return
                    }
                    held += bytes
                }
                try keep(try groupOutput(merged, slow))
            }
            var files = [BatchSpill?](repeating: nil, count: count)
            try await relation.scanFragments(columns: scanned, includeRowID: wantsRowID, pruning: pruning, transform: { batch in
                var columns = batchIndex.map { batch.columns[$0] }
                var n = batch.length
                if let condition, let kept = Condition.selection(try condition.mask(columns, n)) { (columns, n) = (columns.map { $0.take(kept) }, kept.count) }
                return try parts(columns, n, salt: 0)
            }, consume: { found in
                try write(found, to: &files)
                return true
            })
            for case let file? in files {
                try collector.makeRoom()
                try aggregate(try file.finish(), depth: 0)
            }
        }
        try await collector.finish { rows in
            let from = min(skip, rows.count), to = from + min(rows.count - from, left)
            skip -= from
            left -= to - from
            if to > from {
                var columns: [ArrowArray] = []
                for (i, field) in schema.fields.enumerated() {
                    let builder = ArrayBuilder(type: field.type)
                    for row in rows[from..<to] { try append(row.out[i], to: builder, field, items[i]) }
                    columns.append(builder.finish())
                }
                try await emit(RecordBatch(schema: schema, columns: columns, length: to - from))
            }
            return left > 0
        }
        return schema
    }

    private func append(_ value: Value, to builder: ArrayBuilder, _ field: Field, _ item: SelectItem) throws {
        do { try builder.append(value) } catch {
            throw SQLError(sql: sql, position: item.expression.position,
                           message: "column '\(field.name)' mixes types: \(value.displayText) is not \(field.type.name); add a CAST")
        }
    }

    /// The output columns for the selected rows of one batch: plain columns are taken
    /// as they are; expressions are evaluated over the selected rows only.
    private func outputBatch(_ schema: Schema, _ outputs: [BoundExpression], _ columns: [ArrowArray], _ selection: [Int]?, _ n: Int,
                             vectors: VectorEvaluator, items: [SelectItem]) throws -> RecordBatch {
        let count = selection?.count ?? n
        var compacted: [ArrowArray]?
        var cache: [Int: Vector] = [:]
        var arrays: [ArrowArray] = []
        for (i, output) in outputs.enumerated() {
            if case .column(let slot) = output {
                arrays.append(selection.map { columns[slot].take($0) } ?? columns[slot])
                continue
            }
            if compacted == nil { compacted = selection.map { s in columns.map { $0.take(s) } } ?? columns }
            let vector = try vectors.evaluate(output, compacted!, &cache, count)
            let builder = ArrayBuilder(type: schema.fields[i].type)
            for r in 0..<count { try append(vector.value(r), to: builder, schema.fields[i], items[i]) }
            arrays.append(builder.finish())
        }
        return RecordBatch(schema: schema, columns: arrays, length: count)
    }
}
