import Loam
import LoamFormat
import LoamTable

/// One line of a printed plan: an operator at a depth in the tree.
struct PlanLine: Sendable, Equatable {
    var depth: Int
    var text: String

    /// The lines of a child plan, one level below `depth`.
    static func nested(_ lines: [PlanLine], under depth: Int) -> [PlanLine] {
        lines.map { PlanLine(depth: depth + 1 + $0.depth, text: $0.text) }
    }

    /// The plan as one `plan` column, indented two spaces a level (what EXPLAIN returns).
    static func result(_ lines: [PlanLine]) -> QueryResult {
        let text = lines.map { String(repeating: "  ", count: $0.depth) + $0.text }
        let schema = Schema(fields: [Field(name: "plan", type: .utf8)])
        let column = (try? ArrowArray.fromValues(text.map(Value.string), type: .utf8)) ?? .nulls(type: .utf8, count: 0)
        return QueryResult(schema: schema, batches: [RecordBatch(schema: schema, columns: [column], length: text.count)])
    }
}

/// What EXPLAIN reads in place of a result it does not compute: a WITH name, a subquery,
/// a join or a sample, with the schema it would have and the plan that would build it.
/// Scanning one is a bug: planning runs nothing.
struct PlannedRelation: Relation {
    let name: String
    let schema: Schema
    var qualified = false
    var hidesRowID = false
    var usingColumns: Set<String> = []
    /// How the rows would be made, as lines relative to this relation.
    let lines: [PlanLine]
    var dataset: Dataset? { nil }

    func scanFragments<T: Sendable>(columns: [String], includeRowID: Bool, pruning: PruningPredicate?,
                                    transform: @escaping @Sendable (RecordBatch) throws -> T,
                                    consume: (T) async throws -> Bool) async throws {
        throw SQLError(sql: "", position: 0, message: "internal error: EXPLAIN tried to read '\(name)', which it only plans")
    }
}
