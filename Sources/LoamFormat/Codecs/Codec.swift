import CCodecs

/// The compression codecs of Parquet pages and Arrow IPC buffers, over Debian's
/// C libraries. Sizes are always known up front: Parquet page headers and Arrow
/// buffer prefixes both carry the uncompressed length.
public enum Codec: Int32, Sendable, CaseIterable {
    // Parquet's CompressionCodec numbers.
    case uncompressed = 0, snappy = 1, gzip = 2, lzo = 3, brotli = 4, lz4Hadoop = 5, zstd = 6, lz4Raw = 7
    /// Arrow IPC's LZ4_FRAME (not a Parquet codec; the number is Loam's own).
    case lz4Frame = 100

    public var name: String {
        switch self {
        case .uncompressed: return "uncompressed"
        case .snappy: return "snappy"
        case .gzip: return "gzip"
        case .lzo: return "lzo"
        case .brotli: return "brotli"
        case .lz4Hadoop: return "lz4 (Hadoop framing)"
        case .zstd: return "zstd"
        case .lz4Raw: return "lz4_raw"
        case .lz4Frame: return "lz4_frame"
        }
    }

    /// Expands `input` into exactly `output.count` bytes.
    public func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        let expected = output.count
        func wrong(_ got: Int) -> FormatError {
            .compression("\(name) data expanded to \(got) bytes, but \(expected) were declared")
        }
        let src = input.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        let dst = output.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 1)!
        switch self {
        case .uncompressed:
            guard input.count == expected else { throw wrong(input.count) }
            if expected > 0 { dst.copyMemory(from: src, byteCount: expected) }
        case .snappy:
            var length = 0
            guard snappy_uncompressed_length(src.assumingMemoryBound(to: CChar.self), input.count, &length) == SNAPPY_OK else {
                throw FormatError.compression("snappy data is corrupt (no valid length header)")
            }
            guard length == expected else { throw wrong(length) }
            var outLength = expected
            guard snappy_uncompress(src.assumingMemoryBound(to: CChar.self), input.count,
                                    dst.assumingMemoryBound(to: CChar.self), &outLength) == SNAPPY_OK, outLength == expected else {
                throw FormatError.compression("snappy data is corrupt")
            }
        case .zstd:
            // A page may hold several zstd frames; decompress them one after another.
            var inAt = 0, outAt = 0
            while inAt < input.count {
                let frame = ZSTD_findFrameCompressedSize(src + inAt, input.count - inAt)
                guard ZSTD_isError(frame) == 0 else { throw FormatError.compression("zstd data is corrupt: \(String(cString: ZSTD_getErrorName(frame)))") }
                let n = ZSTD_decompress(dst + outAt, expected - outAt, src + inAt, frame)
                guard ZSTD_isError(n) == 0 else { throw FormatError.compression("zstd data is corrupt: \(String(cString: ZSTD_getErrorName(n)))") }
                inAt += frame
                outAt += n
            }
            guard outAt == expected else { throw wrong(outAt) }
        case .gzip:
            try inflate(input, into: output)
        case .lz4Raw:
            let n = LZ4_decompress_safe(src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
                                        Int32(clamping: input.count), Int32(clamping: expected))
            guard n >= 0 else { throw FormatError.compression("lz4 block is corrupt") }
            guard Int(n) == expected else { throw wrong(Int(n)) }
        case .lz4Hadoop:
            // Hadoop's framing: blocks of [big-endian uncompressed size][big-endian compressed size][lz4 block].
            // Some writers put a bare lz4 block under this codec number; fall back to that.
            if (try? lz4Hadoop(input, into: output)) == nil {
                try Codec.lz4Raw.decompress(input, into: output)
            }
        case .lz4Frame:
            try lz4Frame(input, into: output)
        case .lzo, .brotli:
            throw FormatError.compression("the \(name) codec is not supported; rewrite the file with snappy, zstd, gzip or lz4 (pyarrow: pq.write_table(t, path, compression='zstd'))")
        }
    }

    /// Compresses `input` (Loam writes snappy, zstd, gzip, lz4_raw and lz4_frame).
    public func compress(_ input: UnsafeRawBufferPointer, level: Int32? = nil) throws -> [UInt8] {
        let src = input.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        switch self {
        case .uncompressed:
            return Array(input)
        case .snappy:
            var length = snappy_max_compressed_length(input.count)
            var out = [UInt8](repeating: 0, count: length)
            let status = out.withUnsafeMutableBytes {
                snappy_compress(src.assumingMemoryBound(to: CChar.self), input.count, $0.baseAddress!.assumingMemoryBound(to: CChar.self), &length)
            }
            guard status == SNAPPY_OK else { throw FormatError.compression("snappy compression failed") }
            out.removeLast(out.count - length)
            return out
        case .zstd:
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
            let n = out.withUnsafeMutableBytes { ZSTD_compress($0.baseAddress!, $0.count, src, input.count, level ?? 1) }
            guard ZSTD_isError(n) == 0 else { throw FormatError.compression("zstd compression failed") }
            out.removeLast(out.count - n)
            return out
        case .gzip:
            return try deflate(input, level: level ?? 6)
        case .lz4Raw:
            var out = [UInt8](repeating: 0, count: Int(LZ4_compressBound(Int32(clamping: input.count))))
            let n = out.withUnsafeMutableBytes {
                LZ4_compress_default(src.assumingMemoryBound(to: CChar.self), $0.baseAddress!.assumingMemoryBound(to: CChar.self),
                                     Int32(clamping: input.count), Int32(clamping: $0.count))
            }
            guard n > 0 || input.isEmpty else { throw FormatError.compression("lz4 compression failed") }
            out.removeLast(out.count - Int(n))
            return out
        case .lz4Frame:
            var out = [UInt8](repeating: 0, count: LZ4F_compressFrameBound(input.count, nil))
            let n = out.withUnsafeMutableBytes { LZ4F_compressFrame($0.baseAddress!, $0.count, src, input.count, nil) }
            guard LZ4F_isError(n) == 0 else { throw FormatError.compression("lz4 frame compression failed") }
            out.removeLast(out.count - n)
            return out
        case .lz4Hadoop, .lzo, .brotli:
            throw FormatError.compression("Loam does not write \(name); use snappy, zstd, gzip or lz4_raw")
        }
    }

    private func lz4Hadoop(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        func bigEndian(_ at: Int) -> Int {
            Int(input[at]) << 24 | Int(input[at + 1]) << 16 | Int(input[at + 2]) << 8 | Int(input[at + 3])
        }
        var inAt = 0, outAt = 0
        while inAt < input.count {
            guard inAt + 8 <= input.count else { throw FormatError.compression("lz4 block header cut short") }
            let raw = bigEndian(inAt), packed = bigEndian(inAt + 4)
            inAt += 8
            guard packed <= input.count - inAt, raw <= output.count - outAt else { throw FormatError.compression("lz4 block sizes out of range") }
            try Codec.lz4Raw.decompress(UnsafeRawBufferPointer(rebasing: input[inAt..<(inAt + packed)]),
                                        into: UnsafeMutableRawBufferPointer(rebasing: output[outAt..<(outAt + raw)]))
            inAt += packed
            outAt += raw
        }
        guard outAt == output.count else { throw FormatError.compression("lz4 blocks expanded to \(outAt) bytes, not \(output.count)") }
    }

    private func lz4Frame(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0 else {
            throw FormatError.compression("lz4: cannot create a decompression context")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var inAt = 0, outAt = 0
        while inAt < input.count {
            var inSize = input.count - inAt
            var outSize = output.count - outAt
            let hint = LZ4F_decompress(context, output.baseAddress.map { $0 + outAt }, &outSize,
                                       input.baseAddress! + inAt, &inSize, nil)
            guard LZ4F_isError(hint) == 0 else { throw FormatError.compression("lz4 frame is corrupt: \(String(cString: LZ4F_getErrorName(hint)))") }
            inAt += inSize
            outAt += outSize
            if hint == 0 && inAt < input.count { continue }  // another frame follows
            if inSize == 0 && outSize == 0 { break }
        }
        guard outAt == output.count else { throw FormatError.compression("lz4 frame expanded to \(outAt) bytes, not \(output.count)") }
    }

    private func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        var stream = z_stream()
        // 15 + 32: a zlib or gzip header, detected.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FormatError.compression("gzip: cannot start zlib")
        }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(clamping: input.count)
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = UInt32(clamping: output.count)
        var status = Z_OK
        while status == Z_OK {
            status = zlib_inflate(&stream)
            // Concatenated gzip members: start the next one.
            if status == Z_STREAM_END && stream.avail_in > 0 && stream.avail_out > 0 {
                guard inflateReset(&stream) == Z_OK else { break }
                status = Z_OK
            }
        }
        guard status == Z_STREAM_END || (status == Z_BUF_ERROR && stream.avail_out == 0) else {
            throw FormatError.compression("gzip data is corrupt (zlib status \(status))")
        }
        guard Int(stream.total_out) == output.count || stream.avail_out == 0 else {
            throw FormatError.compression("gzip data expanded to \(stream.total_out) bytes, not \(output.count)")
        }
    }

    private func deflate(_ input: UnsafeRawBufferPointer, level: Int32) throws -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FormatError.compression("gzip: cannot start zlib")
        }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        let status = out.withUnsafeMutableBytes { buffer -> Int32 in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            stream.avail_in = UInt32(clamping: input.count)
            stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.avail_out = UInt32(clamping: buffer.count)
            return zlib_deflate(&stream, Z_FINISH)
        }
        guard status == Z_STREAM_END else { throw FormatError.compression("gzip compression failed (zlib status \(status))") }
        out.removeLast(out.count - Int(stream.total_out))
        return out
    }
}

// zlib's `inflate`/`deflate` share names with the methods above.
@inline(__always) private func zlib_inflate(_ stream: inout z_stream) -> Int32 { CCodecs.inflate(&stream, Z_NO_FLUSH) }
@inline(__always) private func zlib_deflate(_ stream: inout z_stream, _ flush: Int32) -> Int32 { CCodecs.deflate(&stream, flush) }
