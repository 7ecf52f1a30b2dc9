import LoamFormat

/// Window functions over a query's rows (after WHERE, GROUP BY and HAVING): each spec sorts the
/// rows by partition and order, then walks each partition once, appending one value to every
/// row's computed values (after its aggregates), in the rows' original order.
///
/// Frames: without ORDER BY the whole partition; with it, from the partition's start to the
/// current row's last peer (rows that tie on the order keys), as in PostgreSQL and DuckDB; or
/// `ROWS BETWEEN a AND b` offsets. Aggregates over a frame that starts at the partition's start
/// run incrementally (one pass); a sliding frame recomputes per row.
struct WindowEvaluator {
    let evaluator: Evaluator
    let specs: [WindowSpec]

    func apply(_ rows: [(values: [Value], aggregates: [Value])]) throws -> [(values: [Value], aggregates: [Value])] {
        var rows = rows
        for spec in specs {
            let results = try compute(spec, rows)
            for i in rows.indices { rows[i].aggregates.append(results[i]) }
        }
        return rows
    }

    private func compute(_ spec: WindowSpec, _ rows: [(values: [Value], aggregates: [Value])]) throws -> [Value] {
        // Keys and arguments column by column ([key][row]): a few arrays, not one per row.
        let partitionKeys = try spec.partition.map { e in KeyColumn.values(try rows.map { Evaluator.hashKey(try evaluator.evaluate(e, $0.values, $0.aggregates)) }) }
        let orderKeys = try spec.order.map { e in KeyColumn.values(try rows.map { try evaluator.evaluate(e.0, $0.values, $0.aggregates) }) }
        let arguments = try spec.arguments.map { e in try rows.map { try evaluator.evaluate(e, $0.values, $0.aggregates) } }
        return try compute(spec, rows: rows.count, partitionKeys: partitionKeys, orderKeys: orderKeys, arguments: arguments)
    }

    /// The windows of an ungrouped query over its filtered batches (columns in slot order), as one
    /// more column per window for each batch. Keys and arguments are evaluated a batch at a time
    /// (typed loops); integer and float keys stay unboxed until they are packed into sort words.
    func columns(_ batches: [(columns: [ArrowArray], rows: Int)], vectors: VectorEvaluator) throws -> [[ArrowArray]] {
        let n = batches.reduce(0) { $0 + $1.rows }
        /// An expression over every row, typed when each batch evaluated it as integers (or as floats).
        func key(_ e: BoundExpression, hashed: Bool = false) throws -> KeyColumn {
            var parts: [Vector] = []
            for batch in batches {
                var cache: [Int: Vector] = [:]
                parts.append(try vectors.evaluate(e, batch.columns, &cache, batch.rows))
            }
            return KeyColumn(parts, count: n, hashed: hashed)
        }
        var out = batches.map { _ in [ArrowArray]() }
        for spec in specs {
            let values = try compute(spec, rows: n, partitionKeys: try spec.partition.map { try key($0, hashed: true) },
                                     orderKeys: try spec.order.map { try key($0.0) }, arguments: try spec.arguments.map { try key($0).cells })
            var start = 0
            for (b, batch) in batches.enumerated() {
                out[b].append(try ArrowArray.fromValues(Array(values[start..<start + batch.rows]), type: spec.type))
                start += batch.rows
            }
        }
        return out
    }

    private func compute(_ spec: WindowSpec, rows n: Int, partitionKeys partitionColumns: [KeyColumn], orderKeys orderColumns: [KeyColumn],
                         arguments: [[Value]]) throws -> [Value] {
        let orderItems = spec.order.map(\.1)
        let ascending = OrderItem(expression: .literal(.null, at: 0), descending: false, nullsFirst: true)
        // Numbers, dates and booleans sort as packed 64-bit words (one flat array, no boxing); other keys compare as values.
        let words = SortWords(rows: n, partition: partitionColumns, order: orderColumns, items: orderItems)
        let partitionKeys = words == nil ? partitionColumns.map(\.cells) : []
        let orderKeys = words == nil ? orderColumns.map(\.cells) : []
        func orderCompare(_ a: Int, _ b: Int) -> Bool? {
            if let words { return words.compareOrder(a, b) }
            for (k, item) in orderItems.enumerated() { if let first = item.compare(orderKeys[k][a], orderKeys[k][b]) { return first } }
            return nil
        }
        func samePartition(_ a: Int, _ b: Int) -> Bool {
            if let words { return words.samePartition(a, b) }
            return partitionKeys.allSatisfy { $0[a] == $0[b] }
        }
        // Partitions by key, then rows by the order keys; ties keep their input order.
        let sorted: [Int]
        if let words {
            sorted = words.sortedRows()
        } else {
            sorted = (0..<n).sorted { a, b in
                for key in partitionKeys { if let first = ascending.compare(key[a], key[b]) { return first } }
                return orderCompare(a, b) ?? (a < b)
            }
        }
        var out = [Value](repeating: .null, count: n)
        var start = 0
        while start < n {
            var end = start + 1
            while end < n && samePartition(sorted[end], sorted[start]) { end += 1 }
            try fill(spec, sorted[start..<end], arguments, orderCompare, &out)
            start = end
        }
        return out
    }

