import Foundation
import Loam

/// A run's read of a Loam dataset: the dataset, the exact commit and the
/// epoch read (columns, batch size, seed, epoch, shard), enough to give back
/// the same batches in the same order. The Python client logs one as an MLflow
/// `DatasetInput` whose `dataset.source_type` is "loam" and whose
/// `dataset.source` is this record as JSON (`docs/FORMAT.md`, `run_inputs`).
///
/// ```swift
/// let read = DatasetRead(dataset: "reviews", commit: id.hex, read: EpochRead(batchSize: 64, seed: 3))
/// print(read)   // reviews @ 3f2a9c1b0d4e, shuffle seed 3 epoch 0, batch 64
/// ```
public struct DatasetRead: Sendable, Equatable, CustomStringConvertible {
    public var dataset: String
    /// The commit id (hex) read.
    public var commit: String
    public var read: EpochRead

    public init(dataset: String, commit: String, read: EpochRead) {
        self.dataset = dataset
        self.commit = commit
        self.read = read
    }

    /// The record inside an MLflow `DatasetInput` JSON object; nil for inputs that are not Loam reads.
    public init?(input: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(input.utf8)) as? [String: Any],
              let dataset = object["dataset"] as? [String: Any], dataset["source_type"] as? String == "loam",
              let source = dataset["source"] as? String,
              let fields = try? JSONSerialization.jsonObject(with: Data(source.utf8)) as? [String: Any],
              let name = fields["dataset"] as? String, let commit = fields["commit"] as? String else { return nil }
        func int(_ key: String, _ value: Int) -> Int { (fields[key] as? NSNumber)?.intValue ?? value }
        func flag(_ key: String, _ value: Bool) -> Bool { (fields[key] as? Bool) ?? value }
        self.init(dataset: name, commit: commit, read: EpochRead(
            columns: fields["columns"] as? [String], batchSize: int("batch_size", 256), shuffle: flag("shuffle", true),
            seed: (fields["seed"] as? NSNumber)?.uint64Value ?? 0, epoch: (fields["epoch"] as? NSNumber)?.uint64Value ?? 0,
            dropLast: flag("drop_last", false), rank: int("rank", 0), worldSize: int("world_size", 1), startBatch: int("start_batch", 0),
            blockRows: int("block_rows", 1024), windowBlocks: int("window_blocks", 64)))
    }

    /// One line: dataset @ commit, columns, order, batch size and shard.
    public var description: String {
        var parts = ["\(dataset) @ \(commit.prefix(12))"]
        if let columns = read.columns { parts.append("columns \(columns.joined(separator: ","))") }
        parts.append(read.shuffle ? "shuffle seed \(read.seed) epoch \(read.epoch)" : "in order")
        parts.append("batch \(read.batchSize)")
        if read.worldSize > 1 { parts.append("rank \(read.rank) of \(read.worldSize)") }
        if read.startBatch > 0 { parts.append("from batch \(read.startBatch)") }
        return parts.joined(separator: ", ")
    }
}
