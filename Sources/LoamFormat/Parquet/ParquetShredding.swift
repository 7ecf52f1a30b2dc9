/// One Parquet column as the writer plans it.
struct WriteLeaf {
    let path: [String]
    let physical: ParquetPhysical
    let type: ArrowType
    let maxDef: Int
    let maxRep: Int
}

/// Loam's schema as Parquet schema elements (depth first) and leaf columns.
struct WritePlan {
    var elements: [SchemaElement] = []
    var leaves: [WriteLeaf] = []

    static func leafCount(_ type: ArrowType) -> Int {
        switch type {
        case .list(let f), .fixedSizeList(let f, _): return leafCount(f.type)
        case .structType(let fs): return fs.reduce(0) { $0 + leafCount($1.type) }
        default: return 1
        }
    }

    mutating func add(_ field: Field, def: Int, rep: Int, path: [String]) throws {
        var e = SchemaElement()
        e.name = field.name
        e.repetition = field.nullable ? .optional : .required
        let d = def + (field.nullable ? 1 : 0)
        switch field.type {
        case .list(let item), .fixedSizeList(let item, _):
            e.numChildren = 1
            e.logical = .list
            e.convertedType = 3
            elements.append(e)
            var repeated = SchemaElement()
            repeated.name = "list"
            repeated.repetition = .repeated
            repeated.numChildren = 1
            elements.append(repeated)
            var element = item
            element.name = "element"
            try add(element, def: d + 1, rep: rep + 1, path: path + [field.name, "list"])
        case .structType(let fields):
            guard !fields.isEmpty else { throw FormatError.unsupportedParquet("column '\(field.name)' is a struct with no fields, which Parquet cannot hold") }
            e.numChildren = fields.count
            elements.append(e)
            for f in fields { try add(f, def: d, rep: rep, path: path + [field.name]) }
        default:
            let (physical, logical, converted) = Self.physical(field.type)
            e.type = physical
            e.logical = logical
            e.convertedType = converted
            elements.append(e)
            leaves.append(WriteLeaf(path: path + [field.name], physical: physical, type: field.type, maxDef: d, maxRep: rep))
        }
    }

    static func physical(_ type: ArrowType) -> (ParquetPhysical, ParquetLogical?, Int32?) {
        switch type {
        case .bool: return (.boolean, nil, nil)
        case .int8: return (.int32, .integer(bits: 8, signed: true), 15)
        case .int16: return (.int32, .integer(bits: 16, signed: true), 16)
        case .int32: return (.int32, nil, nil)
        case .int64: return (.int64, nil, nil)
        case .uint8: return (.int32, .integer(bits: 8, signed: false), 11)
        case .uint16: return (.int32, .integer(bits: 16, signed: false), 12)
        case .uint32: return (.int32, .integer(bits: 32, signed: false), 13)
        case .uint64: return (.int64, .integer(bits: 64, signed: false), 14)
        case .float32: return (.float, nil, nil)
        case .float64: return (.double, nil, nil)
        case .utf8, .largeUtf8: return (.byteArray, .string, 0)
        case .binary, .largeBinary: return (.byteArray, nil, nil)
        case .date32: return (.int32, .date, 6)
        case .timestamp(let unit, let zone):
            // Parquet has no seconds: they are written as milliseconds.
            let u: TimeUnit = unit == .second ? .millisecond : unit
            let converted: Int32? = zone == nil ? nil : u == .millisecond ? 9 : u == .microsecond ? 10 : nil
            return (.int64, .timestamp(u, utc: zone != nil), converted)
        case .list, .fixedSizeList, .structType: fatalError("nested types are groups")
        }
    }
}

