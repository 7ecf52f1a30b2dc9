#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rebuilding Arrow arrays from levels. A "slot" is the index of the level entry
/// where one instance of a node begins; a node's slots are found in each of its
/// leaf columns (they agree on nulls and list boundaries, as Parquet requires).
extension ParquetReader {
    func assemble(_ shape: Shape, slots: [Int: [Int32]], chunks: [Int: LeafData]) throws -> ArrowArray {
        let first = shape.columns[0]
        let mySlots = slots[first]!
        let defs = chunks[first]!.defs
        func valid(_ e: Int32) -> Bool { defs.isEmpty || Int(defs[Int(e)]) >= shape.def }
        switch shape.kind {
        case .leaf(let column, let conversion):
            return try leafArray(shape, conversion: conversion, slots: mySlots, data: chunks[column]!, physical: leaves[column].element.type!)
        case .structure(let children):
            let (validity, nulls) = Self.bitmap(count: mySlots.count) { valid(mySlots[$0]) }
            let arrays = try children.map { try assemble($0, slots: slots, chunks: chunks) }
            return ArrowArray(type: shape.type, length: mySlots.count, nullCount: nulls, buffers: [validity], children: arrays)
        case .list(let element, let elementDef, let rep):
            let elementLevel = UInt8(clamping: elementDef), repLevel = UInt8(clamping: rep)
            var offsets: [Int32] = [0]
            offsets.reserveCapacity(mySlots.count + 1)
            /// The element slots of `column` (stored into `out` when given), and the list offsets when `isFirst`.
            func walk(_ column: Int, isFirst: Bool, into out: inout [Int32]?) throws -> Int {
                let chunk = chunks[column]!
                let reps = chunk.reps, cdefs = chunk.defs, n = chunk.entries
                guard reps.count == n, cdefs.count == n else { throw FormatError.malformedParquet("a repeated column without levels") }
                var found = 0
                for slot in slots[column]! {
                    let e = Int(slot)
                    if cdefs[e] >= elementLevel {
                        found += 1
                        out?.append(slot)
                        var j = e + 1
                        while j < n && reps[j] >= repLevel {
                            if reps[j] == repLevel { found += 1; out?.append(Int32(j)) }
                            j += 1
                        }
                    }
                    if isFirst {
                        guard found <= Int32.max else { throw FormatError.unsupportedParquet("a list column with over 2³¹ elements in one row group") }
                        offsets.append(Int32(found))
                    }
                }
                return found
            }
            let (validity, nulls) = Self.bitmap(count: mySlots.count) { valid(mySlots[$0]) }
            func list(_ child: ArrowArray) -> ArrowArray {
                let offsetView = offsets.withUnsafeBytes { ByteView(storage: ByteStorage(copying: $0)) }
                return ArrowArray(type: shape.type, length: mySlots.count, nullCount: nulls, buffers: [validity, offsetView], children: [child])
            }
            // A list of a leaf with no null items (an embedding, a token list): count, then take the values whole.
            if case .leaf(let column, let conversion) = element.kind {
                var none: [Int32]? = nil
                let found = try walk(column, isFirst: true, into: &none)
                if found == chunks[column]!.values.count {
                    return list(try leafArray(element, conversion: conversion, slots: nil, data: chunks[column]!, physical: leaves[column].element.type!))
                }
                offsets = [0]
            }
            var merged = slots
            for column in shape.columns {
                var out: [Int32]? = []
                out!.reserveCapacity(chunks[column]!.entries)
                _ = try walk(column, isFirst: column == first, into: &out)
                merged[column] = out!
            }
            return list(try assemble(element, slots: merged, chunks: chunks))
        }
    }

    /// A validity bitmap, empty when nothing is null.
    static func bitmap(count: Int, _ valid: (Int) -> Bool) -> (ByteView, Int) {
        var bytes = [UInt8](repeating: 0, count: (count + 7) / 8)
        var nulls = 0
        for i in 0..<count {
            if valid(i) { bytes[i >> 3] |= 1 << UInt8(i & 7) } else { nulls += 1 }
        }
        return (nulls == 0 ? .empty : ByteView(copying: bytes), nulls)
    }