    /// One partition's values: `partition` holds row numbers in window order.
    private func fill(_ spec: WindowSpec, _ partition: ArraySlice<Int>, _ arguments: [[Value]], _ orderCompare: (Int, Int) -> Bool?,
                      _ out: inout [Value]) throws {
        let count = partition.count
        if spec.function == "row_number" {  // needs no peers, no frame
            for (p, row) in partition.enumerated() { out[row] = .int(Int64(p + 1)) }
            return
        }
        let members = PartitionRows(partition)
        // lastPeer[p]: the position of the last row tying with p on the order keys; firstPeer likewise.
        var lastPeer = [Int](repeating: count - 1, count: count), firstPeer = [Int](repeating: 0, count: count)
        if !spec.order.isEmpty {
            var p = 0
            while p < count {
                var q = p
                while q + 1 < count && orderCompare(members[p], members[q + 1]) == nil { q += 1 }
                for r in p...q { firstPeer[r] = p; lastPeer[r] = q }
                p = q + 1
            }
        }
        func argument(_ p: Int, _ k: Int = 0) -> Value { arguments[k][members[p]] }
        // The frame of position p, as a half-open range of positions.
        func frame(_ p: Int) -> Range<Int> {
            guard let f = spec.frame else { return 0..<(spec.order.isEmpty ? count : lastPeer[p] + 1) }
            let lo = f.start.map { max(0, min(count, p + $0)) } ?? 0
            let hi = f.end.map { max(0, min(count, p + $0 + 1)) } ?? count
            return lo..<max(lo, hi)
        }
        switch spec.function {
        case "rank":
            for p in 0..<count { out[members[p]] = .int(Int64(firstPeer[p] + 1)) }
        case "dense_rank":
            var rank = 0
            for p in 0..<count {
                if firstPeer[p] == p { rank += 1 }
                out[members[p]] = .int(Int64(rank))
            }
        case "percent_rank":
            for p in 0..<count { out[members[p]] = .float(count > 1 ? Double(firstPeer[p]) / Double(count - 1) : 0) }
        case "cume_dist":
            for p in 0..<count { out[members[p]] = .float(Double(lastPeer[p] + 1) / Double(count)) }
        case "ntile":
            for p in 0..<count {
                guard case .int(let buckets) = argument(p), buckets > 0 else {
                    throw evaluator.error("ntile() needs a positive number of buckets", at: spec.position)
                }
                let b = Int(min(buckets, Int64(count)))
                let size = count / b, extra = count % b  // the first `extra` buckets hold one more row
                let bucket = p < extra * (size + 1) ? p / (size + 1) : extra + (p - extra * (size + 1)) / max(size, 1)
                out[members[p]] = .int(Int64(bucket + 1))
            }
        case "lag", "lead":
            for p in 0..<count {
                var offset = 1
                if spec.arguments.count > 1 {
                    guard case .int(let o) = argument(p, 1), o >= 0, o <= Int64(count) + 1 else {
                        if case .int = argument(p, 1) { out[members[p]] = spec.arguments.count > 2 ? argument(p, 2) : .null; continue }
                        throw evaluator.error("\(spec.function)() takes a non-negative whole-number offset", at: spec.position)
                    }
                    offset = Int(o)
                }
                let q = spec.function == "lag" ? p - offset : p + offset
                out[members[p]] = q >= 0 && q < count ? argument(q) : (spec.arguments.count > 2 ? argument(p, 2) : .null)
            }
        case "first_value", "last_value", "nth_value":
            for p in 0..<count {
                let f = frame(p)
                var q: Int?
                switch spec.function {
                case "first_value": q = f.isEmpty ? nil : f.lowerBound
                case "last_value": q = f.isEmpty ? nil : f.upperBound - 1
                default:
                    guard case .int(let nth) = argument(p, 1), nth >= 1 else { throw evaluator.error("nth_value(x, n) takes n ≥ 1", at: spec.position) }
                    q = nth <= Int64(f.count) ? f.lowerBound + Int(nth) - 1 : nil
                }
                out[members[p]] = q.map { argument($0) } ?? .null
            }
        default:  // count, sum, avg, min, max over the frame
            let aggregate = AggregateSpec(function: spec.function, argument: spec.arguments.first, distinct: false, type: spec.type,
                                          text: spec.text, position: spec.position)
            func add(_ accumulator: inout Accumulator, _ q: Int) {
                if spec.arguments.isEmpty { accumulator.count += 1 } else { accumulator.add(argument(q), function: spec.function) }
            }
            func result(_ accumulator: Accumulator) throws -> Value {
                do { return try accumulator.result(aggregate) } catch let overflow as SumOutOfRange {
                    throw evaluator.error("\(spec.text) is \(overflow.exact), outside int64; sum CAST(… AS float64) for an approximate total", at: spec.position)
                }
            }
            if spec.frame?.start == nil {  // frames that grow from the partition's start: one running pass
                var running = Accumulator(distinct: false)
                var included = 0
                for p in 0..<count {
                    let f = frame(p)
                    while included < f.upperBound { add(&running, included); included += 1 }
                    out[members[p]] = try result(running)
                }
            } else {
                for p in 0..<count {
                    var accumulator = Accumulator(distinct: false)
                    for q in frame(p) { add(&accumulator, q) }
                    out[members[p]] = try result(accumulator)
                }
            }
        }
    }
}