extension SchemaElement {
    func write(_ t: inout ThriftWriter) {
        t.structure { t in
            if let type { t.field(1, i32: type.rawValue) }
            t.field(3, i32: repetition.rawValue)
            t.field(4, string: name)
            if numChildren > 0 { t.field(5, i32: Int32(numChildren)) }
            if let convertedType { t.field(6, i32: convertedType) }
            guard let logical else { return }
            t.field(10, struct: { t in
                switch logical {
                case .string: t.field(1, struct: { _ in })
                case .list: t.field(3, struct: { _ in })
                case .date: t.field(6, struct: { _ in })
                case .timestamp(let unit, let utc):
                    t.field(8, struct: { t in
                        t.field(1, bool: utc)
                        t.field(2, struct: { t in t.field(unit == .millisecond ? 1 : unit == .microsecond ? 2 : 3, struct: { _ in }) })
                    })
                case .integer(let bits, let signed):
                    t.field(10, struct: { t in
                        t.field(1, byte: UInt8(bits))
                        t.field(2, bool: signed)
                    })
                default: break
                }
            })
        }
    }
}

/// Collects one leaf's levels and values for a row group.
struct LeafShredder {
    let leaf: WriteLeaf
    var defs: [UInt8] = []
    var reps: [UInt8] = []
    /// Values in their physical width (a bool is one byte), or byte arrays as offsets into `data`.
    var fixed: [UInt8] = []
    var offsets: [Int] = [0]
    var data: [UInt8] = []
    var nulls = 0

    init(leaf: WriteLeaf) { self.leaf = leaf }

    var isBytes: Bool { leaf.physical == .byteArray }

    @inline(__always) mutating func empty(def: Int, rep: Int) {
        defs.append(UInt8(def))
        reps.append(UInt8(rep))
        nulls += 1
    }

    @inline(__always) mutating func value(_ a: ArrowArray, _ i: Int, rep: Int) {
        defs.append(UInt8(leaf.maxDef))
        reps.append(UInt8(rep))
        appendValue(a, i)
    }

    /// Appends value `i` of `a` in its Parquet physical form (no levels).
    @inline(__always) mutating func appendValue(_ a: ArrowArray, _ i: Int) {
        let v = a.buffers.count > 1 ? a.buffers[1] : .empty
        switch a.type {
        case .bool: fixed.append(v.bit(i) ? 1 : 0)
        case .int8: append(Int32(v.load(i, as: Int8.self)))
        case .int16: append(Int32(v.load(i, as: Int16.self)))
        case .uint8: append(UInt32(v.load(i, as: UInt8.self)))
        case .uint16: append(UInt32(v.load(i, as: UInt16.self)))
        case .int32, .uint32, .date32, .float32: append(v.load(i, as: UInt32.self))
        case .timestamp(.second, _): append(v.load(i, as: Int64.self) &* 1000)
        case .int64, .uint64, .float64, .timestamp: append(v.load(i, as: UInt64.self))
        case .utf8, .largeUtf8, .binary, .largeBinary:
            data.append(contentsOf: a.bytes(at: i))
            offsets.append(data.count)
        case .list, .fixedSizeList, .structType: break
        }
    }

    @inline(__always) private mutating func append<T: FixedWidthInteger>(_ x: T) {
        withUnsafeBytes(of: x.littleEndian) { fixed.append(contentsOf: $0) }
    }

    var count: Int { isBytes ? offsets.count - 1 : fixed.count / max(width, 1) }

    var width: Int {
        switch leaf.physical {
        case .boolean: return 1
        case .int32, .float: return 4
        default: return 8
        }
    }

    func valueSize(_ v: Int) -> Int { isBytes ? offsets[v + 1] - offsets[v] + 4 : width }

