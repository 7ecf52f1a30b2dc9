import Foundation
import LoamFormat

/// GROUP BY with typed loops over Arrow buffers, for the common shape:
/// count(*), and count / sum / avg / min / max of numeric columns, grouped by
/// nothing or by one integer, date, timestamp or text column. Each fragment
/// aggregates into its own `PartialAggregates` (fragments run in parallel);
/// the partials then merge by key. Other shapes use `Accumulator`, row by row.
struct TypedAggregation: Sendable {
    enum Function: Sendable { case count, sum, avg, min, max }

    let keySlot: Int?
    let functions: [(function: Function, slot: Int?, isFloat: Bool)]

    /// The typed plan for these keys and aggregates over columns of `types`, or nil when some part needs the general path.
    static func plan(groupKeys: [BoundExpression], aggregates: [AggregateSpec], types: [ArrowType]) -> TypedAggregation? {
        let integers: Set<ArrowType> = [.int8, .int16, .int32, .int64, .date32]
        func isInteger(_ t: ArrowType) -> Bool { if case .timestamp = t { return true } else { return integers.contains(t) } }
        var keySlot: Int?
        switch groupKeys.count {
        case 0: break
        case 1:
            guard case .column(let slot) = groupKeys[0], isInteger(types[slot]) || types[slot] == .utf8 || types[slot] == .largeUtf8 else { return nil }
            keySlot = slot
        default: return nil
        }
        var functions: [(Function, Int?, Bool)] = []
        for spec in aggregates {
            guard !spec.distinct else { return nil }
            let function: Function
            switch spec.function {
            case "count": function = .count
            case "sum": function = .sum
            case "avg": function = .avg
            case "min": function = .min
            case "max": function = .max
            default: return nil
            }
            guard let argument = spec.argument else {
                guard function == .count else { return nil }
                functions.append((.count, nil, false))
                continue
            }
            guard case .column(let slot) = argument else { return nil }
            let type = types[slot]
            guard function == .count || isInteger(type) || type == .float32 || type == .float64 else { return nil }
            functions.append((function, slot, type == .float32 || type == .float64))
        }
        return TypedAggregation(keySlot: keySlot, functions: functions)
    }

    /// Aggregates the rows of one batch whose `mask` byte is 1 (every row when nil).
    func aggregate(_ columns: [ArrowArray], _ n: Int, mask: [UInt8]?) -> PartialAggregates {
        let textKey = keySlot.map { columns[$0].type == .utf8 || columns[$0].type == .largeUtf8 } ?? false
        var partial = PartialAggregates(functions: functions, textKeys: textKey)
        if keySlot == nil && functions.allSatisfy({ $0.slot == nil }) {  // only count(*), no GROUP BY: count the mask
            _ = partial.table.group(0)
            partial.resize()
            var selected = n
            if let mask {
                selected = 0
                mask.withUnsafeBufferPointer { m in for i in 0..<n { selected &+= Int(m[i]) } }
            }
            for f in functions.indices { partial.states[f].count[0] = selected }
            return partial
        }
        var groups = [Int32](repeating: 0, count: n)
        groups.withUnsafeMutableBufferPointer { g in
            if let keySlot {
                let column = columns[keySlot]
                let data = column.buffers[1].pointer
                let nullable = column.nullCount > 0 && !column.validity.isEmpty
                // Only selected rows make groups: a key seen only in filtered-out rows is no group.
                func assign<T: BinaryInteger>(_: T.Type) {
                    let values = data.assumingMemoryBound(to: T.self)
                    for i in 0..<n {
                        if let mask, mask[i] == 0 { g[i] = -1 }
                        else if nullable && column.isNull(i) { g[i] = Int32(partial.table.nullGroup()) }
                        else { g[i] = Int32(partial.table.group(Int64(values[i]))) }
                    }
                }
                switch column.type {
                case .utf8, .largeUtf8:
                    let large = column.type == .largeUtf8
                    let text = column.buffers[2].pointer
                    @inline(__always) func offset(_ i: Int) -> Int {
                        large ? Int(data.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) : Int(data.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
                    }
                    for i in 0..<n {
                        if let mask, mask[i] == 0 { g[i] = -1 }
                        else if nullable && column.isNull(i) { g[i] = Int32(partial.texts.nullGroup()) }
                        else {
                            let start = offset(i)
                            g[i] = Int32(partial.texts.group(UnsafeRawBufferPointer(start: text + start, count: offset(i + 1) - start)))
                        }
                    }
                case .int8: assign(Int8.self)
                case .int16: assign(Int16.self)
                case .int32, .date32: assign(Int32.self)
                default: assign(Int64.self)
                }
            } else {
                _ = partial.table.group(0)  // no GROUP BY: one group, even over no rows
                if let mask { for i in 0..<n where mask[i] == 0 { g[i] = -1 } }
            }
        }
        partial.resize()
        groups.withUnsafeBufferPointer { g in
            for (f, input) in functions.enumerated() {
                partial.states[f].add(input.slot.map { columns[$0] }, groups: g, function: input.function)
            }
        }
        return partial
    }
}

/// Dense group numbers for integer keys: a direct table for small keys, open addressing for the rest.
struct IntGroupTable: Sendable {
    private(set) var keys: [Int64?] = []
    private var direct = [Int32](repeating: -1, count: 1024)
    private var slots: [Int32] = []
    private var nullNumber: Int32 = -1

