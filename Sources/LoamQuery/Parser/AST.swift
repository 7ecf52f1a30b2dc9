import LoamFormat

/// An expression as written, with the position it starts at (for errors).
indirect enum Expression: Equatable, Sendable {
    case literal(Value, at: Int)
    case column(table: String?, name: String, at: Int)
    case star(at: Int)
    case unary(op: String, Expression, at: Int)                       // "-", "NOT"
    case binary(op: String, Expression, Expression, at: Int)          // + - * / % = != < <= > >= AND OR ||
    case isNull(Expression, negated: Bool, at: Int)
    case between(Expression, low: Expression, high: Expression, negated: Bool, at: Int)
    case inList(Expression, [Expression], negated: Bool, at: Int)
    case like(Expression, pattern: Expression, caseInsensitive: Bool, negated: Bool, at: Int)
    case caseWhen(operand: Expression?, branches: [(Expression, Expression)], otherwise: Expression?, at: Int)
    case cast(Expression, type: ArrowType, at: Int)
    case call(name: String, arguments: [Expression], distinct: Bool, at: Int)
    case listLiteral([Expression], at: Int)
    /// `x [NOT] IN (SELECT …)`: the subquery runs first and becomes a list.
    case inSubquery(Expression, Subquery, negated: Bool, at: Int)
    case element(Expression, index: Expression, at: Int)     // list[i], 1-based
    /// `(SELECT …)` as a value: one column, at most one row (NULL when none).
    case scalarSubquery(Subquery, at: Int)
    /// `[NOT] EXISTS (SELECT …)`.
    case exists(Subquery, negated: Bool, at: Int)
    /// `name(args) OVER (PARTITION BY … ORDER BY … [ROWS BETWEEN …])`.
    case window(WindowCall, at: Int)
    /// A correlated subquery after it ran once per distinct value of the outer columns it names:
    /// its answer looked up by those columns' values (`keys`).
    case lookup(LookupTable, keys: [Expression], at: Int)

    var position: Int {
        switch self {
        case .literal(_, let at), .column(_, _, let at), .star(let at), .unary(_, _, let at), .binary(_, _, _, let at),
             .isNull(_, _, let at), .between(_, _, _, _, let at), .inList(_, _, _, let at), .like(_, _, _, _, let at),
             .caseWhen(_, _, _, let at), .cast(_, _, let at), .call(_, _, _, let at), .listLiteral(_, let at), .element(_, _, let at),
             .inSubquery(_, _, _, let at), .scalarSubquery(_, let at), .exists(_, _, let at), .window(_, let at), .lookup(_, _, let at):
            return at
        }
    }

    static func == (a: Expression, b: Expression) -> Bool { a.canonical == b.canonical }

    /// The expressions directly inside this one (not those inside an IN subquery, which has its own scope).
    var children: [Expression] {
        switch self {
        case .literal, .column, .star, .scalarSubquery, .exists: return []
        case .window(let w, _): return w.arguments + w.partitionBy + w.orderBy.map(\.expression)
        case .lookup(_, let keys, _): return keys
        case .unary(_, let x, _), .isNull(let x, _, _), .cast(let x, _, _), .inSubquery(let x, _, _, _): return [x]
        case .binary(_, let l, let r, _), .like(let l, let r, _, _, _), .element(let l, let r, _): return [l, r]
        case .between(let x, let l, let h, _, _): return [x, l, h]
        case .inList(let x, let items, _, _): return [x] + items
        case .caseWhen(let o, let b, let e, _): return (o.map { [$0] } ?? []) + b.flatMap { [$0.0, $0.1] } + (e.map { [$0] } ?? [])
        case .call(_, let args, _, _), .listLiteral(let args, _): return args
        }
    }

    /// This expression with `replace` applied top-down: where it answers an expression, that stands
    /// in place of the node (not descended into); elsewhere the node is rebuilt from its rewritten children.
    /// Subqueries are not entered (they have their own scope).
    func rewritten(_ replace: (Expression) throws -> Expression?) rethrows -> Expression {
        if let replacement = try replace(self) { return replacement }
        func r(_ e: Expression) throws -> Expression { try e.rewritten(replace) }
        switch self {
        case .literal, .column, .star, .scalarSubquery, .exists: return self
        case .unary(let op, let x, let at): return .unary(op: op, try r(x), at: at)
        case .binary(let op, let a, let b, let at): return .binary(op: op, try r(a), try r(b), at: at)
        case .isNull(let x, let n, let at): return .isNull(try r(x), negated: n, at: at)
        case .between(let x, let l, let h, let n, let at): return .between(try r(x), low: try r(l), high: try r(h), negated: n, at: at)
        case .inList(let x, let items, let n, let at): return .inList(try r(x), try items.map(r), negated: n, at: at)
        case .like(let x, let p, let i, let n, let at): return .like(try r(x), pattern: try r(p), caseInsensitive: i, negated: n, at: at)
        case .caseWhen(let o, let b, let e, let at):
            return .caseWhen(operand: try o.map(r), branches: try b.map { (try r($0.0), try r($0.1)) }, otherwise: try e.map(r), at: at)
        case .cast(let x, let t, let at): return .cast(try r(x), type: t, at: at)
        case .call(let n, let args, let d, let at): return .call(name: n, arguments: try args.map(r), distinct: d, at: at)
        case .listLiteral(let items, let at): return .listLiteral(try items.map(r), at: at)
        case .inSubquery(let x, let sub, let n, let at): return .inSubquery(try r(x), sub, negated: n, at: at)
        case .element(let x, let i, let at): return .element(try r(x), index: try r(i), at: at)
        case .lookup(let table, let keys, let at): return .lookup(table, keys: try keys.map(r), at: at)
        case .window(let w, let at):
            return .window(WindowCall(name: w.name, arguments: try w.arguments.map(r), partitionBy: try w.partitionBy.map(r),
                                      orderBy: try w.orderBy.map { OrderItem(expression: try r($0.expression), descending: $0.descending, nullsFirst: $0.nullsFirst) },
                                      frame: w.frame), at: at)
        }
    }

    /// Every column name this expression mentions (without its table qualifier); nil when it contains `*` other than count(*).
    func columnNames(into names: inout Set<String>) -> Bool {
        switch self {
        case .column(_, let name, _): names.insert(name)
        case .star: return false
        case .call(_, let args, _, _) where args.count == 1 && args[0] == .star(at: 0): return true
        default: break
        }
        return children.allSatisfy { $0.columnNames(into: &names) }
    }

    /// The expression as text without positions: equal for the same expression written in two places.
    var canonical: String {
        switch self {
        case .literal(let v, _): return v.displayText
        case .column(let t, let n, _): return t.map { "\($0).\(n)" } ?? n
        case .star: return "*"
        case .unary(let op, let e, _): return "(\(op) \(e.canonical))"
        case .binary(let op, let l, let r, _): return "(\(l.canonical) \(op) \(r.canonical))"
        case .isNull(let e, let n, _): return "(\(e.canonical) IS \(n ? "NOT " : "")NULL)"
        case .between(let e, let l, let h, let n, _): return "(\(e.canonical) \(n ? "NOT " : "")BETWEEN \(l.canonical) AND \(h.canonical))"
        case .inList(let e, let items, let n, _): return "(\(e.canonical) \(n ? "NOT " : "")IN (\(items.map(\.canonical).joined(separator: ", "))))"
        case .like(let e, let p, let i, let n, _): return "(\(e.canonical) \(n ? "NOT " : "")\(i ? "ILIKE" : "LIKE") \(p.canonical))"
        case .caseWhen(let o, let b, let e, _):
            return "CASE \(o?.canonical ?? "") " + b.map { "WHEN \($0.0.canonical) THEN \($0.1.canonical)" }.joined(separator: " ") + " ELSE \(e?.canonical ?? "NULL") END"
        case .cast(let e, let t, _): return "CAST(\(e.canonical) AS \(t.name))"
        case .call(let n, let a, let d, _): return "\(n)(\(d ? "DISTINCT " : "")\(a.map(\.canonical).joined(separator: ", ")))"
        case .listLiteral(let items, _): return "[" + items.map(\.canonical).joined(separator: ", ") + "]"
        case .inSubquery(let e, _, let n, let at): return "(\(e.canonical) \(n ? "NOT " : "")IN (subquery@\(at)))"
        case .element(let e, let i, _): return "\(e.canonical)[\(i.canonical)]"
        case .scalarSubquery(_, let at): return "(subquery@\(at))"
        case .exists(_, let n, let at): return "(\(n ? "NOT " : "")EXISTS (subquery@\(at)))"
        case .window(let w, _): return w.canonical
        case .lookup(_, _, let at): return "(correlated subquery@\(at))"
        }
    }

    /// A column name for the output: the column's own name, else the function's, else "expr".
    var outputName: String {
        switch self {
        case .column(_, let n, _): return n
        case .call(let n, _, _, _): return n
        case .window(let w, _): return w.name
        case .exists: return "exists"
        case .cast(let e, _, _): return e.outputName
        default: return "?column?"
        }
    }
}