/// A partition's rows, indexed from 0 (the slice of the sorted rows keeps its place in the whole).
private struct PartitionRows {
    let slice: ArraySlice<Int>
    init(_ slice: ArraySlice<Int>) { self.slice = slice }
    subscript(_ p: Int) -> Int { slice[slice.startIndex + p] }
}

/// Sort keys packed as unsigned words that order as the values do: per key a NULL word (placing NULLs
/// first or last) and a value word (integers with the sign bit flipped, floats by their total order
/// with NaN greatest and -0 as 0, booleans as 0/1; descending keys inverted). Nil when a key holds
/// anything else (text, lists) or mixes integers and floats: those sort as values.
struct SortWords {
    private let words: [UInt64]
    private let width: Int
    private let partitionWidth: Int

    /// `partition[k]` and `order[k]`: the keys column by column.
    init?(rows n: Int, partition: [KeyColumn], order: [KeyColumn], items: [OrderItem]) {
        let partitionKeys = partition.count, orderKeys = items.count
        let width = 2 * (partitionKeys + orderKeys), partitionWidth = 2 * partitionKeys
        guard width > 0 else { return nil }
        var packed = [UInt64](repeating: 0, count: n * width)
        // Each key column must be all integers (or booleans) or all floats, besides NULLs.
        func encode(_ columns: [KeyColumn], _ k: Int, base: Int, descending: Bool, nullsFirst: Bool) -> Bool {
            func put(_ r: Int, _ value: UInt64?) {
                guard let value else { packed[r * width + base] = nullsFirst ? 0 : 2; return }
                packed[r * width + base] = 1
                packed[r * width + base + 1] = descending ? ~value : value
            }
            switch columns[k] {  // typed columns: one loop, no boxing
            case .ints(let xs, let valid):
                for r in 0..<n { put(r, valid.map { !$0[r] } ?? false ? nil : UInt64(bitPattern: xs[r]) ^ (1 << 63)) }
                return true
            case .floats(let xs, let valid):
                for r in 0..<n { put(r, valid.map { !$0[r] } ?? false ? nil : Self.floatWord(xs[r])) }
                return true
            case .values: break
            }
            guard case .values(let cells) = columns[k] else { return false }
            var sawInt = false, sawFloat = false
            for r in 0..<n {
                let value: UInt64
                switch cells[r] {
                case .null:
                    packed[r * width + base] = nullsFirst ? 0 : 2
                    continue
                case .int(let i): value = UInt64(bitPattern: i) ^ (1 << 63); sawInt = true
                case .bool(let b): value = b ? (1 << 63) + 1 : 1 << 63; sawInt = true
                case .float(let d): value = Self.floatWord(d); sawFloat = true
                default: return false
                }
                if sawInt && sawFloat { return false }
                packed[r * width + base] = 1
                packed[r * width + base + 1] = descending ? ~value : value
            }
            return true
        }
        for k in 0..<partitionKeys {
            guard encode(partition, k, base: 2 * k, descending: false, nullsFirst: true) else { return nil }
        }
        for (k, item) in items.enumerated() {
            guard encode(order, k, base: partitionWidth + 2 * k, descending: item.descending, nullsFirst: item.nullsFirst ?? item.descending) else { return nil }
        }
        (words, self.width, self.partitionWidth) = (packed, width, partitionWidth)
    }