    var count: Int { keys.count }

    @inline(__always) mutating func group(_ key: Int64) -> Int {
        if key >= 0 && key < 1024 {
            let g = direct[Int(key)]
            if g >= 0 { return Int(g) }
            direct[Int(key)] = Int32(keys.count)
            keys.append(key)
            return keys.count - 1
        }
        return hashed(key)
    }

    /// The number of a key already seen, without adding it.
    func number(_ key: Int64) -> Int? {
        if key >= 0 && key < 1024 { let g = direct[Int(key)]; return g >= 0 ? Int(g) : nil }
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
        while slots[i] >= 0 {
            if keys[Int(slots[i])] == key { return Int(slots[i]) }
            i = (i + 1) & mask
        }
        return nil
    }

    mutating func nullGroup() -> Int {
        if nullNumber < 0 {
            nullNumber = Int32(keys.count)
            keys.append(nil)
        }
        return Int(nullNumber)
    }

    private mutating func hashed(_ key: Int64) -> Int {
        if slots.count < 2 * (keys.count + 1) { rehash(max(64, slots.count * 2)) }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
        while true {
            let g = slots[i]
            if g < 0 {
                slots[i] = Int32(keys.count)
                keys.append(key)
                return keys.count - 1
            }
            if keys[Int(g)] == key { return Int(g) }
            i = (i + 1) & mask
        }
    }

    private mutating func rehash(_ capacity: Int) {
        slots = [Int32](repeating: -1, count: capacity)
        for (g, key) in keys.enumerated() {
            guard let key, !(key >= 0 && key < 1024) else { continue }
            var i = Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> 20) & (capacity - 1)
            while slots[i] >= 0 { i = (i + 1) & (capacity - 1) }
            slots[i] = Int32(g)
        }
    }
}

/// One batch's (or the merged) groups and their aggregate states.
struct PartialAggregates: Sendable {
    let textKeys: Bool
    var table = IntGroupTable()
    var texts = TextGroupTable()
    var states: [AggregateState]

    init(functions: [(function: TypedAggregation.Function, slot: Int?, isFloat: Bool)], textKeys: Bool) {
        self.textKeys = textKeys
        states = functions.map { AggregateState(isFloat: $0.isFloat) }
    }

    var count: Int { textKeys ? texts.count : table.count }

    mutating func resize() { for f in states.indices { states[f].resize(count) } }