struct SelectItem: Sendable {
    let expression: Expression
    let alias: String?
}

struct OrderItem: Sendable {
    let expression: Expression
    let descending: Bool
    /// nil: nulls last ascending, first descending (PostgreSQL's default).
    let nullsFirst: Bool?

    /// Whether `x` sorts before `y` under this item; nil when they tie.
    func compare(_ x: Value, _ y: Value) -> Bool? {
        if x.isNull && y.isNull { return nil }
        let nullsFirst = self.nullsFirst ?? descending
        if x.isNull { return nullsFirst }
        if y.isNull { return !nullsFirst }
        let cx = Evaluator.comparable(x), cy = Evaluator.comparable(y)
        if cx < cy { return !descending }
        if cy < cx { return descending }
        return nil
    }
}

/// The answers of a correlated subquery, by the values of the outer columns it names
/// (each value as `Evaluator.hashKey` gives it); `missing` for values it did not run for.
final class LookupTable: Sendable {
    let answers: [[Value]: Value]
    let type: ArrowType
    let missing: Value

    init(answers: [[Value]: Value], type: ArrowType, missing: Value) {
        (self.answers, self.type, self.missing) = (answers, type, missing)
    }
}

/// A window function call: its function, the rows it sees (partition), their order, and the frame.
final class WindowCall: Sendable {
    /// `ROWS BETWEEN start AND end`: offsets from the current row (nil: unbounded on that side).
    struct Frame: Sendable, Equatable {
        var start: Int?
        var end: Int?
    }
    let name: String
    let arguments: [Expression]
    let partitionBy: [Expression]
    let orderBy: [OrderItem]
    /// nil: the default frame (the whole partition without ORDER BY; with it, up to the current row and its peers).
    let frame: Frame?

