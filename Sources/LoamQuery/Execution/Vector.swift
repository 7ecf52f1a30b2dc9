import LoamFormat

/// One expression's values over a batch: typed storage for numbers and
/// booleans (the hot cases), `Value`s for everything else. `valid` is nil
/// when no value is null.
enum Vector {
    case int64([Int64], valid: [Bool]?)
    case float64([Double], valid: [Bool]?)
    case bool([Bool], valid: [Bool]?)
    case values([Value])

    var count: Int {
        switch self {
        case .int64(let v, _): return v.count
        case .float64(let v, _): return v.count
        case .bool(let v, _): return v.count
        case .values(let v): return v.count
        }
    }

    @inline(__always) func isNull(_ i: Int) -> Bool {
        switch self {
        case .int64(_, let valid), .float64(_, let valid), .bool(_, let valid): return valid.map { !$0[i] } ?? false
        case .values(let v): return v[i].isNull
        }
    }

    @inline(__always) func value(_ i: Int) -> Value {
        switch self {
        case .int64(let v, let valid): return valid.map { $0[i] } ?? true ? .int(v[i]) : .null
        case .float64(let v, let valid): return valid.map { $0[i] } ?? true ? .float(v[i]) : .null
        case .bool(let v, let valid): return valid.map { $0[i] } ?? true ? .bool(v[i]) : .null
        case .values(let v): return v[i]
        }
    }

    /// Reads an Arrow column: integer, date and timestamp types as int64, floats as float64, bool as bool.
    static func from(_ array: ArrowArray) -> Vector {
        let n = array.length
        let valid: [Bool]? = array.nullCount > 0 ? (0..<n).map { !array.isNull($0) } : nil
        let data = array.buffers.count > 1 ? array.buffers[1] : ByteView.empty
        /// Widens n values of T at the buffer into a fresh array, one tight loop.
        func widen<T, U>(_: T.Type, _ convert: (T) -> U, zero: U) -> [U] {
            var out = [U](repeating: zero, count: n)
            guard n > 0 else { return out }
            let source = UnsafeRawPointer(data.pointer)
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n { o[i] = convert(source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.stride, as: T.self)) }
            }
            return out
        }
        switch array.type {
        case .int64, .timestamp: return .int64(widen(Int64.self, { $0 }, zero: 0), valid: valid)
        case .int32, .date32: return .int64(widen(Int32.self, Int64.init, zero: 0), valid: valid)
        case .int16: return .int64(widen(Int16.self, Int64.init, zero: 0), valid: valid)
        case .int8: return .int64(widen(Int8.self, Int64.init, zero: 0), valid: valid)
        case .uint8: return .int64(widen(UInt8.self, Int64.init, zero: 0), valid: valid)
        case .uint16: return .int64(widen(UInt16.self, Int64.init, zero: 0), valid: valid)
        case .uint32: return .int64(widen(UInt32.self, Int64.init, zero: 0), valid: valid)
        case .float64: return .float64(widen(Double.self, { $0 }, zero: 0), valid: valid)
        case .float32: return .float64(widen(Float.self, Double.init, zero: 0), valid: valid)
        case .bool: return .bool((0..<n).map { data.bit($0) }, valid: valid)
        default: return .values(array.values)
        }
    }

    static func broadcast(_ value: Value, _ n: Int) -> Vector {
        switch value {
        case .int(let i): return .int64([Int64](repeating: i, count: n), valid: nil)
        case .float(let d): return .float64([Double](repeating: d, count: n), valid: nil)
        case .bool(let b): return .bool([Bool](repeating: b, count: n), valid: nil)
        default: return .values([Value](repeating: value, count: n))
        }
    }
}

/// Evaluates bound expressions a batch at a time. Comparisons, arithmetic
/// and AND/OR/NOT on numbers and booleans run as typed loops; anything else
/// falls back to the row evaluator, with identical semantics.
struct VectorEvaluator: Sendable {
    let rows: Evaluator
    /// False: every expression row by row (the reference mode of `SelectPlan`).
    var typedLoops = true

