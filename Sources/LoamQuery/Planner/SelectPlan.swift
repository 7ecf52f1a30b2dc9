import Foundation
import Loam
import LoamFormat
import LoamTable

/// One SELECT bound against its relation, with a physical strategy chosen for each
/// operator: the plan EXPLAIN prints and `QueryExecutor` runs. Making one reads no row.
///
/// The logical operators, from the result down: limit/offset → sort or top-k →
/// distinct → project → having → aggregate → filter → scan. The choices:
/// the WHERE as a `MaskKernel` over Arrow buffers or the evaluator; aggregation
/// typed and partial per fragment (`TypedAggregation`) or row by row; ORDER BY …
/// LIMIT k as a bounded top-k, from float buffers for a vector distance
/// (`VectorTopK`); streaming when nothing needs the whole result.
struct SelectPlan: Sendable {
    let statement: SelectStatement
    let relation: Relation
    /// The result's columns.
    let schema: Schema
    let items: [SelectItem]
    let names: [String]
    let outputs: [(BoundExpression, ArrowType)]
    let groupKeys: [BoundExpression]
    let having: BoundExpression?
    /// Window functions, computed over the rows after HAVING; their results follow the aggregates.
    let windows: [WindowSpec]
    let qualify: BoundExpression?
    var windowed: Bool { !windows.isEmpty }
    /// The select item that is `unnest(list)`: each row repeats once per item of the list.
    let unnestIndex: Int?
    /// QUALIFY over an ungrouped query's batches (their window columns included).
    let qualifyCondition: Condition?
    /// ORDER BY: a bound expression, or an output column's index.
    let orderKeys: [(BoundExpression?, Int?, OrderItem)]
    let aggregates: [AggregateSpec]
    /// Columns the bound expressions read, in slot order.
    let slotNames: [String]
    var slotCount: Int { slotNames.count }
    /// Columns read from the relation (projection pushdown), and whether `_rowid` comes first.
    let scanned: [String]
    let wantsRowID: Bool
    /// Batch column of each slot.
    let batchIndex: [Int]
    let pruning: PruningPredicate?
    let evaluator: Evaluator
    let vectors: VectorEvaluator

    // Physical choices.
    let grouped: Bool
    let condition: Condition?
    let typed: TypedAggregation?
    let streaming: Bool
    let topK: Int?
    let nearest: VectorTopK?

    /// `LOAM_SQL_REFERENCE=1`: no fast path at all (no mask kernel, typed aggregation, top-k or typed
    /// vector loop), so every expression goes through the row evaluator. The differential tests run
    /// each query this way too and compare (SQLancer's non-optimizing reference engine).
    static let reference = ProcessInfo.processInfo.environment["LOAM_SQL_REFERENCE"] == "1"

