/// Bytes that grow by appending and become a `ByteView` without a copy (`take`).
final class FixedBytes {
    private var buffer = GrowableBuffer()

    deinit { buffer.release() }

    var count: Int { buffer.count }

    func reserveCapacity(_ n: Int) { buffer.reserve(max(0, n - buffer.count)) }

    func append(_ byte: UInt8) { buffer.append(byte) }

    func append(contentsOf bytes: UnsafeRawBufferPointer) { buffer.append(bytes) }

    func append(contentsOf bytes: [UInt8]) { bytes.withUnsafeBytes { buffer.append($0) } }

    /// Appends `n` zero bytes and returns where they start.
    func appendZeros(_ n: Int) -> Int {
        let start = buffer.count
        buffer.appendZeros(n)
        return start
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: buffer.base, count: buffer.count))
    }

    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: buffer.base, count: buffer.count))
    }

    /// The bytes as a view, handed over without copying; the buffer is empty afterwards.
    func take() -> ByteView { buffer.finish() }
}

/// A column chunk's non-null values in their physical form: fixed-width values
/// packed little-endian (`width` bytes each; a boolean is one byte, 0 or 1),
/// or variable-length byte arrays as offsets into `data`.
struct PhysicalValues {
    let width: Int  // 0 for byte arrays
    var fixed = FixedBytes()
    var offsets: [Int] = [0]
    var data: [UInt8] = []

    init(width: Int) { self.width = width }

    var count: Int { width == 0 ? offsets.count - 1 : fixed.count / width }

    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        data.append(contentsOf: bytes)
        offsets.append(data.count)
    }

    /// Appends `source[i]` for each index (dictionary decoding).
    mutating func gather(_ source: PhysicalValues, _ indices: [UInt32]) throws {
        let n = source.count
        if width == 0 {
            for i in indices {
                guard Int(i) < n else { throw FormatError.malformedParquet("dictionary index \(i) past the dictionary's \(n) values") }
                let start = source.offsets[Int(i)], end = source.offsets[Int(i) + 1]
                data.append(contentsOf: source.data[start..<end])
                offsets.append(data.count)
            }
        } else {
            let w = width
            let base = fixed.appendZeros(indices.count * w)
            try fixed.withUnsafeMutableBytes { out in
                try source.fixed.withUnsafeBytes { src in
                    for (k, i) in indices.enumerated() {
                        guard Int(i) < n else { throw FormatError.malformedParquet("dictionary index \(i) past the dictionary's \(n) values") }
                        (out.baseAddress! + base + k * w).copyMemory(from: src.baseAddress! + Int(i) * w, byteCount: w)
                    }
                }
            }
        }
    }
}

/// Reads Parquet's value and level encodings from a page's bytes.
struct ParquetDecoder {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    init(_ bytes: UnsafeRawBufferPointer, at: Int = 0) {
        self.bytes = bytes
        self.at = at
    }

    var remaining: Int { bytes.count - at }

    private func cut(_ what: String) -> FormatError {
        .malformedParquet("\(what) runs past the end of the page (byte \(at) of \(bytes.count))")
    }

