import LoamFormat

/// Brute-force nearest neighbours for `ORDER BY cosine_distance(col, [..])
/// LIMIT k` (also l2_distance and dot): distances straight from the float
/// buffer of a fixed-size-list column, 16 lanes at a time, keeping the best
/// few rows of each fragment. Only those rows are then evaluated exactly and
/// sorted by the general path, so results are identical to a full sort; the
/// fast pass keeps a margin of extra rows so float rounding cannot change
/// which rows win.
struct VectorTopK: Sendable {
    let function: String
    let slot: Int
    let query: [Float]
    let descending: Bool

    /// The plan for a single ORDER BY key `f(column, [constants])` (either argument order) over a float fixed-size list.
    static func plan(_ key: BoundExpression, descending: Bool, types: [ArrowType]) -> VectorTopK? {
        guard case .function(let name, let arguments, _) = key, ["cosine_distance", "l2_distance", "dot"].contains(name),
              arguments.count == 2 else { return nil }
        func constants(_ e: BoundExpression) -> [Float]? {
            var values: [Value]
            switch e {
            case .list(let items):
                values = []
                for item in items {
                    switch item {
                    case .literal(let v): values.append(v)
                    case .negate(.literal(let v)): guard let d = v.asDouble else { return nil }; values.append(.float(-d))
                    default: return nil
                    }
                }
            case .literal(.list(let items)): values = items
            default: return nil
            }
            let numbers = values.compactMap(\.asDouble)
            return numbers.count == values.count ? numbers.map(Float.init) : nil
        }
        for (c, q) in [(arguments[0], arguments[1]), (arguments[1], arguments[0])] {
            guard case .column(let slot) = c, let query = constants(q),
                  case .fixedSizeList(let child, let size) = types[slot], child.type == .float32, size == query.count, size > 0 else { continue }
            return VectorTopK(function: name, slot: slot, query: query, descending: descending)
        }
        return nil
    }

    /// Rows of the batch (among `selection`, all when nil) that may be among the best `k`:
    /// the best `2k + 16` by an approximate distance, plus up to `k` rows whose distance is NULL
    /// (NULLs sort first descending). Nil when a non-null row has a null element (the general path reports it).
    func candidates(_ columns: [ArrowArray], _ selection: [Int]?, _ n: Int, k: Int) -> [Int]? {
        let column = columns[slot]
        let values = column.children[0]
        // NULL rows may carry null elements; a null element inside a non-null row goes to the general path.
        let elementsNullable = values.nullCount > 0 && !values.validity.isEmpty
        var nullElement = false
        let size = query.count, keep = 2 * k + 16
        let base = values.buffers[1].pointer.assumingMemoryBound(to: Float.self)
        let rowNullable = column.nullCount > 0 && !column.validity.isEmpty
        var best: [(score: Float, row: Int)] = []
        best.reserveCapacity(2 * keep)
        var nulls: [Int] = []
        var worst = Float.infinity  // the score a row must beat once `best` is full
        let q = query
        var queryNorm: Float = 0
        for x in q { queryNorm += x * x }
        let sign: Float = descending ? -1 : 1
        q.withUnsafeBufferPointer { qp in
            func visit(_ i: Int) {
                if rowNullable && column.isNull(i) { if nulls.count < k { nulls.append(i) }; return }
                if elementsNullable && (i * size..<(i + 1) * size).contains(where: values.isNull) { nullElement = true; return }
                let (dot, norm, l2) = Self.products(base + i * size, qp.baseAddress!, size)
                let score: Float
                switch function {
                case "dot": score = sign * dot
                case "l2_distance": score = sign * l2
                default:
                    if norm == 0 || queryNorm == 0 { if nulls.count < k { nulls.append(i) }; return }
                    score = sign * (1 - dot / (norm.squareRoot() * queryNorm.squareRoot()))
                }
                guard score <= worst || best.count < keep else { return }
                best.append((score, i))
                if best.count == 2 * keep {
                    best.sort { $0.score < $1.score }
                    best.removeLast(keep)
                    worst = best[keep - 1].score
                }
            }
            if let selection { for i in selection { visit(i) } } else { for i in 0..<n { visit(i) } }
        }
        if nullElement { return nil }
        best.sort { $0.score < $1.score }
        return (best.prefix(keep).map(\.row) + nulls).sorted()
    }

    /// x·q, x·x and |x − q|² for one row, sixteen lanes at a time.
    @inline(__always)
    private static func products(_ x: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float) {
        var dot = SIMD16<Float>(), norm = SIMD16<Float>(), l2 = SIMD16<Float>()
        let rx = UnsafeRawPointer(x), rq = UnsafeRawPointer(q)
        var i = 0
        while i + 16 <= n {
            let a = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let b = rq.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            dot += a * b
            norm += a * a
            let d = a - b
            l2 += d * d
            i += 16
        }
        var (sd, sn, sl) = (dot.sum(), norm.sum(), l2.sum())
        while i < n {
            sd += x[i] * q[i]
            sn += x[i] * x[i]
            sl += (x[i] - q[i]) * (x[i] - q[i])
            i += 1
        }
        return (sd, sn, sl)
    }
}