    init(sql: String, statement: SelectStatement, relation: Relation) throws {
        var binder = Binder(sql: sql, schema: relation.schema, dataset: relation.name, alias: statement.alias)
        binder.qualified = relation.qualified
        binder.usingColumns = relation.usingColumns
        binder.hasRowID = relation.dataset != nil
        let evaluator = Evaluator(sql: sql)

        // Expand `*`, then bind WHERE (no aggregates), GROUP BY keys, the select list, HAVING and ORDER BY.
        var items: [SelectItem] = []
        for item in statement.items {
            if case .star = item.expression {
                items += binder.starColumns.filter { !relation.hidesRowID || ($0 != "_rowid" && !$0.hasSuffix("._rowid")) }.map { SelectItem(expression: .column(table: nil, name: $0, at: item.expression.position), alias: nil) }
            } else {
                items.append(item)
            }
        }
        let filter = try statement.filter.map { try binder.bind($0, allowAggregates: false) }
        if let (_, type) = filter, type != .bool {
            throw SQLError(sql: sql, position: statement.filter!.position, message: "WHERE needs a boolean condition, not \(type.name)")
        }
        // GROUP BY may name an output column by its position or its alias (when no column has that name).
        let columnNames = Set(relation.schema.fields.flatMap { [$0.name, String($0.name.split(separator: ".").last ?? "")] })
        let groupBy = try statement.groupBy.map { key -> Expression in
            if case .literal(.int(let n), let at) = key {
                guard n >= 1 && n <= items.count else { throw SQLError(sql: sql, position: at, message: "GROUP BY \(n) is not a column of the result (1 to \(items.count))") }
                return items[Int(n) - 1].expression
            }
            if case .column(nil, let name, _) = key, !columnNames.contains(name), let item = items.first(where: { $0.alias == name }) { return item.expression }
            return key
        }
        for key in groupBy where Self.hasWindow(key) {
            throw SQLError(sql: sql, position: key.position, message: "GROUP BY cannot hold a window function; group in a subquery, then apply the window")
        }
        let groupKeys = try groupBy.map { try binder.bind($0, allowAggregates: false).0 }
        binder.groupKeys = groupBy.map(\.canonical)
        let aggregatesInSelect = items.contains { Self.hasAggregate($0.expression) }
        let grouped = !groupBy.isEmpty || aggregatesInSelect || statement.having != nil
        binder.grouping = grouped
        let having = try statement.having.map { try binder.bind($0, allowAggregates: true).0 }
        binder.windowsAllowed = true
        var outputs = try items.map { try binder.bind($0.expression, allowAggregates: true) }
        var qualify = try statement.qualify.map { try binder.bind($0, allowAggregates: true) }
        if let (_, type) = qualify, type != .bool {
            throw SQLError(sql: sql, position: statement.qualify!.position, message: "QUALIFY needs a boolean condition, not \(type.name)")
        }
        // ORDER BY may name an output column or alias, or be any expression.
        let names = items.map { $0.alias ?? $0.expression.outputName }
        var orderKeys: [(BoundExpression?, Int?, OrderItem)] = []
        for order in statement.orderBy {
            if case .column(nil, let name, _) = order.expression, let index = names.firstIndex(of: name) {
                orderKeys.append((nil, index, order))
            } else if case .literal(.int(let n), let at) = order.expression {
                guard n >= 1 && n <= names.count else { throw SQLError(sql: sql, position: at, message: "ORDER BY \(n) is not a column of the result (1 to \(names.count))") }
                orderKeys.append((nil, Int(n) - 1, order))
            } else {
                orderKeys.append((try binder.bind(order.expression, allowAggregates: true).0, nil, order))
            }
        }
        binder.windowsAllowed = false
        // Window results: in a grouped query they follow the aggregates in each row's computed values;
        // in an ungrouped one they are extra columns of the batches, after the scanned ones.
        let columnBase = binder.columns.count
        let resolver = binder
        func resolve(_ e: BoundExpression) -> BoundExpression {
            grouped ? resolver.windowsResolved(e) : resolver.windowsAsColumns(e, base: columnBase)
        }
        outputs = outputs.map { (resolve($0.0), $0.1) }
        qualify = qualify.map { (resolve($0.0), $0.1) }
        orderKeys = orderKeys.map { ($0.0.map(resolve), $0.1, $0.2) }
        if statement.qualify != nil && binder.windows.isEmpty {
            throw SQLError(sql: sql, position: statement.qualify!.position, message: "QUALIFY filters on window functions, and the query has none; use WHERE or HAVING")
        }
        // A column selected as it is keeps its field's nullability and metadata (so `--format arrow` and
        // CREATE TABLE AS carry them); computed columns are nullable, without metadata.
        let sources: [Field?] = outputs.map { output in
            guard case .column(let slot) = output.0, slot < binder.columns.count else { return nil }  // (window columns come after)
            let name = binder.columns[slot]
            if name == "_rowid", relation.schema.index(of: "_rowid") == nil { return Field(name: name, type: .uint64, nullable: false) }
            return relation.schema.index(of: name).map { relation.schema.fields[$0] }
        }
        let schema = Self.outputSchema(names: names, types: outputs.map(\.1), sources: sources)

        // Scan only the columns the query uses, skipping fragments the zone maps rule out.
        let pruning = filter.map { Pruning.filter($0.0, columns: binder.columns) }
        // `_rowid` is the dataset pseudo-column unless the relation has a real column of that name (loam_diff has).
        let pseudoRowID = relation.schema.index(of: "_rowid") == nil
        let scanned = binder.columns.filter { $0 != "_rowid" || !pseudoRowID }
        let wantsRowID = pseudoRowID && binder.columns.contains("_rowid")
        if wantsRowID && relation.dataset == nil {
            throw SQLError(sql: sql, position: statement.datasetPosition, message: "_rowid belongs to datasets; select it inside the subquery or WITH")
        }
        // Batch column of each binder slot, and its type.
        let batchIndex = binder.columns.map { name in name == "_rowid" && wantsRowID ? 0 : (wantsRowID ? 1 : 0) + scanned.firstIndex(of: name)! }
        let types = binder.columns.map { name in name == "_rowid" && wantsRowID ? ArrowType.uint64 : relation.schema.fields[relation.schema.index(of: name)!].type }
        let typed = grouped && !Self.reference ? TypedAggregation.plan(groupKeys: groupKeys, aggregates: binder.aggregates, types: types) : nil
        let vectors = VectorEvaluator(rows: evaluator, typedLoops: !Self.reference)
        let condition = filter.map { Condition($0.0, types: types, vectors: vectors) }
        let aggregates = binder.aggregates

        // Without grouping, ORDER BY or DISTINCT, rows stream out batch by batch.
        let windowed = !binder.windows.isEmpty
        // unnest(list) as a whole select item: each result row becomes one row per item of its list.
        func unnests(_ e: Expression) -> Int {
            if case .call("unnest", let args, _, _) = e { return 1 + args.map(unnests).reduce(0, +) }
            return e.children.map(unnests).reduce(0, +)
        }
        let unnestIndex = items.firstIndex { if case .call("unnest", _, _, _) = $0.expression { return true } else { return false } }
        let unnestCount = items.map { unnests($0.expression) }.reduce(0, +) + ([statement.filter, statement.having, statement.qualify].compactMap { $0 }.map(unnests).reduce(0, +))
        if unnestCount > (unnestIndex == nil ? 0 : 1) {
            let at = items.first { unnests($0.expression) > 0 }?.expression.position ?? statement.filter?.position ?? 0
            throw SQLError(sql: sql, position: at, message: "unnest() must be a whole select item, and one per query: SELECT id, unnest(tags) AS tag FROM …")
        }
        let streaming = !grouped && !windowed && unnestIndex == nil && orderKeys.isEmpty && !statement.distinct
        // ORDER BY … LIMIT k (no grouping or DISTINCT): keep the best k rows as the scan goes, not every row.
        let topK: Int? = !grouped && !windowed && unnestIndex == nil && !orderKeys.isEmpty && !statement.distinct && !Self.reference ? statement.limit.flatMap { limit in
            // A bound beyond any result (LIMIT 2^62 …) is a full sort: no overflow in limit + offset or in 2k.
            let (k, overflow) = limit.addingReportingOverflow(statement.offset)
            return overflow || k > 1 << 40 ? nil : k
        } : nil

        // ORDER BY distance(vector column, [constants]) LIMIT k: rank from the float buffers.
        let nearest = topK != nil && orderKeys.count == 1 && orderKeys[0].0 != nil
            ? VectorTopK.plan(orderKeys[0].0!, descending: orderKeys[0].2.descending, types: types) : nil
        self.statement = statement
        self.relation = relation
        self.schema = schema
        self.items = items
        self.names = names
        self.outputs = outputs
        self.groupKeys = groupKeys
        self.having = having
        self.unnestIndex = unnestIndex
        self.qualify = qualify?.0
        qualifyCondition = grouped ? nil : qualify.map { Condition($0.0, types: types + binder.windows.map(\.type), vectors: vectors) }
        windows = binder.windows
        self.orderKeys = orderKeys
        self.aggregates = aggregates
        slotNames = binder.columns
        self.scanned = scanned
        self.wantsRowID = wantsRowID
        self.batchIndex = batchIndex
        self.pruning = pruning
        self.evaluator = evaluator
        self.vectors = vectors
        self.grouped = grouped
        self.condition = condition
        self.typed = typed
        self.streaming = streaming
        self.topK = topK
        self.nearest = nearest
    }