    mutating func take(_ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw cut(what) }
        defer { at += n }
        return UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)])
    }

    mutating func uleb() throws -> UInt64 { try ULEB128.read(bytes, at: &at, what: "a varint of the page") }

    mutating func zigzag() throws -> Int64 {
        let v = try uleb()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func uint32LE() throws -> Int {
        let b = try take(4, "a length prefix")
        return Int(UInt32(littleEndian: b.loadUnaligned(as: UInt32.self)))
    }

    /// `count` values of the RLE / bit-packed hybrid encoding of width `bitWidth`, appended to `out`.
    mutating func hybrid<T: FixedWidthInteger & UnsignedInteger>(bitWidth: Int, count: Int, into out: inout [T], end: Int? = nil) throws {
        guard bitWidth <= T.bitWidth else { throw FormatError.malformedParquet("bit width \(bitWidth) out of range for levels") }
        guard (0...32).contains(bitWidth) else { throw FormatError.malformedParquet("bit width \(bitWidth) out of range 0…32") }
        let stop = end ?? bytes.count
        var produced = 0
        out.reserveCapacity(out.count + min(count, 1 << 16))  // counts come from headers: grow with the data, not the claim
        let valueBytes = (bitWidth + 7) / 8
        while produced < count {
            guard at < stop else { throw cut("RLE data (\(produced) of \(count) values read)") }
            let header = try uleb()
            if header & 1 == 0 {
                let run = Int(clamping: header >> 1)
                guard valueBytes <= stop - at else { throw cut("an RLE run") }
                var value: UInt64 = 0
                for k in 0..<valueBytes { value |= UInt64(bytes[at + k]) << UInt64(8 * k) }
                at += valueBytes
                if bitWidth < 32 && value >> bitWidth != 0 { throw FormatError.malformedParquet("RLE value \(value) wider than \(bitWidth) bits") }
                let n = min(run, count - produced)
                out.append(contentsOf: repeatElement(T(truncatingIfNeeded: value), count: n))
                produced += n
            } else {
                let groups = Int(clamping: header >> 1)
                guard groups <= (stop - at) / max(bitWidth, 1) + 1 else { throw cut("a bit-packed run") }
                let n = groups * 8
                let packed = min(groups * bitWidth, stop - at)
                let take = min(n, count - produced)
                unpack(UnsafeRawBufferPointer(rebasing: bytes[at..<(at + packed)]), width: bitWidth, count: take) { out.append(T(truncatingIfNeeded: $0)) }
                at += packed
                produced += take
            }
        }
    }

    /// `count` little-endian bit-packed values of `width` bits (≤ 64); bits past the end of `packed` read as 0.
    @inline(__always) func unpack(_ packed: UnsafeRawBufferPointer, width: Int, count: Int, _ emit: (UInt64) -> Void) {
        if width == 0 { for _ in 0..<count { emit(0) }; return }
        let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
        let n = packed.count
        @inline(__always) func word(_ byte: Int) -> UInt64 {
            if byte + 8 <= n { return UInt64(littleEndian: packed.loadUnaligned(fromByteOffset: byte, as: UInt64.self)) }
            var w: UInt64 = 0
            var k = 0
            while byte + k < n && k < 8 { w |= UInt64(packed[byte + k]) << (8 * UInt64(k)); k += 1 }
            return w
        }
        var bit = 0
        for _ in 0..<count {
            let byte = bit >> 3, shift = UInt64(bit & 7)
            var v = word(byte) >> shift
            if shift + UInt64(width) > 64 { v |= word(byte + 8) << (64 - shift) }
            emit(v & mask)
            bit += width
        }
    }

    /// PLAIN: `count` values of a physical type.
    mutating func plain(_ type: ParquetPhysical, typeLength: Int, count: Int, into out: inout PhysicalValues) throws {
        switch type {
        case .boolean:
            let packed = try take((count + 7) / 8, "PLAIN booleans")
            for i in 0..<count { out.fixed.append((packed[i >> 3] >> UInt8(i & 7)) & 1) }
        case .byteArray:
            for _ in 0..<count {
                let length = try uint32LE()
                out.appendBytes(try take(length, "a BYTE_ARRAY value of \(length) bytes"))
            }
        default:
            let w = out.width
            guard count <= remaining / max(w, 1) else { throw cut("\(count) PLAIN \(type.name) values") }
            out.fixed.append(contentsOf: try take(count * w, "PLAIN values"))
        }
    }

    /// DELTA_BINARY_PACKED: up to `count` integers (the page's header says how many it holds).
    mutating func deltaBinaryPacked(count: Int? = nil) throws -> [Int64] {
        let blockSize = Int(clamping: try uleb()), miniblocks = Int(clamping: try uleb())
        let total = Int(clamping: try uleb())
        var last = try zigzag()
        guard blockSize > 0, blockSize % 128 == 0, miniblocks > 0, blockSize % miniblocks == 0, (blockSize / miniblocks) % 32 == 0 else {
            throw FormatError.malformedParquet("DELTA_BINARY_PACKED block of \(blockSize) values in \(miniblocks) miniblocks is not valid")
        }
        guard total <= remaining * 64 + 1 else { throw cut("DELTA_BINARY_PACKED (\(total) values declared)") }
        let wanted = min(total, count ?? total)
        var out: [Int64] = []
        out.reserveCapacity(min(wanted, 1 << 16))
        if total > 0 { out.append(last) }
        let perMini = blockSize / miniblocks
        while out.count < total {
            let minDelta = try zigzag()
            let widths = try take(miniblocks, "miniblock bit widths")
            for m in 0..<miniblocks where out.count < total {
                let width = Int(widths[m])
                guard width <= 64 else { throw FormatError.malformedParquet("miniblock bit width \(width) over 64") }
                let size = perMini * width / 8
                let packed = try take(min(size, remaining), "a miniblock")
                let n = min(perMini, total - out.count)
                unpack(packed, width: width, count: n) { delta in
                    last = last &+ minDelta &+ Int64(bitPattern: delta)
                    out.append(last)
                }
                if packed.count < size { at = bytes.count }
            }
        }
        return out
    }

    /// BYTE_STREAM_SPLIT: byte k of value i lives at k × count + i.
    mutating func byteStreamSplit(width: Int, count: Int, into out: inout PhysicalValues) throws {
        let src = try take(count * width, "BYTE_STREAM_SPLIT values")
        let base = out.fixed.appendZeros(count * width)
        out.fixed.withUnsafeMutableBytes { dst in
            for k in 0..<width {
                for i in 0..<count { dst[base + i * width + k] = src[k * count + i] }
            }
        }
    }
}
