// Times Loam's own read paths for bench/bench.py, which runs the peers on the same data.
//   loam-bench scan REPO DATASET COL...        full scan of the columns into contiguous batches, summed
//   loam-bench take REPO DATASET POSITIONS     rows at the positions (one per line in a file), all columns
// Prints one JSON object: {"seconds": S, "rows": N, "checksum": X}.
import Foundation
import Loam
import LoamFormat

@inline(never) func sum(_ array: ArrowArray) -> Double {
    switch array.type {
    case .int32:
        var total = 0
        let values = array.buffers[1]
        for i in 0..<array.length { total &+= Int(values.load(i, as: Int32.self)) }
        return Double(total)
    case .fixedSizeList(_, let size):
        let child = array.children[0]
        let count = array.length * size
        return child.buffers[1].pointer.withMemoryRebound(to: Float.self, capacity: count) { floats in
            // Four independent accumulators, as numpy's unrolled sum has, so adds do not wait on each other.
            var a = SIMD16<Float>(), b = SIMD16<Float>(), c = SIMD16<Float>(), d = SIMD16<Float>()
            var i = 0
            let raw = UnsafeRawPointer(floats)
            while i + 64 <= count {
                a += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                b += raw.loadUnaligned(fromByteOffset: 4 * (i + 16), as: SIMD16<Float>.self)
                c += raw.loadUnaligned(fromByteOffset: 4 * (i + 32), as: SIMD16<Float>.self)
                d += raw.loadUnaligned(fromByteOffset: 4 * (i + 48), as: SIMD16<Float>.self)
                i += 64
            }
            let lanes = (a + b) + (c + d)
            var rest = Double(lanes.sum())
            while i < count { rest += Double(floats[i]); i += 1 }
            return rest
        }
    default:
        return 0
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 4 else {
    FileHandle.standardError.write(Data("usage: loam-bench scan|take REPO DATASET ...\n".utf8))
    exit(2)
}
let repo = try Repository.open(at: URL(fileURLWithPath: arguments[2]))
let dataset = try await repo.dataset(arguments[3])
let clock = ContinuousClock()
var rows = 0
var checksum = 0.0
let start = clock.now
switch arguments[1] {
case "scan":
    try await dataset.scan(columns: Array(arguments.dropFirst(4))) { batch in
        rows += batch.length
        for column in batch.columns { checksum += sum(column) }
    }
case "take":
    let positions = try String(contentsOfFile: arguments[4], encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
    let batch = try await dataset.take(positions)
    rows = batch.length
    if let label = batch.column("label") { checksum = sum(label) }
default:
    FileHandle.standardError.write(Data("unknown mode \(arguments[1])\n".utf8))
    exit(2)
}
let elapsed = (clock.now - start).components
let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
print("{\"seconds\": \(seconds), \"rows\": \(rows), \"checksum\": \(checksum)}")
