import Loam
import LoamTable
import LoamFormat

/// Turns a bound WHERE clause into a `PruningPredicate` for zone-map pruning:
/// comparisons of a column with a literal, IS [NOT] NULL, AND, OR, NOT.
/// Anything else becomes "may match" (`.always`), so pruning stays conservative.
enum Pruning {
    static func filter(_ e: BoundExpression, columns: [String]) -> PruningPredicate {
        switch e {
        case .and(let a, let b): return .and(filter(a, columns: columns), filter(b, columns: columns))
        case .or(let a, let b): return .or(filter(a, columns: columns), filter(b, columns: columns))
        case .not(let a):
            // NOT of a conservative approximation is not conservative: only exact leaves may be negated.
            let inner = filter(a, columns: columns)
            return inner == .always ? .always : .not(inner)
        case .isNull(.column(let slot), let negated): return .isNull(columns[slot], negated: negated)
        case .compare(let op, .column(let slot), .literal(let v)):
            return leaf(columns[slot], op, v)
        case .compare(let op, .literal(let v), .column(let slot)):
            let flipped = ["<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="][op] ?? op
            return leaf(columns[slot], flipped, v)
        default: return .always
        }
    }

    private static func leaf(_ column: String, _ op: String, _ v: Value) -> PruningPredicate {
        guard let mapped = PruningPredicate.Op(rawValue: op), !v.isNull else { return .always }
        return .compare(column, mapped, v)
    }
}
