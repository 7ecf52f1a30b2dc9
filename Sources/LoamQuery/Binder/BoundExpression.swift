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
}

/// One aggregate the query computes per group.
struct AggregateSpec: Sendable {
    let function: String       // count, sum, avg, min, max, median, quantile_cont, array_agg, …
    let argument: BoundExpression?  // nil for count(*)
    let distinct: Bool
    let type: ArrowType
    /// The fraction of quantile_cont(x, p).
    var parameter: Double? = nil
    /// The call as written and where, for errors.
    var text = ""
    var position = 0
}