    /// Adds `other`'s groups into these, by key.
    mutating func merge(_ other: PartialAggregates) {
        let numbers = textKeys
            ? (0..<other.texts.count).map { g in other.texts.withKey(g) { $0.map { texts.group($0) } ?? texts.nullGroup() } }
            : other.table.keys.map { key in key.map { table.group($0) } ?? table.nullGroup() }
        resize()
        for f in states.indices { states[f].merge(other.states[f], numbers) }
    }

    /// Each group's key and its aggregate results, as `Accumulator.result` would give them.
    func results(_ functions: [(function: TypedAggregation.Function, slot: Int?, isFloat: Bool)]) throws -> [(key: Value, values: [Value])] {
        try (0..<count).map { g in
            let key = textKeys ? texts.withKey(g) { $0.map { Value.string(String(decoding: $0, as: UTF8.self)) } ?? .null }
                : table.keys[g].map(Value.int) ?? .null
            return (key, try functions.indices.map { f in
                do { return try states[f].result(g, functions[f].function) } catch var overflow as SumOutOfRange {
                    overflow.aggregate = f  // typed functions are the query's aggregates, in order
                    throw overflow
                }
            })
        }
    }
}

/// Dense group numbers for text keys: the key bytes live in one arena, their first 16 bytes beside the
/// hash (short keys compare without touching the arena); open addressing.
struct TextGroupTable: Sendable {
    private var bytes: [UInt8] = []
    private var ends: [Int] = []      // key g is bytes[ends[g-1] ..< ends[g]] (nil key: an empty range, marked in `nullNumber`)
    private var hashes: [UInt64] = []
    private var heads: [SIMD2<UInt64>] = []
    private var slots: [Int32] = []
    private var nullNumber: Int32 = -1

    var count: Int { ends.count }

    /// The key of group `g` (nil for the NULL group), valid inside `body`.
    func withKey<R>(_ g: Int, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        if g == Int(nullNumber) { return body(nil) }
        let start = g == 0 ? 0 : ends[g - 1]
        return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<ends[g]])) }
    }

    mutating func nullGroup() -> Int {
        if nullNumber < 0 {
            nullNumber = Int32(ends.count)
            ends.append(bytes.count)
            hashes.append(0)
            heads.append(SIMD2())
        }
        return Int(nullNumber)
    }

    /// The first 16 bytes of a key, zero-padded: short keys compare and hash from these two words alone.
    /// Loads stay inside the key (overlapping loads, shifted), so nothing is copied through memory.
    @inline(__always) private static func head(_ key: UnsafeRawBufferPointer) -> SIMD2<UInt64> {
        let n = key.count
        if n >= 16 { return SIMD2(key.loadUnaligned(as: UInt64.self), key.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        if n >= 8 {
            let high = n == 8 ? 0 : key.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) >> UInt64(8 * (16 - n))
            return SIMD2(key.loadUnaligned(as: UInt64.self), high)
        }
        if n >= 4 {
            let low = UInt64(key.loadUnaligned(as: UInt32.self)), high = UInt64(key.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
            return SIMD2(low | (high << UInt64(8 * (n - 4))), 0)
        }
        var word: UInt64 = 0
        for i in 0..<n { word |= UInt64(key[i]) << UInt64(8 * i) }
        return SIMD2(word, 0)
    }

    /// Multiply and xor-shift over the head words, then eight bytes at a time over the rest.
    @inline(__always) private static func hash(_ key: UnsafeRawBufferPointer, _ head: SIMD2<UInt64>) -> UInt64 {
        var h = UInt64(key.count) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ head[0]) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        h = (h ^ head[1]) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
        var i = 16
        while i < key.count {
            var word: UInt64 = 0
            withUnsafeMutableBytes(of: &word) { $0.baseAddress!.copyMemory(from: key.baseAddress! + i, byteCount: min(8, key.count - i)) }
            h = (h ^ word) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        return h
    }

    mutating func group(_ key: UnsafeRawBufferPointer) -> Int {
        if slots.count < 2 * (ends.count + 1) { rehash(max(64, slots.count * 2)) }
        let head = Self.head(key)
        let h = Self.hash(key, head)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h >> 7) & mask
        while true {
            let g = Int(slots[i])
            if g < 0 {
                slots[i] = Int32(ends.count)
                bytes.append(contentsOf: key)
                ends.append(bytes.count)
                hashes.append(h)
                heads.append(head)
                return ends.count - 1
            }
            if hashes[g] == h && heads[g] == head && g != Int(nullNumber) {
                let start = g == 0 ? 0 : ends[g - 1]
                let same = ends[g] - start == key.count && (key.count <= 16 || bytes.withUnsafeBytes { stored in
                    memcmp(stored.baseAddress! + start + 16, key.baseAddress! + 16, key.count - 16) == 0
                })
                if same { return g }
            }
            i = (i + 1) & mask
        }
    }

    private mutating func rehash(_ capacity: Int) {
        slots = [Int32](repeating: -1, count: capacity)
        for g in 0..<ends.count where g != Int(nullNumber) {
            var i = Int(truncatingIfNeeded: hashes[g] >> 7) & (capacity - 1)
            while slots[i] >= 0 { i = (i + 1) & (capacity - 1) }
            slots[i] = Int32(g)
        }
    }
}

