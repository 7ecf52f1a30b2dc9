import Foundation
import LoamFormat

/// A WHERE condition compiled to loops over Arrow buffers. It fills a byte
/// mask, 1 where the condition is TRUE, reading the memory-mapped columns in
/// place: no value is boxed or copied.
///
/// Compiles: comparisons of a numeric, date, timestamp or text column with a
/// constant, IS [NOT] NULL, boolean columns, IN lists of constants,
/// `regexp_matches` of a text column with a pattern `RegexAutomaton` runs, and
/// AND / OR / NOT of those. Anything else returns nil from `compile` and runs
/// on `VectorEvaluator` instead, with the same semantics.
///
/// Three-valued logic: a leaf is TRUE only for non-null rows that satisfy it,
/// and NOT is pushed down to the leaves (De Morgan), where a negated leaf is
/// TRUE only for non-null rows that fail it. So UNKNOWN never becomes TRUE.
indirect enum MaskKernel: Sendable {
    case compare(slot: Int, op: String, constant: Value, negated: Bool)
    case inList(slot: Int, constants: [Value], negated: Bool)
    case isNull(slot: Int, negated: Bool)
    case boolColumn(slot: Int, negated: Bool)
    case regex(slot: Int, automaton: RegexAutomaton, negated: Bool)
    case constant(Bool)
    case and(MaskKernel, MaskKernel)
    case or(MaskKernel, MaskKernel)

    /// The kernel for `e` over columns of `types` (by slot), or nil when some part of it needs the general evaluator.
    static func compile(_ e: BoundExpression, types: [ArrowType], negated: Bool = false) -> MaskKernel? {
        switch e {
        case .and(let l, let r):
            guard let a = compile(l, types: types, negated: negated), let b = compile(r, types: types, negated: negated) else { return nil }
            return negated ? .or(a, b) : .and(a, b)
        case .or(let l, let r):
            guard let a = compile(l, types: types, negated: negated), let b = compile(r, types: types, negated: negated) else { return nil }
            return negated ? .and(a, b) : .or(a, b)
        case .not(let inner):
            return compile(inner, types: types, negated: !negated)
        case .isNull(.column(let slot), let n):
            return .isNull(slot: slot, negated: n != negated)
        case .column(let slot) where types[slot] == .bool:
            return .boolColumn(slot: slot, negated: negated)
        case .literal(.bool(let b)):
            return .constant(b != negated)
        case .compare(let op, .column(let slot), .literal(let c)):
            return supports(types[slot], c) ? .compare(slot: slot, op: op, constant: c, negated: negated) : nil
        case .compare(let op, .literal(let c), .column(let slot)):
            let flipped = ["<": ">", "<=": ">=", ">": "<", ">=": "<="][op] ?? op
            return supports(types[slot], c) ? .compare(slot: slot, op: flipped, constant: c, negated: negated) : nil
        case .inList(.column(let slot), let items, let n):
            var constants: [Value] = []
            for item in items {
                guard case .literal(let c) = item, supports(types[slot], c) else { return nil }
                constants.append(c)
            }
            return .inList(slot: slot, constants: constants, negated: n != negated)
        case .function("regexp_matches", let arguments, _):
            guard arguments.count == 2, case .column(let slot) = arguments[0], [.utf8, .largeUtf8].contains(types[slot]),
                  case .literal(.string(let pattern)) = arguments[1], let automaton = CompiledPattern.named(pattern)?.automaton else { return nil }
            return .regex(slot: slot, automaton: automaton, negated: negated)
        default:
            return nil
        }
    }

    /// Whether a column of `type` compared with `constant` has a buffer loop (NULL constants do not: the row evaluator handles them).
    private static func supports(_ type: ArrowType, _ constant: Value) -> Bool {
        switch (type, constant) {
        case (.int8, .int), (.int16, .int), (.int32, .int), (.int64, .int), (.date32, .int), (.timestamp, .int),
             (.uint8, .int), (.uint16, .int), (.uint32, .int):
            return true
        case (.int8, .float), (.int16, .float), (.int32, .float), (.int64, .float), (.float32, .int), (.float64, .int),
             (.float32, .float), (.float64, .float), (.uint8, .float), (.uint16, .float), (.uint32, .float):
            return true
        case (.utf8, .string), (.largeUtf8, .string):
            return true
        default:
            return false
        }
    }

    /// The slots the kernel reads.
    var slots: Set<Int> {
        switch self {
        case .compare(let s, _, _, _), .inList(let s, _, _), .isNull(let s, _), .boolColumn(let s, _), .regex(let s, _, _): return [s]
        case .constant: return []
        case .and(let a, let b), .or(let a, let b): return a.slots.union(b.slots)
        }
    }

    /// Fills `mask[0..<n]` with 1 where the condition is TRUE and 0 elsewhere; false when a row
    /// needs the row evaluator instead (a text the regex automaton hands to ICU).
    func evaluate(_ columns: [ArrowArray], _ n: Int, into mask: UnsafeMutablePointer<UInt8>) -> Bool {
        switch self {
        case .constant(let b):
            mask.update(repeating: b ? 1 : 0, count: n)
        case .and(let a, let b), .or(let a, let b):
            guard a.evaluate(columns, n, into: mask) else { return false }
            let other = UnsafeMutablePointer<UInt8>.allocate(capacity: max(n, 1))
            defer { other.deallocate() }
            guard b.evaluate(columns, n, into: other) else { return false }
            if case .and = self { for i in 0..<n { mask[i] &= other[i] } } else { for i in 0..<n { mask[i] |= other[i] } }
        case .isNull(let slot, let negated):
            let column = columns[slot]
            if column.nullCount == 0 || column.validity.isEmpty {
                mask.update(repeating: negated ? 1 : 0, count: n)
            } else {
                let bits = column.validity.pointer.assumingMemoryBound(to: UInt8.self)
                for i in 0..<n { mask[i] = ((bits[i >> 3] >> UInt8(i & 7)) & 1) ^ (negated ? 0 : 1) }
            }
        case .boolColumn(let slot, let negated):
            let bits = columns[slot].buffers[1].pointer.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { mask[i] = ((bits[i >> 3] >> UInt8(i & 7)) & 1) ^ (negated ? 1 : 0) }
            Self.clearNulls(columns[slot], n, mask)
        case .compare(let slot, let op, let constant, let negated):
            Self.compare(columns[slot], op, constant, n, mask)
            if negated { for i in 0..<n { mask[i] ^= 1 } }
            Self.clearNulls(columns[slot], n, mask)
        case .inList(let slot, let constants, let negated):
            mask.update(repeating: 0, count: n)
            let one = UnsafeMutablePointer<UInt8>.allocate(capacity: max(n, 1))
            defer { one.deallocate() }
            for c in constants {
                Self.compare(columns[slot], "=", c, n, one)
                for i in 0..<n { mask[i] |= one[i] }
            }
            if negated { for i in 0..<n { mask[i] ^= 1 } }
            Self.clearNulls(columns[slot], n, mask)
        case .regex(let slot, let automaton, let negated):
            let column = columns[slot]
            for i in 0..<n {
                guard let matched = automaton.matches(column.bytes(at: i)) else { return false }
                mask[i] = matched != negated ? 1 : 0
            }
            Self.clearNulls(column, n, mask)
        }
        return true
    }

    /// Zeroes the mask where the column is null: a comparison with NULL is never TRUE.
    private static func clearNulls(_ column: ArrowArray, _ n: Int, _ mask: UnsafeMutablePointer<UInt8>) {
        guard column.nullCount > 0, !column.validity.isEmpty else { return }
        let bits = column.validity.pointer.assumingMemoryBound(to: UInt8.self)
        for i in 0..<n { mask[i] &= (bits[i >> 3] >> UInt8(i & 7)) & 1 }
    }

    /// column `op` constant, for every row (nulls included; the caller clears them).
    private static func compare(_ column: ArrowArray, _ op: String, _ constant: Value, _ n: Int, _ mask: UnsafeMutablePointer<UInt8>) {
        guard n > 0 else { return }
        let data = column.buffers[1].pointer
        switch (column.type, constant) {
        case (.int64, .int(let c)), (.timestamp, .int(let c)): loop(data, Int64.self, n, op, mask) { $0 }.run(c)
        case (.int32, .int(let c)), (.date32, .int(let c)): loop(data, Int32.self, n, op, mask, Int64.init).run(c)
        case (.int16, .int(let c)): loop(data, Int16.self, n, op, mask, Int64.init).run(c)
        case (.int8, .int(let c)): loop(data, Int8.self, n, op, mask, Int64.init).run(c)
        case (.uint32, .int(let c)): loop(data, UInt32.self, n, op, mask, Int64.init).run(c)
        case (.uint16, .int(let c)): loop(data, UInt16.self, n, op, mask, Int64.init).run(c)
        case (.uint8, .int(let c)): loop(data, UInt8.self, n, op, mask, Int64.init).run(c)
        case (.float64, _): floats(data.assumingMemoryBound(to: Double.self), n, op, constant.asDouble!, mask)
        case (.float32, _): floats(data.assumingMemoryBound(to: Float.self), n, op, constant.asDouble!, mask)
        case (.int64, .float(let c)), (.timestamp, .float(let c)): loop(data, Int64.self, n, op, mask, Double.init).run(c)
        case (.int32, .float(let c)), (.date32, .float(let c)): loop(data, Int32.self, n, op, mask, Double.init).run(c)
        case (.int16, .float(let c)): loop(data, Int16.self, n, op, mask, Double.init).run(c)
        case (.int8, .float(let c)): loop(data, Int8.self, n, op, mask, Double.init).run(c)
        case (.uint32, .float(let c)): loop(data, UInt32.self, n, op, mask, Double.init).run(c)
        case (.uint16, .float(let c)): loop(data, UInt16.self, n, op, mask, Double.init).run(c)
        case (.uint8, .float(let c)): loop(data, UInt8.self, n, op, mask, Double.init).run(c)
        case (.utf8, .string(let s)), (.largeUtf8, .string(let s)):
            let needle = Array(s.utf8)
            needle.withUnsafeBytes { c in
                for i in 0..<n {
                    let bytes = column.bytes(at: i)
                    let order = compareBytes(bytes, c)
                    mask[i] = Self.holds(op, order) ? 1 : 0
                }
            }
        default:
            mask.update(repeating: 0, count: n)
        }
    }

    /// A float column against a constant, NaN equal to NaN and above every number (as `Value` orders
    /// them). Against a number, IEEE comparison already answers =, !=, < and <= so; `v > c` becomes
    /// `!(v <= c)` and `v >= c` becomes `!(v < c)`, which NaN passes: still one comparison a row.
    private static func floats(_ values: UnsafePointer<Double>, _ n: Int, _ op: String, _ constant: Double, _ mask: UnsafeMutablePointer<UInt8>) {
        if constant.isNaN { return nanConstant(n, op, mask) { values[$0].isNaN } }
        let c = constant
        switch op {
        case ">": for i in 0..<n { mask[i] = values[i] <= c ? 0 : 1 }
        case ">=": for i in 0..<n { mask[i] = values[i] < c ? 0 : 1 }
        default: loop(UnsafeRawPointer(values), Double.self, n, op, mask) { $0 }.run(c)
        }
    }

    private static func floats(_ values: UnsafePointer<Float>, _ n: Int, _ op: String, _ constant: Double, _ mask: UnsafeMutablePointer<UInt8>) {
        if constant.isNaN { return nanConstant(n, op, mask) { values[$0].isNaN } }
        let c = constant  // compared as doubles, as the other loops widen
        switch op {
        case ">": for i in 0..<n { mask[i] = Double(values[i]) <= c ? 0 : 1 }
        case ">=": for i in 0..<n { mask[i] = Double(values[i]) < c ? 0 : 1 }
        default: loop(UnsafeRawPointer(values), Float.self, n, op, mask, Double.init).run(c)
        }
    }

    /// Against NaN: only NaN equals it, and nothing is above it.
    private static func nanConstant(_ n: Int, _ op: String, _ mask: UnsafeMutablePointer<UInt8>, _ isNaN: (Int) -> Bool) {
        for i in 0..<n { mask[i] = holds(op, isNaN(i) ? 0 : -1) ? 1 : 0 }
    }

    /// -1, 0 or 1: byte-wise order of two strings, as `Value` orders them.
    private static func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = min(a.count, b.count)
        if common > 0, let pa = a.baseAddress, let pb = b.baseAddress {
            let r = memcmp(pa, pb, common)
            if r != 0 { return r < 0 ? -1 : 1 }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    static func holds(_ op: String, _ order: Int) -> Bool {
        switch op {
        case "=": return order == 0
        case "!=": return order != 0
        case "<": return order < 0
        case "<=": return order <= 0
        case ">": return order > 0
        default: return order >= 0
        }
    }

    private static func loop<T, U: Comparable>(_ data: UnsafeRawPointer, _: T.Type, _ n: Int, _ op: String,
                                              _ mask: UnsafeMutablePointer<UInt8>, _ widen: @escaping (T) -> U) -> CompareLoop<T, U> {
        CompareLoop(values: data.assumingMemoryBound(to: T.self), n: n, op: op, mask: mask, widen: widen)
    }
}

/// One comparison loop per operator, decided once per batch: LLVM vectorizes each.
private struct CompareLoop<T, U: Comparable> {
    let values: UnsafePointer<T>
    let n: Int
    let op: String
    let mask: UnsafeMutablePointer<UInt8>
    let widen: (T) -> U

    @inline(__always) func run(_ c: U) {
        let (v, m, n) = (values, mask, n)
        switch op {
        case "=": for i in 0..<n { m[i] = widen(v[i]) == c ? 1 : 0 }
        case "!=": for i in 0..<n { m[i] = widen(v[i]) != c ? 1 : 0 }
        case "<": for i in 0..<n { m[i] = widen(v[i]) < c ? 1 : 0 }
        case "<=": for i in 0..<n { m[i] = widen(v[i]) <= c ? 1 : 0 }
        case ">": for i in 0..<n { m[i] = widen(v[i]) > c ? 1 : 0 }
        default: for i in 0..<n { m[i] = widen(v[i]) >= c ? 1 : 0 }
        }
    }
}

/// A bound WHERE condition ready to run on batches: through its kernel when it
/// compiled, else through the vector evaluator. FALSE and NULL both drop a row.
struct Condition: Sendable {
    let bound: BoundExpression
    let kernel: MaskKernel?
    let vectors: VectorEvaluator

    init(_ bound: BoundExpression, types: [ArrowType], vectors: VectorEvaluator) {
        self.bound = bound
        kernel = vectors.typedLoops ? MaskKernel.compile(bound, types: types) : nil
        self.vectors = vectors
    }

    /// 1 for each row of the batch where the condition is TRUE, else 0.
    func mask(_ columns: [ArrowArray], _ n: Int) throws -> [UInt8] {
        if let kernel {
            var complete = true
            let mask = [UInt8](unsafeUninitializedCapacity: n) { buffer, count in
                if n > 0 { complete = kernel.evaluate(columns, n, into: buffer.baseAddress!) }
                count = n
            }
            if complete { return mask }
        }
        var cache: [Int: Vector] = [:]
        let result = try vectors.evaluate(bound, columns, &cache, n)
        if case .bool(let bits, let valid) = result { return (0..<n).map { bits[$0] && (valid?[$0] ?? true) ? 1 : 0 } }
        return (0..<n).map { if case .bool(true) = result.value($0) { return 1 } else { return 0 } }
    }

    /// The indices of the rows that pass; nil when every row does.
    static func selection(_ mask: [UInt8]) -> [Int]? {
        var kept = 0
        let selection = [Int](unsafeUninitializedCapacity: mask.count) { out, count in
            for i in mask.indices {  // branch-free: write every index, advance past the kept ones
                out[kept] = i
                kept &+= Int(mask[i])
            }
            count = kept
        }
        return kept == mask.count ? nil : selection
    }
}