    /// The chunk's smallest and largest value, PLAIN-encoded as Parquet statistics hold them, in the order
    /// its logical type defines (unsigned integers unsigned, byte arrays bytewise); nil when there is no
    /// value to order (all null, all NaN) or a byte array past 1 KiB would be the bound (Loam writes exact
    /// bounds only).
    func minMax() -> (min: [UInt8], max: [UInt8])? {
        let count = isBytes ? offsets.count - 1 : fixed.count / max(width, 1)
        guard count > 0 else { return nil }
        func bytes<T>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
        func load<T>(_ v: Int, _: T.Type) -> T { fixed.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: v * MemoryLayout<T>.size, as: T.self) } }
        func ordered<T: Comparable>(_ type: T.Type, skip: (T) -> Bool = { _ in false }) -> (T, T)? {
            var low: T?, high: T?
            for v in 0..<count {
                let x = load(v, T.self)
                if skip(x) { continue }
                if low.map({ x < $0 }) ?? true { low = x }
                if high.map({ x > $0 }) ?? true { high = x }
            }
            guard let low, let high else { return nil }
            return (low, high)
        }
        switch leaf.type {
        case .bool:
            return (bytes(UInt8(fixed.contains(0) ? 0 : 1)), bytes(UInt8(fixed.contains(1) ? 1 : 0)))
        case .uint8, .uint16, .uint32:
            return ordered(UInt32.self).map { (bytes($0.0), bytes($0.1)) }
        case .uint64:
            return ordered(UInt64.self).map { (bytes($0.0), bytes($0.1)) }
        case .float32:
            // NaN orders nowhere; a zero bound is -0.0 as a minimum and +0.0 as a maximum (the format's rule).
            return ordered(Float.self, skip: \.isNaN).map { (bytes($0.0 == 0 ? -Float(0) : $0.0), bytes($0.1 == 0 ? Float(0) : $0.1)) }
        case .float64:
            return ordered(Double.self, skip: \.isNaN).map { (bytes($0.0 == 0 ? -Double(0) : $0.0), bytes($0.1 == 0 ? Double(0) : $0.1)) }
        case .utf8, .largeUtf8, .binary, .largeBinary:
            var low = 0, high = 0
            func less(_ a: Int, _ b: Int) -> Bool { data[offsets[a]..<offsets[a + 1]].lexicographicallyPrecedes(data[offsets[b]..<offsets[b + 1]]) }
            for v in 1..<count {
                if less(v, low) { low = v }
                if less(high, v) { high = v }
            }
            let (a, b) = (Array(data[offsets[low]..<offsets[low + 1]]), Array(data[offsets[high]..<offsets[high + 1]]))
            return a.count <= 1024 && b.count <= 1024 ? (a, b) : nil
        default:
            if leaf.physical == .int32 { return ordered(Int32.self).map { (bytes($0.0), bytes($0.1)) } }
            if leaf.physical == .int64 { return ordered(Int64.self).map { (bytes($0.0), bytes($0.1)) } }
            return nil
        }
    }

    /// PLAIN encoding of values `range`.
    func plain(values range: Range<Int>, into out: inout [UInt8]) {
        if leaf.physical == .boolean {
            var byte: UInt8 = 0
            for (k, v) in range.enumerated() {
                if fixed[v] != 0 { byte |= 1 << UInt8(k & 7) }
                if k & 7 == 7 { out.append(byte); byte = 0 }
            }
            if range.count & 7 != 0 { out.append(byte) }
        } else if isBytes {
            for v in range {
                let n = UInt32(offsets[v + 1] - offsets[v]).littleEndian
                withUnsafeBytes(of: n) { out.append(contentsOf: $0) }
                out.append(contentsOf: data[offsets[v]..<offsets[v + 1]])
            }
        } else {
            out.append(contentsOf: fixed[(range.lowerBound * width)..<(range.upperBound * width)])
        }
    }

    struct Dictionary {
        var plain: [UInt8]
        var count: Int
        var indices: [UInt32]
    }

    /// A dictionary for byte-array columns with few distinct values (at most 32,768 and 1 MiB of them); nil otherwise.
    func dictionary() -> Dictionary? {
        guard isBytes, count > 0 else { return nil }
        var ids: [ArraySlice<UInt8>: UInt32] = [:]
        var plain: [UInt8] = []
        var indices: [UInt32] = []
        indices.reserveCapacity(count)
        for v in 0..<count {
            let bytes = data[offsets[v]..<offsets[v + 1]]
            if let id = ids[bytes] { indices.append(id); continue }
            guard ids.count < 32_768, plain.count < 1 << 20 else { return nil }
            let id = UInt32(ids.count)
            ids[bytes] = id
            withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { plain.append(contentsOf: $0) }
            plain.append(contentsOf: bytes)
            indices.append(id)
        }
        // Only when it saves space: half the values or fewer are distinct.
        guard ids.count * 2 <= count else { return nil }
        return Dictionary(plain: plain, count: ids.count, indices: indices)
    }
}

