import LoamFormat

/// The running state of one aggregate in one group.
struct Accumulator {
    var count = 0
    /// Integer sums are exact (int64 and uint64 values alike); the result must fit int64.
    var intSum: Int128 = 0
    var floatSum = 0.0
    var sawFloat = false
    var best: Value = .null
    var seen: Set<Value>?
    // Welford's running mean and sum of squared deviations (variance without cancellation).
    var mean = 0.0
    var m2 = 0.0
    /// Every value, for median, quantiles and array_agg.
    var kept: [Value] = []

    init(distinct: Bool) { if distinct { seen = [] } }

    mutating func add(_ value: Value, function: String) {
        if value.isNull { return }
        if seen != nil {
            guard seen!.insert(value).inserted else { return }
        }
        count += 1
        switch function {
        case "sum", "avg":
            switch value {
            case .int(let i): intSum += Int128(i)
            case .uint(let u): intSum += Int128(u)
            case .float(let d): floatSum += d; sawFloat = true
            case .bool(let b): intSum += b ? 1 : 0
            default: break
            }
        case "stddev", "stddev_samp", "variance", "var_samp":
            guard let x = value.asDouble else { break }
            let delta = x - mean
            mean += delta / Double(count)
            m2 += delta * (x - mean)
        case "bool_and":
            if case .bool(let b) = value { best = .bool((best.isNull || best == .bool(true)) && b) }
        case "bool_or":
            if case .bool(let b) = value { best = .bool(best == .bool(true) || b) }
        case "median", "quantile_cont", "approx_quantile", "array_agg", "string_agg":
            kept.append(value)
        case "any_value":
            if best.isNull { best = value }
        case "min":
            if best.isNull || Evaluator.comparable(value) < Evaluator.comparable(best) { best = value }
        case "max":
            if best.isNull || Evaluator.comparable(best) < Evaluator.comparable(value) { best = value }
        default: break
        }
    }

    /// The aggregate's value; `index` is its place in the query's aggregates, for the error when a sum leaves int64.
    func result(_ spec: AggregateSpec, index: Int = 0) throws -> Value {
        switch spec.function {
        case "count": return .int(Int64(count))
        case "sum":
            if count == 0 { return .null }
            if sawFloat || spec.type.isFloatingPoint { return .float(floatSum + Double(intSum)) }
            guard let sum = Int64(exactly: intSum) else { throw SumOutOfRange(exact: intSum, aggregate: index) }
            return .int(sum)
        case "avg": return count == 0 ? .null : .float((floatSum + Double(intSum)) / Double(count))
        case "array_agg": return count == 0 ? .null : .list(kept)
        case "string_agg": return count == 0 ? .null : .string(kept.map(Evaluator.text).joined(separator: spec.separator ?? ","))
        case "median", "quantile_cont", "approx_quantile":
            let values = kept.compactMap(\.asDouble).sorted()
            guard !values.isEmpty else { return .null }
            let position = (spec.parameter ?? 0.5) * Double(values.count - 1), below = Int(position)  // linear interpolation
            let above = min(below + 1, values.count - 1)
            return .float(values[below] + (values[above] - values[below]) * (position - Double(below)))
        case "variance", "var_samp": return count < 2 ? .null : .float(m2 / Double(count - 1))
        case "stddev", "stddev_samp": return count < 2 ? .null : .float((m2 / Double(count - 1)).squareRoot())
        default: return best
        }
    }
}

/// GROUP BY for any keys and aggregates, row by row: groups by number, each
/// with a representative row and one `Accumulator` per aggregate; a key finds
/// its number by hash. (`TypedAggregation` covers the common shapes faster.)
struct SlowGrouping {
    private var representatives: [[Value]] = []
    private var accumulators: [[Accumulator]] = []
    private var groupIndex: [[Value]: Int] = [:]
    private var intGroupIndex: [Int64: Int] = [:]  // the common single integer key, without boxing
    private var nullGroup: Int?

    var groupCount: Int { accumulators.count }

    /// Adds the `selection` rows of one batch of `n` rows (all rows when nil). The count comes
    /// from the batch, not its columns: a query whose aggregates name no column scans none.
    mutating func add(_ columns: [ArrowArray], _ selection: [Int]?, rows n: Int, groupKeys: [BoundExpression], aggregates: [AggregateSpec],
                      vectors: VectorEvaluator) throws {
        // Keys and arguments are evaluated over the rows WHERE kept only: a row it dropped must not fail
        // a cast or a division (`… WHERE FALSE` answers, whatever the other rows hold).
        if let selection {
            return try add(columns.map { $0.take(selection) }, nil, rows: selection.count, groupKeys: groupKeys, aggregates: aggregates, vectors: vectors)
        }
        let selection = Array(0..<n)
        var cache: [Int: Vector] = [:]
        let keys = try groupKeys.map { try vectors.evaluate($0, columns, &cache, n) }
        let arguments = try aggregates.map { try $0.argument.map { try vectors.evaluate($0, columns, &cache, n) } }
        func newGroup(_ i: Int) -> Int {
            representatives.append(columns.indices.map { cache[$0]?.value(i) ?? columns[$0].value(at: i) })
            accumulators.append(aggregates.map { Accumulator(distinct: $0.distinct) })
            return accumulators.count - 1
        }
        // The group number of each selected row.
        var numbers = [Int](repeating: 0, count: selection.count)
        if keys.isEmpty {
            if accumulators.isEmpty, let first = selection.first { _ = newGroup(first) }
        } else if keys.count == 1, case .int64(let ints, let valid) = keys[0] {
            for (n, i) in selection.enumerated() {
                if let valid, !valid[i] {
                    if nullGroup == nil { nullGroup = newGroup(i) }
                    numbers[n] = nullGroup!
                } else if let g = intGroupIndex[ints[i]] {
                    numbers[n] = g
                } else {
                    let g = newGroup(i)
                    intGroupIndex[ints[i]] = g
                    numbers[n] = g
                }
            }
        } else {
            for (n, i) in selection.enumerated() {
                let key = keys.map { $0.value(i) }
                if let g = groupIndex[key] { numbers[n] = g } else {
                    let g = newGroup(i)
                    groupIndex[key] = g
                    numbers[n] = g
                }
            }
        }
        for (j, spec) in aggregates.enumerated() {
            if let argument = arguments[j] {
                for (n, i) in selection.enumerated() { accumulators[numbers[n]][j].add(argument.value(i), function: spec.function) }
            } else if keys.isEmpty, !selection.isEmpty {
                accumulators[0][j].count += selection.count  // count(*) of one group: the whole selection at once
            } else {
                for n in selection.indices { accumulators[numbers[n]][j].count += 1 }
            }
        }
    }

    /// Each group's representative row and aggregate results, in the order groups were first seen.
    func rows(_ aggregates: [AggregateSpec]) throws -> [(values: [Value], aggregates: [Value])] {
        try accumulators.indices.map { g in (representatives[g], try aggregates.indices.map { j in try accumulators[g][j].result(aggregates[j], index: j) }) }
    }
}

/// An integer sum that does not fit int64 (the exact value kept in 128 bits); the executor
/// turns it into an error naming the aggregate.
struct SumOutOfRange: Error {
    let exact: Int128
    /// Its place among the query's aggregates.
    var aggregate = 0
}
