import Loam
import LoamTable
import LoamFormat

/// Rows a SELECT reads: a dataset at a version, or the result of another
/// query (a subquery in FROM or a WITH name), held in memory.
protocol Relation: Sendable {
    var name: String { get }
    var schema: Schema { get }
    /// The dataset behind it, for `_rowid`, zone-map pruning and EXPLAIN.
    var dataset: Dataset? { get }
    /// Runs `transform` on each batch of the chosen columns (in parallel where the
    /// relation has several fragments) and hands the results to `consume` in order;
    /// `consume` returns false to stop.
    func scanFragments<T: Sendable>(columns: [String], includeRowID: Bool, pruning: PruningPredicate?,
                                    transform: @escaping @Sendable (RecordBatch) throws -> T,
                                    consume: (T) async throws -> Bool) async throws
    /// True for a join's result: fields are named `alias.column`.
    var qualified: Bool { get }
    /// USING columns of the join, which resolve unqualified to the left side.
    var usingColumns: Set<String> { get }
    /// True when `_rowid` was carried along (a sample of a dataset): it answers when named, never in `*`.
    var hidesRowID: Bool { get }
}

extension Relation {
    var qualified: Bool { false }
    var usingColumns: Set<String> { [] }
    var hidesRowID: Bool { false }

    /// Every batch of the chosen columns, in order, one at a time.
    func scan(columns: [String], includeRowID: Bool = false, _ body: (RecordBatch) async throws -> Void) async throws {
        try await scanFragments(columns: columns, includeRowID: includeRowID, pruning: nil, transform: { $0 }) { batch in
            try await body(batch)
            return true
        }
    }
}

struct DatasetRelation: Relation {
    let source: Dataset
    var name: String { source.name }
    var schema: Schema { source.schema }
    var dataset: Dataset? { source }

    func scanFragments<T: Sendable>(columns: [String], includeRowID: Bool, pruning: PruningPredicate?,
                                    transform: @escaping @Sendable (RecordBatch) throws -> T,
                                    consume: (T) async throws -> Bool) async throws {
        try await source.scanFragments(columns: columns, includeRowID: includeRowID, pruning: pruning, transform: transform, consume: consume)
    }
}

struct MemoryRelation: Relation {
    let name: String
    let result: QueryResult
    var qualified = false
    var usingColumns: Set<String> = []
    var hidesRowID = false
    var schema: Schema { result.schema }
    var dataset: Dataset? { nil }

    func scanFragments<T: Sendable>(columns: [String], includeRowID: Bool, pruning: PruningPredicate?,
                                    transform: @escaping @Sendable (RecordBatch) throws -> T,
                                    consume: (T) async throws -> Bool) async throws {
        let indices = columns.map { schema.index(of: $0)! }
        let projected = Schema(fields: indices.map { schema.fields[$0] })
        let batches = result.batches
        try await concurrentlyInOrder(batches.count, produce: { b in
            try transform(RecordBatch(schema: projected, columns: indices.map { batches[b].columns[$0] }, length: batches[b].length))
        }, consume: consume)
    }
}