/// Arrow arrays to Parquet levels and values, row by row.
enum Shredding {
    /// Emits row `i` of `a` (a field of `type`) into `leaves[base...]`. `def` is the level its ancestors reached,
    /// `rep` the repetition level of its first entry, `depth` the lists around it.
    static func write(_ a: ArrowArray, _ i: Int, type: ArrowType, nullable: Bool, def: Int, rep: Int, depth: Int,
                      leaves: inout [LeafShredder], base: Int) {
        var d = def
        if nullable {
            if a.isNull(i) {
                for k in base..<(base + WritePlan.leafCount(type)) { leaves[k].empty(def: d, rep: rep) }
                return
            }
            d += 1
        }
        switch type {
        case .structType(let fields):
            var at = base
            for (c, f) in fields.enumerated() {
                write(a.children[c], i, type: f.type, nullable: f.nullable, def: d, rep: rep, depth: depth, leaves: &leaves, base: at)
                at += WritePlan.leafCount(f.type)
            }
        case .list(let f), .fixedSizeList(let f, _):
            let range: Range<Int>
            if case .fixedSizeList(_, let n) = type { range = (i * n)..<((i + 1) * n) } else { range = a.range(i) }
            if range.isEmpty {
                for k in base..<(base + WritePlan.leafCount(type)) { leaves[k].empty(def: d, rep: rep) }
                return
            }
            var r = rep
            for j in range {
                write(a.children[0], j, type: f.type, nullable: f.nullable, def: d + 1, rep: r, depth: depth + 1, leaves: &leaves, base: base)
                r = depth + 1
            }
        default:
            leaves[base].value(a, i, rep: rep)
        }
    }

    static func shred(_ a: ArrowArray, type: ArrowType, nullable: Bool, leaves: inout [LeafShredder], rows: Range<Int>) {
        if fast(a, type: type, nullable: nullable, leaves: &leaves, rows: rows) { return }
        for i in rows { write(a, i, type: type, nullable: nullable, def: 0, rep: 0, depth: 0, leaves: &leaves, base: 0) }
    }

    /// Whether values of `type` are stored as Parquet stores them (4- or 8-byte little-endian, no conversion).
    static func sameBytes(_ type: ArrowType) -> Int? {
        switch type {
        case .int32, .uint32, .date32, .float32: return 4
        case .int64, .uint64, .float64: return 8
        case .timestamp(let unit, _) where unit != .second: return 8
        default: return nil
        }
    }

    /// The common shapes without recursion: a flat column, and a list or fixed-size list of a primitive
    /// (embeddings, token ids), whose values are copied in one block when nothing inside is null.
    static func fast(_ a: ArrowArray, type: ArrowType, nullable: Bool, leaves: inout [LeafShredder], rows: Range<Int>) -> Bool {
        let top = nullable ? 1 : 0
        switch type {
        case .list(let item), .fixedSizeList(let item, _):
            guard item.type.children.isEmpty else { return false }
            let child = a.children[0]
            let size: Int? = { if case .fixedSizeList(_, let n) = type { return n } else { return nil } }()
            func range(_ i: Int) -> Range<Int> { size.map { (i * $0)..<((i + 1) * $0) } ?? a.range(i) }
            let maxDef = top + 1 + (item.nullable ? 1 : 0)
            let rawWidth = sameBytes(item.type)
            var s = leaves[0]
            leaves[0] = LeafShredder(leaf: s.leaf)
            for i in rows {
                if nullable && a.isNull(i) { s.empty(def: 0, rep: 0); continue }
                let r = range(i)
                if r.isEmpty { s.empty(def: top, rep: 0); continue }
                var rep: UInt8 = 0
                for j in r {
                    if item.nullable && child.isNull(j) {
                        s.empty(def: maxDef - 1, rep: Int(rep))
                    } else {
                        s.defs.append(UInt8(maxDef))
                        s.reps.append(rep)
                        if rawWidth == nil { s.appendValue(child, j) }
                    }
                    rep = 1
                }
            }
            if let width = rawWidth, !rows.isEmpty {
                if child.nullCount == 0 && a.nullCount == 0 {
                    let start = range(rows.lowerBound).lowerBound, end = range(rows.upperBound - 1).upperBound
                    s.fixed.append(contentsOf: UnsafeRawBufferPointer(rebasing: child.buffers[1].buffer[(start * width)..<(end * width)]))
                } else {
                    for i in rows where !(nullable && a.isNull(i)) {
                        for j in range(i) where !(item.nullable && child.isNull(j)) {
                            s.fixed.append(contentsOf: UnsafeRawBufferPointer(rebasing: child.buffers[1].buffer[(j * width)..<((j + 1) * width)]))
                        }
                    }
                }
            }
            leaves[0] = s
            return true
        case .structType:
            return false
        default:
            let rawWidth = sameBytes(type)
            var s = leaves[0]
            leaves[0] = LeafShredder(leaf: s.leaf)
            for i in rows {
                if nullable && a.isNull(i) {
                    s.empty(def: 0, rep: 0)
                } else {
                    s.defs.append(UInt8(top))
                    s.reps.append(0)
                    if rawWidth == nil || a.nullCount > 0 { s.appendValue(a, i) }
                }
            }
            if let width = rawWidth, a.nullCount == 0, !rows.isEmpty {
                s.fixed.append(contentsOf: UnsafeRawBufferPointer(rebasing: a.buffers[1].buffer[(rows.lowerBound * width)..<(rows.upperBound * width)]))
            }
            leaves[0] = s
            return true
        }
    }
}

