import Foundation
import Loam
import LoamTestSupport
import Testing

/// `docs/SHUFFLE.md`'s known answers (`docs/shuffle-vectors.json`), which the Python tests check too.
@Suite struct ShuffleVectorTests {
    struct Vectors: Decodable {
        struct Key: Decodable { let seed: UInt64, epoch: UInt64, level: UInt64, index: UInt64, key: String }
        struct Order: Decodable {
            let rows: Int, seed: UInt64, epoch: UInt64, block_rows: Int, window_blocks: Int, shuffle: Bool, order: [Int]
        }
        struct Shard: Decodable { let rows: Int, batch_size: Int, rank: Int, world_size: Int, drop_last: Bool, batches: [[Int]] }
        let mix: [Key]
        let orders: [Order]
        let shards: [Shard]
    }

    func vectors() throws -> Vectors {
        let url = TestEnvironment.packageRoot.appendingPathComponent("docs/shuffle-vectors.json")
        return try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }

    @Test func keysOrdersAndShardsMatchTheSpecification() throws {
        let v = try vectors()
        #expect(!v.mix.isEmpty && !v.orders.isEmpty && !v.shards.isEmpty)
        for k in v.mix {
            #expect(String(ShufflePlan.key(seed: k.seed, epoch: k.epoch, level: k.level, index: k.index)) == k.key, "\(k)")
        }
        for o in v.orders {
            let plan = ShufflePlan(rows: o.rows, seed: o.seed, epoch: o.epoch, shuffle: o.shuffle, blockRows: o.block_rows, windowBlocks: o.window_blocks)
            var cache: (window: Int, rows: [Int])?
            #expect(plan.positions(0..<o.rows, cache: &cache) == o.order, "\(o)")
            // Any range of places is the same slice of the order.
            #expect(plan.positions(2..<(o.rows - 1), cache: &cache) == Array(o.order[2..<(o.rows - 1)]), "\(o)")
        }
        for s in v.shards {
            let got = ShufflePlan.shardBatches(rows: s.rows, batchSize: s.batch_size, rank: s.rank, worldSize: s.world_size, dropLast: s.drop_last)
            #expect(got.map { [$0.index, $0.places.lowerBound, $0.places.upperBound] } == s.batches, "\(s)")
        }
    }
}