    init(name: String, arguments: [Expression], partitionBy: [Expression], orderBy: [OrderItem], frame: Frame?) {
        (self.name, self.arguments, self.partitionBy, self.orderBy, self.frame) = (name, arguments, partitionBy, orderBy, frame)
    }

    var canonical: String {
        var over = [String]()
        if !partitionBy.isEmpty { over.append("PARTITION BY " + partitionBy.map(\.canonical).joined(separator: ", ")) }
        if !orderBy.isEmpty { over.append("ORDER BY " + orderBy.map { $0.expression.canonical + ($0.descending ? " DESC" : "") }.joined(separator: ", ")) }
        if let frame {
            func bound(_ v: Int?, _ side: String) -> String {
                guard let v else { return "UNBOUNDED \(side)" }
                return v == 0 ? "CURRENT ROW" : "\(abs(v)) \(v < 0 ? "PRECEDING" : "FOLLOWING")"
            }
            over.append("ROWS BETWEEN \(bound(frame.start, "PRECEDING")) AND \(bound(frame.end, "FOLLOWING"))")
        }
        return "\(name)(\(arguments.map(\.canonical).joined(separator: ", "))) OVER (\(over.joined(separator: " ")))"
    }
}

/// `[INNER | LEFT | RIGHT | FULL [OUTER] | CROSS] JOIN source [alias] [ON condition | USING (columns)]`, or `, source`.
struct JoinClause: Sendable {
    /// Left rows without a match are kept (LEFT, FULL).
    var left = false
    /// Right rows without a match are kept (RIGHT, FULL).
    var right = false
    var dataset = ""
    var ref: String?
    var alias: String?
    var subquery: Subquery?
    var position = 0
    var on: Expression?
    var using: [String] = []
}

