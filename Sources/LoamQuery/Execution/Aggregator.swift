import LoamFormat

/// The running state of one aggregate in one group.
struct Accumulator {
    var count = 0
    var intSum: Int64 = 0
    var floatSum = 0.0
    var sawFloat = false
    var overflow = false
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
            case .int(let i):
                let (s, o) = intSum.addingReportingOverflow(i)
                if o { overflow = true }
                intSum = s
                floatSum += Double(i)
            case .uint(let u): floatSum += Double(u); sawFloat = true
            case .float(let d): floatSum += d; sawFloat = true
            case .bool(let b): intSum += b ? 1 : 0; floatSum += b ? 1 : 0
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
        case "median", "quantile_cont", "approx_quantile", "array_agg":
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

    func result(_ spec: AggregateSpec) -> Value {
        switch spec.function {
        case "count": return .int(Int64(count))
        case "sum":
            if count == 0 { return .null }
            return sawFloat || spec.type.isFloatingPoint || overflow ? .float(floatSum) : .int(intSum)
        case "avg": return count == 0 ? .null : .float(floatSum / Double(count))
        case "array_agg": return count == 0 ? .null : .list(kept)
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