    /// Output fields: the names, made unique (`n`, `n_2`, …), with their bound types.
    private static func outputSchema(names: [String], types: [ArrowType], sources: [Field?]) -> Schema {
        var fields: [Field] = []
        var used = Set<String>()
        for (i, (name, type)) in zip(names, types).enumerated() {
            var unique = name
            var n = 1
            while used.contains(unique) { n += 1; unique = "\(name)_\(n)" }
            used.insert(unique)
            fields.append(Field(name: unique, type: type, nullable: sources[i]?.nullable ?? true, metadata: sources[i]?.metadata ?? [:]))
        }
        return Schema(fields: fields)
    }

    /// The vector column a top-k ranks from, when `VectorTopK` was chosen.
    private var nearestColumn: (function: String, column: String)? { nearest.map { ($0.function, slotNames[$0.slot]) } }

    /// The plan, one operator a line from the result down to the scan, with the strategy of each
    /// and the fragments the zone maps keep. `statement` is the SELECT as written (for its text).
    func lines(written statement: SelectStatement) -> [PlanLine] {
        var lines: [String] = []
        if statement.limit != nil || statement.offset > 0 {
            lines.append("Limit \(statement.limit.map(String.init) ?? "all") offset \(statement.offset)" + (streaming ? " (streaming)" : ""))
        }
        if !statement.orderBy.isEmpty {
            let keys = statement.orderBy.map { $0.expression.canonical + ($0.descending ? " DESC" : "") }.joined(separator: ", ")
            if let nearest = nearestColumn {
                lines.append("Top \(topK!) by \(keys) (\(nearest.function) over the float buffer of \(nearest.column), per fragment)")
            } else {
                lines.append((topK.map { "Top \($0)" } ?? "Sort") + " by " + keys)
            }
        }
        if statement.distinct { lines.append("Distinct") }
        lines.append("Project " + names.joined(separator: ", "))
        if let qualify = statement.qualify { lines.append("Filter (qualify) \(qualify.canonical)") }
        for window in windows {
            lines.append("Window \(window.text) (rows sorted by partition and order, in memory"
                         + (window.frame == nil && !window.order.isEmpty && ["sum", "avg", "count", "min", "max"].contains(window.function) ? "; running aggregate" : "") + ")")
        }
        if let having = statement.having { lines.append("Filter (having) \(having.canonical)") }
        if !statement.groupBy.isEmpty || !aggregates.isEmpty {
            lines.append("Aggregate \(aggregates.count) aggregate(s)" + (statement.groupBy.isEmpty ? "" : " by " + statement.groupBy.map(\.canonical).joined(separator: ", "))
                         + (typed != nil ? " (typed, partial per fragment)" : " (row by row)"))
        }
        if let filter = statement.filter { lines.append("Filter \(filter.canonical)" + (condition?.kernel != nil ? " (kernel)" : " (evaluator)")) }
        if let dataset = relation.dataset {
            let fragments = dataset.manifest.fragments.filter { $0.liveRows > 0 }
            let kept = pruning.map { p in fragments.filter { p.mayMatch($0, schema: dataset.manifest.schema) }.count } ?? fragments.count
            lines.append("Scan \(dataset.name) @ \(dataset.commit.short) columns [\(scanned.joined(separator: ", "))] "
                         + "fragments \(kept) of \(fragments.count) (\(fragments.count - kept) pruned by zone maps), in parallel")
        } else if let planned = relation as? PlannedRelation {
            lines.append("Scan \(relation.name) (\(planned.lines.isEmpty ? "WITH, run once above" : "built first, in memory")) columns [\(scanned.joined(separator: ", "))]")
        } else {
            lines.append("Scan \(relation.name) (in memory) columns [\(scanned.joined(separator: ", "))]")
        }
        var plan = lines.enumerated().map { PlanLine(depth: $0.offset, text: $0.element) }
        if let planned = relation as? PlannedRelation { plan += PlanLine.nested(planned.lines, under: plan.count - 1) }
        return plan
    }