    /// A leaf's values placed at `slots` (nulls where the level falls short); nil slots: every value, in order, none null.
    private func leafArray(_ shape: Shape, conversion: Conversion, slots: [Int32]?, data: LeafData, physical: ParquetPhysical) throws -> ArrowArray {
        let maxDef = shape.def
        let values = data.values
        let defs = data.defs
        let count = values.count
        // Every slot holds a value (no nulls) and the bytes are already in Arrow's layout: one copy.
        if case .copy = conversion, slots == nil || slots!.count == count {
            let view = values.fixed.take()
            return ArrowArray(type: shape.type, length: count, nullCount: 0, buffers: [.empty, view])
        }
        let builder = ArrayBuilder(type: shape.type)
        var next = 0
        try values.fixed.withUnsafeBytes { fixed in
            try values.data.withUnsafeBytes { bytes in
                let w = values.width
                let top = UInt8(clamping: maxDef)
                for e in slots ?? Array(0..<Int32(count)) {
                    if slots != nil && !defs.isEmpty && defs[Int(e)] < top { builder.appendNull(); continue }
                    guard next < count else { throw FormatError.malformedParquet("the levels call for more than the \(count) values stored") }
                    let v = next
                    next += 1
                    switch conversion {
                    case .copy:
                        switch w {
                        case 4: builder.appendRaw(fixed.loadUnaligned(fromByteOffset: v * 4, as: UInt32.self))
                        default: builder.appendRaw(fixed.loadUnaligned(fromByteOffset: v * 8, as: UInt64.self))
                        }
                    case .bool:
                        builder.appendBool(fixed[v] != 0)
                    case .narrow(let bits, let signed):
                        let x = Int32(littleEndian: fixed.loadUnaligned(fromByteOffset: v * 4, as: Int32.self))
                        switch (bits, signed) {
                        case (8, true): builder.appendRaw(Int8(truncatingIfNeeded: x))
                        case (8, false): builder.appendRaw(UInt8(truncatingIfNeeded: x))
                        case (16, true): builder.appendRaw(Int16(truncatingIfNeeded: x))
                        default: builder.appendRaw(UInt16(truncatingIfNeeded: x))
                        }
                    case .int96:
                        let nanos = Int64(littleEndian: fixed.loadUnaligned(fromByteOffset: v * 12, as: Int64.self))
                        let day = Int64(Int32(littleEndian: fixed.loadUnaligned(fromByteOffset: v * 12 + 8, as: Int32.self)))
                        builder.appendInt64((day - 2_440_588) &* 86_400_000_000_000 &+ nanos)
                    case .float16:
                        builder.appendFloat(Self.half(fixed.loadUnaligned(fromByteOffset: v * 2, as: UInt16.self)))
                    case .bytes:
                        if w == 0 {
                            builder.appendBytes(UnsafeRawBufferPointer(rebasing: bytes[values.offsets[v]..<values.offsets[v + 1]]))
                        } else {
                            builder.appendBytes(UnsafeRawBufferPointer(rebasing: fixed[(v * w)..<((v + 1) * w)]))
                        }
                    case .decimal(let scale, let text):
                        let raw: UnsafeRawBufferPointer
                        var small: Int64 = 0
                        switch physical {
                        case .int32:
                            small = Int64(Int32(littleEndian: fixed.loadUnaligned(fromByteOffset: v * 4, as: Int32.self)))
                            raw = UnsafeRawBufferPointer(start: nil, count: 0)
                        case .int64:
                            small = Int64(littleEndian: fixed.loadUnaligned(fromByteOffset: v * 8, as: Int64.self))
                            raw = UnsafeRawBufferPointer(start: nil, count: 0)
                        case .byteArray: raw = UnsafeRawBufferPointer(rebasing: bytes[values.offsets[v]..<values.offsets[v + 1]])
                        default: raw = UnsafeRawBufferPointer(rebasing: fixed[(v * w)..<((v + 1) * w)])
                        }
                        let digits = raw.baseAddress == nil ? Decimal.digits(of: small) : Decimal.digits(bigEndian: raw)
                        if text {
                            var s = Decimal.text(digits, scale: scale)
                            s.withUTF8 { builder.appendBytes(UnsafeRawBufferPointer($0)) }
                        } else {
                            builder.appendDouble(Decimal.double(digits, scale: scale))
                        }
                    }
                }
            }
        }
        guard next == count else { throw FormatError.malformedParquet("\(count) values are stored, but the levels place \(next)") }
        return builder.finish()
    }

    /// IEEE half precision to Float.
    static func half(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1F), fraction = Float(bits & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * Float(sign: .plus, exponent: -24, significand: 1)
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}

/// Decimal values, exactly: the unscaled integer as a sign and decimal digits.
enum Decimal {
    struct Digits {
        var negative: Bool
        var digits: [UInt8]  // most significant first, no leading zeros ("0" is [0])
    }

    static func digits(of value: Int64) -> Digits {
        Digits(negative: value < 0, digits: Array(String(value.magnitude).utf8).map { $0 - 48 })
    }

    /// A big-endian two's-complement integer of any width (Parquet's BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY decimals).
    static func digits(bigEndian raw: UnsafeRawBufferPointer) -> Digits {
        guard !raw.isEmpty else { return Digits(negative: false, digits: [0]) }
        let negative = raw[0] & 0x80 != 0
        var bytes = Array(raw)
        if negative {  // magnitude = two's complement
            for i in bytes.indices { bytes[i] = ~bytes[i] }
            var i = bytes.count - 1
            while i >= 0 { bytes[i] &+= 1; if bytes[i] != 0 { break }; i -= 1 }
        }
        // Repeated division by 10 over big-endian base-256 digits.
        var out: [UInt8] = []
        var number = bytes.drop { $0 == 0 }.map { $0 }
        while !number.isEmpty {
            var remainder = 0
            var quotient: [UInt8] = []
            quotient.reserveCapacity(number.count)
            for b in number {
                let acc = remainder * 256 + Int(b)
                let q = acc / 10
                remainder = acc % 10
                if !(quotient.isEmpty && q == 0) { quotient.append(UInt8(q)) }
            }
            out.append(UInt8(remainder))
            number = quotient
        }
        if out.isEmpty { out = [0] }
        return Digits(negative: negative && out != [0], digits: out.reversed())
    }

    static func text(_ d: Digits, scale: Int) -> String {
        var digits = d.digits.map { Character(Unicode.Scalar($0 + 48)) }
        if scale < 0, d.digits != [0] { digits += repeatElement("0", count: -scale) }  // decimal(p, -s): the unscaled value × 10^s
        if scale > 0 {
            if digits.count <= scale { digits.insert(contentsOf: repeatElement("0", count: scale - digits.count + 1), at: 0) }
            digits.insert(".", at: digits.count - scale)
        }
        return (d.negative ? "-" : "") + String(digits)
    }

    /// The nearest double (exact as text for up to 15 significant digits).
    static func double(_ d: Digits, scale: Int) -> Double {
        Double(text(d, scale: scale)) ?? .nan
    }
}