    /// `columns[slot]` are the batch's scanned columns; `n` its length.
    func evaluate(_ e: BoundExpression, _ columns: [ArrowArray], _ cache: inout [Int: Vector], _ n: Int) throws -> Vector {
        guard typedLoops else { return try fallback(e, columns, &cache, n) }
        switch e {
        case .column(let slot):
            if let v = cache[slot] { return v }
            let v = Vector.from(columns[slot])
            cache[slot] = v
            return v
        case .literal(let value):
            return .broadcast(value, n)
        case .compare(let op, let l, let r):
            let a = try evaluate(l, columns, &cache, n), b = try evaluate(r, columns, &cache, n)
            if let typed = Self.compareTyped(op, a, b) { return typed }
        case .and(let l, let r), .or(let l, let r):
            let isAnd: Bool = { if case .and = e { return true } else { return false } }()
            guard case .bool(let x, let vx) = try evaluate(l, columns, &cache, n),
                  case .bool(let y, let vy) = try evaluate(r, columns, &cache, n) else { break }
            if vx == nil && vy == nil {  // no NULLs: plain boolean logic
                return .bool(isAnd ? zip(x, y).map { $0 && $1 } : zip(x, y).map { $0 || $1 }, valid: nil)
            }
            var out = [Bool](repeating: false, count: n)
            var valid: [Bool]? = [Bool](repeating: true, count: n)
            for i in 0..<n {
                let knownX = vx?[i] ?? true, knownY = vy?[i] ?? true
                if isAnd {
                    if (knownX && !x[i]) || (knownY && !y[i]) { out[i] = false } else if knownX && knownY { out[i] = true } else { valid![i] = false }
                } else {
                    if (knownX && x[i]) || (knownY && y[i]) { out[i] = true } else if knownX && knownY { out[i] = false } else { valid![i] = false }
                }
            }
            return .bool(out, valid: valid)
        case .not(let inner):
            guard case .bool(let x, let valid) = try evaluate(inner, columns, &cache, n) else { break }
            return .bool(x.map { !$0 }, valid: valid)
        case .isNull(let inner, let negated):
            let v = try evaluate(inner, columns, &cache, n)
            return .bool((0..<n).map { v.isNull($0) != negated }, valid: nil)
        case .arithmetic(let op, let l, let r, false, let at):
            let a = try evaluate(l, columns, &cache, n), b = try evaluate(r, columns, &cache, n)
            switch (a, b) {
            case (.int64(let x, let vx), .int64(let y, let vy)):
                // One loop per operator (decided once, not per row); a row that overflows or divides by
                // zero is an error only when both its operands are present.
                var out = [Int64](repeating: 0, count: n)
                var failed: Int?
                func run(_ f: (Int64, Int64) -> (Int64, Bool)) {
                    for i in 0..<n {
                        let (value, bad) = f(x[i], y[i])
                        out[i] = value
                        if bad && failed == nil && (vx?[i] ?? true) && (vy?[i] ?? true) { failed = i }
                    }
                }
                switch op {
                case "+": run { $0.addingReportingOverflow($1) }
                case "-": run { $0.subtractingReportingOverflow($1) }
                case "*": run { $0.multipliedReportingOverflow(by: $1) }
                case "/": run { $1 == 0 ? (0, true) : $0.dividedReportingOverflow(by: $1) }
                default: run { $1 == 0 ? (0, true) : $1 == -1 ? (0, false) : $0.remainderReportingOverflow(dividingBy: $1) }  // Int64.min % -1 is 0
                }
                if let i = failed {
                    if (op == "/" || op == "%") && y[i] == 0 { throw rows.error("division by zero", at: at) }
                    throw rows.error("integer overflow: \(x[i]) \(op) \(y[i]) is outside int64; CAST an operand AS float64 for larger values", at: at)
                }
                return .int64(out, valid: Self.both(vx, vy, n))
            case (.float64, _), (_, .float64):
                guard op != "/" && op != "%", let x = Self.doubles(a), let y = Self.doubles(b) else { break }
                let out: [Double]
                switch op {
                case "+": out = zip(x.0, y.0).map(+)
                case "-": out = zip(x.0, y.0).map(-)
                default: out = zip(x.0, y.0).map(*)
                }
                return .float64(out, valid: Self.both(x.1, y.1, n))
            default: break
            }
        default: break
        }
        return try fallback(e, columns, &cache, n)
    }

