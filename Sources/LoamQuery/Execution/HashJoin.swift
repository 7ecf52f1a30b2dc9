import LoamFormat

/// An equi-join (inner or left) of any left side against a right side held in
/// memory. The right side is hashed once on its key columns; each left batch
/// then probes it on its own (batches run in parallel) and comes out as a
/// batch of whole columns: the left columns taken at the matching rows, the
/// right columns gathered from the right side. Nothing is boxed per row when
/// there is one integer key on each side; other keys hash as values.
struct HashJoin: Sendable {
    let keys: [(left: Int, right: Int)]
    let left: Bool
    /// The right side's columns as one set of arrays, plus a trailing all-null row for unmatched left rows.
    private let right: [ArrowArray]
    private let nullRow: Int
    private let integers: IntGroupTable?
    private let values: [[Value]: Int]
    /// Right rows per key number, flattened: key number k owns `matches[starts[k] ..< starts[k + 1]]`.
    private let starts: [Int32]
    private let matches: [Int32]

    init(keys: [(left: Int, right: Int)], right batches: [RecordBatch], rightFields: [Field], left: Bool) {
        self.keys = keys
        self.left = left
        var picks: [(source: Int, index: Int)] = []
        for (b, batch) in batches.enumerated() { for i in 0..<batch.length { picks.append((b, i)) } }
        nullRow = picks.count
        picks.append((batches.count, 0))
        let arrays: [ArrowArray] = rightFields.indices.map { c in
            .gather(from: batches.map { $0.columns[c] } + [.nulls(type: rightFields[c].type, count: 1)], picks)
        }
        right = arrays
        var rows: [[Int32]] = []
        let integerKey = keys.count == 1 && Self.isInteger(rightFields[keys[0].right].type)
        var integers = IntGroupTable()
        var values: [[Value]: Int] = [:]
        for r in 0..<nullRow {
            let number: Int
            if integerKey {
                let column = arrays[keys[0].right]
                guard case .int(let key) = column.value(at: r) else { continue }  // NULL never equals
                number = integers.group(key)
            } else {
                let key = keys.map { Evaluator.hashKey(arrays[$0.right].value(at: r)) }
                if key.contains(where: \.isNull) { continue }
                if let existing = values[key] { number = existing } else { number = values.count; values[key] = number }
            }
            if number == rows.count { rows.append([]) }
            rows[number].append(Int32(r))
        }
        var starts: [Int32] = [0]
        for list in rows { starts.append(starts.last! + Int32(list.count)) }
        self.starts = starts
        matches = rows.flatMap { $0 }
        self.integers = integerKey ? integers : nil
        self.values = values
    }

    static func isInteger(_ type: ArrowType) -> Bool {
        switch type {
        case .int8, .int16, .int32, .int64, .date32, .timestamp: return true
        default: return false
        }
    }

    /// The joined rows of one left batch.
    func probe(_ batch: RecordBatch, schema: Schema) -> RecordBatch {
        let n = batch.length
        var leftPicks: [Int] = []
        var rightPicks: [(source: Int, index: Int)] = []
        leftPicks.reserveCapacity(n)
        rightPicks.reserveCapacity(n)
        func emit(_ i: Int, _ number: Int?) {
            if let number {
                for m in Int(starts[number])..<Int(starts[number + 1]) { leftPicks.append(i); rightPicks.append((0, Int(matches[m]))) }
            } else if left {
                leftPicks.append(i)
                rightPicks.append((0, nullRow))
            }
        }
        let leftKey = batch.columns[keys[0].left]
        if let integers, Self.isInteger(leftKey.type), case .int64(let ints, let valid) = Vector.from(leftKey) {
            for i in 0..<n { emit(i, valid?[i] == false ? nil : integers.number(ints[i])) }
        } else if let integers {  // an integer right key against a float or text left key: compare as values
            for i in 0..<n {
                if case .int(let k) = Evaluator.hashKey(leftKey.value(at: i)) { emit(i, integers.number(k)) } else { emit(i, nil) }
            }
        } else {
            for i in 0..<n {
                let key = keys.map { Evaluator.hashKey(batch.columns[$0.left].value(at: i)) }
                emit(i, key.contains(where: \.isNull) ? nil : values[key])
            }
        }
        let identity = leftPicks.count == n && leftPicks.elementsEqual(0..<n)
        let columns = batch.columns.map { identity ? $0 : $0.take(leftPicks) } + right.map { .gather(from: [$0], rightPicks) }
        return RecordBatch(schema: schema, columns: columns, length: leftPicks.count)
    }
}
