import LoamFormat

/// An expression with names resolved: columns are slots in the scanned row,
/// aggregates are slots in a group's results, and every node knows its type.
indirect enum BoundExpression: Sendable {
    case column(slot: Int)
    case literal(Value)
    case aggregate(slot: Int)
    case negate(BoundExpression)
    case not(BoundExpression)
    /// `unsigned`: the result is uint64 (uint64 operands, or one with a non-negative constant).
    case arithmetic(String, BoundExpression, BoundExpression, unsigned: Bool, at: Int)
    case compare(String, BoundExpression, BoundExpression)
    case and(BoundExpression, BoundExpression)
    case or(BoundExpression, BoundExpression)
    case concat(BoundExpression, BoundExpression)
    case isNull(BoundExpression, negated: Bool)
    case inList(BoundExpression, [BoundExpression], negated: Bool)
    case like(BoundExpression, BoundExpression, caseInsensitive: Bool, negated: Bool)
    case caseWhen([(BoundExpression, BoundExpression)], otherwise: BoundExpression?)
    case cast(BoundExpression, ArrowType, at: Int)
    case function(String, [BoundExpression], at: Int)
    case list([BoundExpression])
    case element(BoundExpression, BoundExpression)
    /// A correlated subquery's answer for the row's values of the outer columns it names.
    case lookup(LookupTable, [BoundExpression])
}

extension BoundExpression {
    /// This expression with `replace` applied top-down (where it answers, that stands in place of the node).
    func mapped(_ replace: (BoundExpression) -> BoundExpression?) -> BoundExpression {
        if let replacement = replace(self) { return replacement }
        func m(_ e: BoundExpression) -> BoundExpression { e.mapped(replace) }
        switch self {
        case .column, .literal, .aggregate: return self
        case .negate(let x): return .negate(m(x))
        case .not(let x): return .not(m(x))
        case .arithmetic(let op, let a, let b, let u, let at): return .arithmetic(op, m(a), m(b), unsigned: u, at: at)
        case .compare(let op, let a, let b): return .compare(op, m(a), m(b))
        case .and(let a, let b): return .and(m(a), m(b))
        case .or(let a, let b): return .or(m(a), m(b))
        case .concat(let a, let b): return .concat(m(a), m(b))
        case .isNull(let x, let n): return .isNull(m(x), negated: n)
        case .inList(let x, let items, let n): return .inList(m(x), items.map(m), negated: n)
        case .like(let x, let p, let i, let n): return .like(m(x), m(p), caseInsensitive: i, negated: n)
        case .caseWhen(let b, let e): return .caseWhen(b.map { (m($0.0), m($0.1)) }, otherwise: e.map(m))
        case .cast(let x, let t, let at): return .cast(m(x), t, at: at)
        case .function(let name, let args, let at): return .function(name, args.map(m), at: at)
        case .list(let items): return .list(items.map(m))
        case .element(let a, let b): return .element(m(a), m(b))
        case .lookup(let table, let keys): return .lookup(table, keys.map(m))
        }
    }
}

/// One window function the query computes per row, over its partition (after WHERE, GROUP BY and HAVING).
struct WindowSpec: Sendable {
    let function: String
    let arguments: [BoundExpression]
    let partition: [BoundExpression]
    let order: [(BoundExpression, OrderItem)]
    let frame: WindowCall.Frame?
    let type: ArrowType
    /// The call as written, for EXPLAIN and errors.
    let text: String
    let position: Int
}

/// One aggregate the query computes per group.
struct AggregateSpec: Sendable {
    let function: String       // count, sum, avg, min, max, median, quantile_cont, array_agg, …
    let argument: BoundExpression?  // nil for count(*)
    let distinct: Bool
    let type: ArrowType
    /// The fraction of quantile_cont(x, p).
    var parameter: Double? = nil
    /// The separator of string_agg(x, separator).
    var separator: String? = nil
    /// The call as written and where, for errors.
    var text = ""
    var position = 0
}