    /// Row-at-a-time evaluation of one expression over the batch.
    private func fallback(_ e: BoundExpression, _ columns: [ArrowArray], _ cache: inout [Int: Vector], _ n: Int) throws -> Vector {
        var slots = Set<Int>()
        Self.slots(e, into: &slots)
        for slot in slots where cache[slot] == nil { cache[slot] = Vector.from(columns[slot]) }
        let width = (slots.max() ?? -1) + 1
        var row = [Value](repeating: .null, count: width)
        var out: [Value] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            for slot in slots { row[slot] = cache[slot]!.value(i) }
            out.append(try rows.evaluate(e, row))
        }
        return .values(out)
    }

    static func slots(_ e: BoundExpression, into set: inout Set<Int>) {
        switch e {
        case .column(let s): set.insert(s)
        case .literal, .aggregate: break
        case .negate(let x), .not(let x), .isNull(let x, _), .cast(let x, _, _): slots(x, into: &set)
        case .arithmetic(_, let a, let b, _, _), .compare(_, let a, let b), .and(let a, let b), .or(let a, let b), .concat(let a, let b),
             .like(let a, let b, _, _):
            slots(a, into: &set)
            slots(b, into: &set)
        case .inList(let x, let items, _): slots(x, into: &set); items.forEach { slots($0, into: &set) }
        case .caseWhen(let branches, let otherwise):
            for (c, r) in branches { slots(c, into: &set); slots(r, into: &set) }
            if let otherwise { slots(otherwise, into: &set) }
        case .function(_, let args, _), .list(let args), .lookup(_, let args): args.forEach { slots($0, into: &set) }
        case .element(let a, let b): slots(a, into: &set); slots(b, into: &set)
        }
    }

    private static func both(_ a: [Bool]?, _ b: [Bool]?, _ n: Int) -> [Bool]? {
        switch (a, b) {
        case (nil, nil): return nil
        case (let x?, nil): return x
        case (nil, let y?): return y
        case (let x?, let y?): return (0..<n).map { x[$0] && y[$0] }
        }
    }

    private static func doubles(_ v: Vector) -> ([Double], [Bool]?)? {
        switch v {
        case .float64(let d, let valid): return (d, valid)
        case .int64(let i, let valid): return (i.map(Double.init), valid)
        default: return nil
        }
    }

    private static func compareTyped(_ op: String, _ a: Vector, _ b: Vector) -> Vector? {
        switch (a, b) {
        case (.int64(let x, let vx), .int64(let y, let vy)):
            return .bool(compareLoop(op, x, y), valid: both(vx, vy, x.count))
        case (.float64, .float64), (.float64, .int64), (.int64, .float64):
            guard let (x, vx) = doubles(a), let (y, vy) = doubles(b) else { return nil }
            var out = compareLoop(op, x, y)
            // NaN equals NaN and sorts above every number: patch the rows where IEEE comparison says otherwise.
            for i in 0..<x.count where x[i].isNaN || y[i].isNaN {
                let order = x[i].isNaN ? (y[i].isNaN ? 0 : 1) : -1
                out[i] = MaskKernel.holds(op, order)
            }
            return .bool(out, valid: both(vx, vy, x.count))
        default:
            return nil
        }
    }

    /// One tight loop per operator: the operator is decided once, not per element.
    private static func compareLoop<T: Comparable>(_ op: String, _ x: [T], _ y: [T]) -> [Bool] {
        let n = x.count
        var out = [Bool](repeating: false, count: n)
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeBufferPointer { ys in
                out.withUnsafeMutableBufferPointer { o in
                    switch op {
                    case "=": for i in 0..<n { o[i] = xs[i] == ys[i] }
                    case "!=": for i in 0..<n { o[i] = xs[i] != ys[i] }
                    case "<": for i in 0..<n { o[i] = xs[i] < ys[i] }
                    case "<=": for i in 0..<n { o[i] = xs[i] <= ys[i] }
                    case ">": for i in 0..<n { o[i] = xs[i] > ys[i] }
                    default: for i in 0..<n { o[i] = xs[i] >= ys[i] }
                    }
                }
            }
        }
        return out
    }
}