    /// A float as a word that orders as `Value` orders floats: NaN above every number, -0 as 0.
    static func floatWord(_ d: Double) -> UInt64 {
        let x = d.isNaN ? Double.nan : (d == 0 ? 0 : d)
        return x.sign == .minus ? ~x.bitPattern : x.bitPattern | (1 << 63)
    }

    /// The rows in window order: by partition, then order, then input position. Up to four words
    /// (one partition key and one order key) sort as tuples held inline, without indirection.
    func sortedRows() -> [Int] {
        let n = width == 0 ? 0 : words.count / width
        guard width <= 4 else { return (0..<n).sorted { less($0, $1) } }
        var keys = [(UInt64, UInt64, UInt64, UInt64, Int)]()
        keys.reserveCapacity(n)
        words.withUnsafeBufferPointer { w in
            for r in 0..<n {
                let b = r * width
                keys.append((w[b], width > 1 ? w[b + 1] : 0, width > 2 ? w[b + 2] : 0, width > 3 ? w[b + 3] : 0, r))
            }
        }
        keys.sort { $0 < $1 }
        return keys.map(\.4)
    }

    /// Partition, then order, then input position.
    func less(_ a: Int, _ b: Int) -> Bool {
        words.withUnsafeBufferPointer { w in
            let x = a * width, y = b * width
            for i in 0..<width where w[x + i] != w[y + i] { return w[x + i] < w[y + i] }
            return a < b
        }
    }

    func samePartition(_ a: Int, _ b: Int) -> Bool {
        words.withUnsafeBufferPointer { w in (0..<partitionWidth).allSatisfy { w[a * width + $0] == w[b * width + $0] } }
    }

    /// Whether a sorts before b on the order keys; nil when they tie (peers).
    func compareOrder(_ a: Int, _ b: Int) -> Bool? {
        words.withUnsafeBufferPointer { w in
            for i in partitionWidth..<width where w[a * width + i] != w[b * width + i] { return w[a * width + i] < w[b * width + i] }
            return nil
        }
    }
}

/// A window key over every row, column-wise: typed when every batch evaluated it as integers (dates,
/// timestamps, booleans as 0/1 included) or as floats, else as values.
enum KeyColumn {
    case ints([Int64], valid: [Bool]?)
    case floats([Double], valid: [Bool]?)
    case values([Value])

    /// The batches' vectors joined; `hashed` keys compare as `Evaluator.hashKey` makes them (partition keys).
    init(_ parts: [Vector], count n: Int, hashed: Bool) {
        func joined<T>(_ pick: (Vector) -> ([T], [Bool]?)?) -> ([T], [Bool]?)? {
            var values: [T] = [], valid: [Bool]? = nil
            values.reserveCapacity(n)
            for part in parts {
                guard let (v, ok) = pick(part) else { return nil }
                if let ok, valid == nil { valid = [Bool](repeating: true, count: values.count) }
                values += v
                if valid != nil { valid! += ok ?? [Bool](repeating: true, count: v.count) }
            }
            return (values, valid)
        }
        if let (v, ok) = joined({ if case .int64(let v, let ok) = $0 { return (v, ok) } else { return nil } }) { self = .ints(v, valid: ok); return }
        if let (v, ok) = joined({ if case .float64(let v, let ok) = $0 { return (v, ok) } else { return nil } }) { self = .floats(v, valid: ok); return }
        var cells: [Value] = []
        cells.reserveCapacity(n)
        for part in parts { for i in 0..<part.count { cells.append(hashed ? Evaluator.hashKey(part.value(i)) : part.value(i)) } }
        self = .values(cells)
    }

    /// Every row's value (for keys that cannot sort as words).
    var cells: [Value] {
        switch self {
        case .values(let cells): return cells
        case .ints(let v, let ok): return v.indices.map { i in ok.map { !$0[i] } ?? false ? .null : .int(v[i]) }
        case .floats(let v, let ok): return v.indices.map { i in ok.map { !$0[i] } ?? false ? .null : .float(v[i]) }
        }
    }
}
