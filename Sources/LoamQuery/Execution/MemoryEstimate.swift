import Loam
import LoamFormat

/// Rough sizes of what operators keep in memory, charged to the statement's `MemoryBudget`.
enum MemoryEstimate {
    static func bytes(_ row: [Value]) -> Int {
        var total = 32 + row.count * MemoryLayout<Value>.stride
        for value in row {
            switch value {
            case .string(let s): total += s.utf8.count
            case .binary(let b): total += b.count
            case .list(let items), .structValue(let items): total += bytes(items)
            default: break
            }
        }
        return total
    }

    static func bytes(_ array: ArrowArray) -> Int {
        array.buffers.reduce(0) { $0 + $1.count } + array.children.reduce(0) { $0 + bytes($1) }
    }

    static func bytes(_ columns: [ArrowArray]) -> Int { columns.reduce(0) { $0 + bytes($1) } }
}
