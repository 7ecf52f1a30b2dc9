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

/// A dataset whose `_rowid` is a column like the others (named when asked for, never in `*`): how a
/// join's sides carry it, so `ON l.row_id = r._rowid` joins a dataset to rows that point at it.
struct RowIDRelation: Relation {
    let source: Dataset
    var name: String { source.name }
    var schema: Schema { Schema(fields: [RowID.field] + source.schema.fields, metadata: source.schema.metadata) }
    var dataset: Dataset? { source }
    var hidesRowID: Bool { true }

    func scanFragments<T: Sendable>(columns: [String], includeRowID: Bool, pruning: PruningPredicate?,
                                    transform: @escaping @Sendable (RecordBatch) throws -> T,
                                    consume: (T) async throws -> Bool) async throws {
        guard let at = columns.firstIndex(of: RowID.name) else {
            return try await source.scanFragments(columns: columns, includeRowID: includeRowID, pruning: pruning, transform: transform, consume: consume)
        }
        var others = columns
        others.remove(at: at)
        try await source.scanFragments(columns: others, includeRowID: true, pruning: pruning, transform: { batch in
            // The scan puts `_rowid` first; move it to where it was asked for.
            var fields = Array(batch.schema.fields.dropFirst()), arrays = Array(batch.columns.dropFirst())
            fields.insert(batch.schema.fields[0], at: at)
            arrays.insert(batch.columns[0], at: at)
            return try transform(RecordBatch(schema: Schema(fields: fields, metadata: batch.schema.metadata), columns: arrays, length: batch.length))
        }, consume: consume)
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