/// `SELECT … FROM dataset [AT 'ref'] [AS alias] [JOIN …] …`
struct SelectStatement: Sendable {
    var explain = false
    var distinct = false
    /// `SELECT 1 + 1` without FROM: one row of no columns.
    var noFrom = false
    var items: [SelectItem] = []
    var dataset: String = ""
    var datasetPosition = 0
    /// `FROM (SELECT …) alias` instead of a dataset.
    var subquery: Subquery?
    var joins: [JoinClause] = []
    /// `USING SAMPLE n ROWS | n PERCENT [REPEATABLE (seed)]`, applied to the FROM rows before WHERE.
    var sample: (amount: Double, percent: Bool, seed: UInt64)?
    /// `FROM name('arg', …)`: a table function such as loam_diff.
    var tableFunction: [Value]?
    var ref: String?
    var alias: String?
    var filter: Expression?
    var groupBy: [Expression] = []
    var having: Expression?
    /// `QUALIFY condition`: filters on window function results.
    var qualify: Expression?
    var orderBy: [OrderItem] = []
    var limit: Int?
    var offset: Int = 0
}

extension SelectStatement {
    /// The column names the statement mentions anywhere (select list, WHERE, GROUP BY, HAVING, ORDER BY, joins);
    /// nil when it selects `*`, which needs every column.
    var referencedColumns: Set<String>? {
        var names = Set<String>()
        var expressions = items.map(\.expression) + groupBy + orderBy.map(\.expression)
        expressions += [filter, having, qualify].compactMap { $0 } + joins.compactMap(\.on)
        for join in joins { names.formUnion(join.using) }
        for e in expressions { guard e.columnNames(into: &names) else { return nil } }
        return names
    }
}

/// A query nested in another (boxed: a statement cannot hold itself inline).
final class Subquery: Sendable {
    let query: QueryStatement
    init(_ query: QueryStatement) { self.query = query }
}

/// How two SELECTs combine.
enum SetOperator: String, Sendable {
    case unionAll = "UNION ALL", union = "UNION", except = "EXCEPT", intersect = "INTERSECT"
}

/// A full query: WITH names, then SELECTs joined by UNION [ALL], EXCEPT and INTERSECT. A trailing
/// ORDER BY / LIMIT / OFFSET after the last part applies to the whole result.
struct QueryStatement: Sendable {
    var ctes: [(name: String, query: Subquery)] = []
    var parts: [SelectStatement] = []
    /// `operators[i]` joins `parts[i]` and `parts[i + 1]`.
    var operators: [SetOperator] = []
    var orderBy: [OrderItem] = []
    var limit: Int?
    var offset = 0

    /// `EXPLAIN …`: print the plan, run nothing.
    var explains: Bool { parts.first?.explain ?? false }
}

/// Any statement Loam runs: a query, or a write that becomes one commit.
enum Statement {
    case select(QueryStatement)
    case delete(dataset: String, at: Int, filter: Expression?)
    case update(dataset: String, at: Int, assignments: [(column: String, value: Expression, at: Int)], filter: Expression?)
    case insert(dataset: String, at: Int, columns: [String]?, rows: [[Expression]])
    /// CREATE TABLE name AS SELECT …; `query` is the SELECT's text, kept as lineage.
    case createTableAs(dataset: String, at: Int, select: QueryStatement, query: String)
    case alterAdd(dataset: String, at: Int, column: String, type: ArrowType)
    case alterDrop(dataset: String, at: Int, column: String)
    case alterRename(dataset: String, at: Int, from: String, to: String)
    case dropTable(dataset: String, at: Int)
}
