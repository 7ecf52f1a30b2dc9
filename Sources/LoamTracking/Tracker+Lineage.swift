import Loam
import LoamFormat

extension Tracker {
    /// Gives back the batches a run trained on: its `input`-th recorded Loam read (see
    /// `TrackedRun.reads`), at the recorded commit, in the recorded order and shard. `body`
    /// receives each batch (with `_rowid` first) and its global batch index.
    ///
    /// ```swift
    /// let (read, schema) = try await tracker.reproduce(run) { index, batch in … }
    /// ```
    @discardableResult
    public func reproduce(_ run: TrackedRun, input: Int = 0, _ body: (_ index: Int, _ batch: RecordBatch) async throws -> Void) async throws
        -> (read: DatasetRead, schema: Schema) {
        let reads = run.reads
        guard input >= 0 && input < reads.count else {
            throw TrackingError.invalid(reads.isEmpty ? "run \(run.info.id.prefix(12)) recorded no Loam dataset read"
                                                      : "input must be 0…\(reads.count - 1): run \(run.info.id.prefix(12)) recorded \(reads.count) reads")
        }
        let read = reads[input]
        let ds = try await repository.dataset(read.dataset, at: read.commit)
        let schema = try ds.schema(of: read.read)
        try await ds.epochBatches(read.read, includeRowID: true, body)
        return (read, schema)
    }
}
