// Times Loam's own operations for bench/bench.py, which runs the peers on the same data.
//   loam-bench scan REPO DATASET COL...        full scan of the columns into contiguous batches, summed
//   loam-bench take REPO DATASET POSITIONS     rows at the positions (one per line in a file), all columns
//   loam-bench append REPO DATASET FILE        import FILE (a small change) as one commit
//   loam-bench delete REPO DATASET WHERE       delete the matching rows as one commit
//   loam-bench diff REPO DATASET FROM TO       row-level diff of two refs
//   loam-bench branch REPO DATASET NAME        create a branch at HEAD
//   loam-bench query REPO DATASET SQL [RUNS]   run a query RUNS times in one process (best time; rows = result rows)
// Each prints one JSON object: {"seconds": S, "rows": N, "checksum": X}. And:
//   loam-bench null-http                       an HTTP server answering `{}` at once (the client's own cost)
import Foundation
import Loam
import LoamFormat
import LoamQuery

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
        return child.buffers[1].pointer.withMemoryRebound(to: Float.self, capacity: count) { f in
            // 16 independent lanes in registers: LLVM turns them into vector accumulators, as numpy's unrolled sum has.
            var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0, s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0, s8: Float = 0, s9: Float = 0, s10: Float = 0, s11: Float = 0, s12: Float = 0, s13: Float = 0, s14: Float = 0, s15: Float = 0
            var i = 0
            while i + 16 <= count {
                s0 += f[i + 0]
                s1 += f[i + 1]
                s2 += f[i + 2]
                s3 += f[i + 3]
                s4 += f[i + 4]
                s5 += f[i + 5]
                s6 += f[i + 6]
                s7 += f[i + 7]
                s8 += f[i + 8]
                s9 += f[i + 9]
                s10 += f[i + 10]
                s11 += f[i + 11]
                s12 += f[i + 12]
                s13 += f[i + 13]
                s14 += f[i + 14]
                s15 += f[i + 15]
                i += 16
            }
            let lanes: [Float] = [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15]
            var rest = lanes.reduce(0.0) { $0 + Double($1) }
            while i < count { rest += Double(f[i]); i += 1 }
            return rest
        }
    default:
        return 0
    }
}

let arguments = CommandLine.arguments
if arguments.count == 2 && arguments[1] == "null-http" { runNullHTTPServer() }
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
case "append":
    rows = try await repo.importData(from: arguments[4], into: arguments[3]).rows
case "delete":
    rows = try await repo.delete(from: arguments[3], where: arguments[4]).rows
case "diff":
    let diffs = try await repo.diff(arguments[4], arguments[5], dataset: arguments[3])
    rows = diffs.reduce(0) { $0 + $1.added.count + $1.removed.count + $1.modified.count }
case "query":
    // Best of RUNS in one process, as the peers are timed (a warm connection, best of several).
    let runs = arguments.count > 5 ? Int(arguments[5]) ?? 1 : 1
    var best = Duration.seconds(1_000_000)
    for _ in 0..<runs {
        let t0 = clock.now
        let result = try await repo.query(arguments[4])
        best = min(best, clock.now - t0)
        rows = result.rowCount
        if let first = result.batches.first, first.length > 0, case .int(let v) = first.columns[first.columns.count - 1].value(at: 0) { checksum = Double(v) }
    }
    let parts = best.components
    print("{\"seconds\": \(Double(parts.seconds) + Double(parts.attoseconds) / 1e18), \"rows\": \(rows), \"checksum\": \(checksum)}")
    exit(0)
case "branch":
    try await repo.createBranch(arguments[4])
    rows = dataset.rowCount
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