/// count, sums, min and max of one aggregate, by group number.
struct AggregateState: Sendable {
    let isFloat: Bool
    var count: [Int] = []
    var intSum: [Int64] = []
    /// How many times each group's int64 sum wrapped (+1 up, -1 down): the exact sum is carry·2⁶⁴ + intSum.
    var carry: [Int64] = []
    var floatSum: [Double] = []
    var lowInt: [Int64] = [], highInt: [Int64] = []
    var low: [Double] = [], high: [Double] = []

    init(isFloat: Bool) { self.isFloat = isFloat }

    mutating func resize(_ groups: Int) {
        let extra = groups - count.count
        guard extra > 0 else { return }
        count += repeatElement(0, count: extra)
        intSum += repeatElement(0, count: extra)
        carry += repeatElement(0, count: extra)
        floatSum += repeatElement(0, count: extra)
        lowInt += repeatElement(.max, count: extra)
        highInt += repeatElement(.min, count: extra)
        low += repeatElement(.infinity, count: extra)
        high += repeatElement(-.infinity, count: extra)
    }

    /// Adds the rows whose group number is not -1; `column` is nil for count(*).
    mutating func add(_ column: ArrowArray?, groups g: UnsafeBufferPointer<Int32>, function: TypedAggregation.Function) {
        let n = g.count
        withBuffers { b in
            guard let column else {
                for i in 0..<n where g[i] >= 0 { b.count[Int(g[i])] += 1 }
                return
            }
            let nullable = column.nullCount > 0 && !column.validity.isEmpty
            if function == .count {  // any type: only its validity is read
                for i in 0..<n where g[i] >= 0 && !(nullable && column.isNull(i)) { b.count[Int(g[i])] += 1 }
                return
            }
            let data = column.buffers[1].pointer
            @inline(__always) func rows(_ body: (Int, Int) -> Void) {
                for i in 0..<n where g[i] >= 0 && !(nullable && column.isNull(i)) {
                    let group = Int(g[i])
                    b.count[group] += 1
                    body(i, group)
                }
            }
            func integers<T: BinaryInteger>(_: T.Type) {
                let v = data.assumingMemoryBound(to: T.self)
                switch function {
                case .count: rows { _, _ in }
                case .sum, .avg:
                    rows { i, group in
                        let x = Int64(v[i])
                        let (s, o) = b.intSum[group].addingReportingOverflow(x)
                        b.intSum[group] = s
                        if o { b.carry[group] += x < 0 ? -1 : 1 }
                        b.floatSum[group] += Double(x)
                    }
                case .min: rows { i, group in b.lowInt[group] = Swift.min(b.lowInt[group], Int64(v[i])) }
                case .max: rows { i, group in b.highInt[group] = Swift.max(b.highInt[group], Int64(v[i])) }
                }
            }
            func floats<T: BinaryFloatingPoint>(_: T.Type) {
                let v = data.assumingMemoryBound(to: T.self)
                switch function {
                case .count: rows { _, _ in }
                case .sum, .avg: rows { i, group in b.floatSum[group] += Double(v[i]) }
                // NaN sorts above every number (as `Value` orders floats): max takes it, min leaves it for any number.
                case .min: rows { i, group in
                    let x = Double(v[i]), low = b.low[group]
                    if x < low || b.count[group] == 1 || (low.isNaN && !x.isNaN) { b.low[group] = x }
                }
                case .max: rows { i, group in
                    let x = Double(v[i]), high = b.high[group]
                    if x > high || b.count[group] == 1 || (x.isNaN && !high.isNaN) { b.high[group] = x }
                }
                }
            }
            switch column.type {
            case .int8: integers(Int8.self)
            case .int16: integers(Int16.self)
            case .int32, .date32: integers(Int32.self)
            case .float32: floats(Float.self)
            case .float64: floats(Double.self)
            default: integers(Int64.self)
            }
        }
    }