    /// Whether an expression holds a window function.
    static func hasWindow(_ e: Expression) -> Bool {
        if case .window = e { return true }
        return e.children.contains(where: hasWindow)
    }

    /// Whether an expression holds an aggregate call (which makes the SELECT grouped).
    static func hasAggregate(_ e: Expression) -> Bool {
        switch e {
        case .window(let w, _):  // the window's own function is not the query's aggregate; its arguments may hold one
            return w.arguments.contains(where: hasAggregate) || w.partitionBy.contains(where: hasAggregate) || w.orderBy.contains { hasAggregate($0.expression) }
        case .call(let name, let args, _, _): return Binder.aggregateFunctions.contains(name) || args.contains(where: hasAggregate)
        case .unary(_, let x, _), .isNull(let x, _, _), .cast(let x, _, _), .inSubquery(let x, _, _, _): return hasAggregate(x)
        case .binary(_, let l, let r, _): return hasAggregate(l) || hasAggregate(r)
        case .between(let x, let l, let h, _, _): return hasAggregate(x) || hasAggregate(l) || hasAggregate(h)
        case .inList(let x, let items, _, _): return hasAggregate(x) || items.contains(where: hasAggregate)
        case .like(let x, let p, _, _, _): return hasAggregate(x) || hasAggregate(p)
        case .caseWhen(let o, let b, let e, _):
            return (o.map(hasAggregate) ?? false) || b.contains { hasAggregate($0.0) || hasAggregate($0.1) } || (e.map(hasAggregate) ?? false)
        default: return false
        }
    }
}