/// The RLE / bit-packed hybrid encoder: runs of eight or more equal values as RLE runs, the rest bit-packed in groups of eight.
enum Hybrid {
    static func encode<C: Collection>(_ values: C, width: Int, into out: inout [UInt8]) where C.Element: BinaryInteger {
        let v = values.map { UInt64($0) }
        let n = v.count
        var literal: [UInt64] = []
        func flushLiteral(pad: Bool) {
            guard !literal.isEmpty else { return }
            if pad { while literal.count % 8 != 0 { literal.append(0) } }
            let groups = literal.count / 8
            varint(UInt64(groups) << 1 | 1, &out)
            var acc: UInt64 = 0, bits = 0
            for x in literal {
                acc |= x << UInt64(bits)
                bits += width
                while bits >= 8 {
                    out.append(UInt8(truncatingIfNeeded: acc))
                    acc >>= 8
                    bits -= 8
                }
                // Width up to 32: acc never holds more than 39 bits.
            }
            if bits > 0 { out.append(UInt8(truncatingIfNeeded: acc)) }
            literal.removeAll(keepingCapacity: true)
        }
        var i = 0
        while i < n {
            var j = i + 1
            while j < n && v[j] == v[i] { j += 1 }
            var run = j - i
            // Top the literal run up to a multiple of eight before an RLE run.
            let fill = (8 - literal.count % 8) % 8
            if run >= fill + 8 {
                literal.append(contentsOf: repeatElement(v[i], count: fill))
                run -= fill
                flushLiteral(pad: false)
                varint(UInt64(run) << 1, &out)
                for k in 0..<((width + 7) / 8) { out.append(UInt8(truncatingIfNeeded: v[i] >> UInt64(8 * k))) }
            } else {
                literal.append(contentsOf: repeatElement(v[i], count: run))
            }
            i = j
        }
        flushLiteral(pad: true)
    }

    /// Levels of a v1 data page: a 4-byte length, then the hybrid runs.
    static func withLength<C: Collection>(_ values: C, width: Int, into out: inout [UInt8]) where C.Element: BinaryInteger {
        var body: [UInt8] = []
        encode(values, width: width, into: &body)
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: body)
    }

    private static func varint(_ value: UInt64, _ out: inout [UInt8]) {
        var x = value
        while x >= 0x80 { out.append(UInt8(x & 0x7F) | 0x80); x >>= 7 }
        out.append(UInt8(x))
    }
}

extension ArrowArray {
    /// Bytes held by the array's buffers and children.
    var byteSize: Int { buffers.reduce(0) { $0 + $1.count } + children.reduce(0) { $0 + $1.byteSize } }
}