    private struct Buffers {
        let count: UnsafeMutableBufferPointer<Int>
        let intSum: UnsafeMutableBufferPointer<Int64>
        let carry: UnsafeMutableBufferPointer<Int64>
        let floatSum: UnsafeMutableBufferPointer<Double>
        let lowInt: UnsafeMutableBufferPointer<Int64>, highInt: UnsafeMutableBufferPointer<Int64>
        let low: UnsafeMutableBufferPointer<Double>, high: UnsafeMutableBufferPointer<Double>
    }

    /// Every per-group array at once, so the loops index raw memory.
    private mutating func withBuffers(_ body: (Buffers) -> Void) {
        count.withUnsafeMutableBufferPointer { c in
            intSum.withUnsafeMutableBufferPointer { s in
                carry.withUnsafeMutableBufferPointer { o in
                    floatSum.withUnsafeMutableBufferPointer { f in
                        lowInt.withUnsafeMutableBufferPointer { li in
                            highInt.withUnsafeMutableBufferPointer { hi in
                                low.withUnsafeMutableBufferPointer { l in
                                    high.withUnsafeMutableBufferPointer { h in
                                        body(Buffers(count: c, intSum: s, carry: o, floatSum: f, lowInt: li, highInt: hi, low: l, high: h))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds `other`'s groups, where its group g is this state's `numbers[g]`.
    mutating func merge(_ other: AggregateState, _ numbers: [Int]) {
        for (g, to) in numbers.enumerated() where other.count[g] > 0 {
            let first = count[to] == 0
            count[to] += other.count[g]
            let (s, o) = intSum[to].addingReportingOverflow(other.intSum[g])
            intSum[to] = s
            carry[to] += other.carry[g] + (o ? (other.intSum[g] < 0 ? -1 : 1) : 0)
            floatSum[to] += other.floatSum[g]
            lowInt[to] = Swift.min(lowInt[to], other.lowInt[g])
            highInt[to] = Swift.max(highInt[to], other.highInt[g])
            if first || other.low[g] < low[to] || (low[to].isNaN && !other.low[g].isNaN) { low[to] = other.low[g] }
            if first || other.high[g] > high[to] || (other.high[g].isNaN && !high[to].isNaN) { high[to] = other.high[g] }
        }
    }

    func result(_ g: Int, _ function: TypedAggregation.Function) throws -> Value {
        if function == .count { return .int(Int64(count[g])) }
        guard count[g] > 0 else { return .null }
        let exact = Int128(carry[g]) << 64 + Int128(intSum[g])
        switch function {
        case .sum:
            if isFloat { return .float(floatSum[g]) }
            guard let sum = Int64(exactly: exact) else { throw SumOutOfRange(exact: exact) }
            return .int(sum)
        case .avg: return .float(isFloat ? floatSum[g] / Double(count[g]) : Double(exact) / Double(count[g]))
        case .min: return isFloat ? .float(low[g]) : .int(lowInt[g])
        default: return isFloat ? .float(high[g]) : .int(highInt[g])
        }
    }
}
