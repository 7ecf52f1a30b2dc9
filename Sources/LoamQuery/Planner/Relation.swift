import Loam
import LoamFormat

/// Rows a SELECT reads: a dataset at a version, or the result of another
/// query (a subquery in FROM or a WITH name), held in memory.
protocol Relation: Sendable {
    var name: String { get }
    var schema: Schema { get }
    /// The dataset behind it, for `_rowid`, zone-map pruning and EXPLAIN.
    var dataset: Dataset? { get }
    func scan(columns: [String], includeRowID: Bool, limit: Int, pruning: RowFilter?,
              _ body: (RecordBatch) async throws -> Void) async throws
    /// True for a join's result: fields are named `alias.column`.
    var qualified: Bool { get }
    /// USING columns of the join, which resolve unqualified to the left side.
    var usingColumns: Set<String> { get }
}

extension Relation {
    var qualified: Bool { false }
    var usingColumns: Set<String> { [] }
}

struct DatasetRelation: Relation {
    let source: Dataset
    var name: String { source.name }
    var schema: Schema { source.schema }
    var dataset: Dataset? { source }

    func scan(columns: [String], includeRowID: Bool, limit: Int, pruning: RowFilter?,
              _ body: (RecordBatch) async throws -> Void) async throws {
        try await source.scan(columns: columns, includeRowID: includeRowID, limit: limit, pruning: pruning, body)
    }
}

struct MemoryRelation: Relation {
    let name: String
    let result: QueryResult
    var qualified = false
    var usingColumns: Set<String> = []
    var schema: Schema { result.schema }
    var dataset: Dataset? { nil }

    func scan(columns: [String], includeRowID: Bool, limit: Int, pruning: RowFilter?,
              _ body: (RecordBatch) async throws -> Void) async throws {
        let indices = columns.map { schema.index(of: $0)! }
        let fields = indices.map { schema.fields[$0] }
        var remaining = limit
        for batch in result.batches where remaining > 0 {
            var projected = RecordBatch(schema: Schema(fields: fields), columns: indices.map { batch.columns[$0] }, length: batch.length)
            if projected.length > remaining {
                let keep = Array(0..<remaining)
                projected = RecordBatch(schema: projected.schema, columns: projected.columns.map { $0.take(keep) }, length: remaining)
            }
            remaining -= projected.length
            try await body(projected)
        }
    }
}
