extension ArrowArray {
    /// A new array holding the elements at `indices`, in that order
    /// (used to drop deleted rows and to copy rows into new fragments).
    public func take(_ indices: [Int]) -> ArrowArray {
        ArrowArray.gather(from: [self], indices.map { (0, $0) })
    }

    /// A new array of `sources[s][i]` for each `(s, i)` in `picks`, in that
    /// order. All sources must have the same type. This is random access across
    /// fragments: a fixed-width value is one copy, a string one copy of its bytes.
    public static func gather(from sources: [ArrowArray], _ picks: [(source: Int, index: Int)]) -> ArrowArray {
        let type = sources[0].type
        let n = picks.count
        // Raw pointers per source, hoisted out of the loops (the sources keep their buffers alive).
        let validities: [UnsafePointer<UInt8>?] = sources.map { $0.nullCount > 0 && !$0.buffers[0].isEmpty ? $0.buffers[0].pointer.assumingMemoryBound(to: UInt8.self) : nil }
        let values: [UnsafeRawPointer] = sources.map { $0.buffers.count > 1 ? $0.buffers[1].pointer : UnsafeRawPointer(bitPattern: 1)! }
        var validity = [UInt8](repeating: 0, count: (n + 7) / 8)
        var nulls = 0
        for (j, pick) in picks.enumerated() {
            if let bits = validities[pick.source], bits[pick.index >> 3] & UInt8(1 << (pick.index & 7)) == 0 { nulls += 1 }
            else { validity[j >> 3] |= UInt8(1 << (j & 7)) }
        }
        var buffers = [nulls > 0 ? ByteView(copying: validity) : ByteView.empty]
        var children: [ArrowArray] = []
        switch type {
        case .bool:
            var bits = [UInt8](repeating: 0, count: (n + 7) / 8)
            for (j, pick) in picks.enumerated() where sources[pick.source].buffers[1].bit(pick.index) { bits[j >> 3] |= UInt8(1 << (j & 7)) }
            buffers.append(ByteView(copying: bits))
        case .utf8, .binary, .largeUtf8, .largeBinary:
            // Two passes: lengths into offsets, then one allocation filled with the bytes.
            let large = type == .largeUtf8 || type == .largeBinary
            let data: [UnsafeRawPointer] = sources.map { $0.buffers[2].pointer }
            @inline(__always) func bounds(_ pick: (source: Int, index: Int)) -> (Int, Int) {
                let offsets = values[pick.source]
                return large ? (Int(offsets.loadUnaligned(fromByteOffset: pick.index * 8, as: Int64.self)),
                                Int(offsets.loadUnaligned(fromByteOffset: pick.index * 8 + 8, as: Int64.self)))
                    : (Int(offsets.loadUnaligned(fromByteOffset: pick.index * 4, as: Int32.self)),
                       Int(offsets.loadUnaligned(fromByteOffset: pick.index * 4 + 4, as: Int32.self)))
            }
            var total = 0
            let width = large ? 8 : 4
            let offsets = ByteStorage.filling((n + 1) * width) { out in
                out.storeBytes(of: 0, toByteOffset: 0, as: Int32.self)
                if large { out.storeBytes(of: 0, toByteOffset: 0, as: Int64.self) }
                for (j, pick) in picks.enumerated() {
                    let (start, end) = bounds(pick)
                    total += end - start
                    if large { out.storeBytes(of: Int64(total), toByteOffset: (j + 1) * 8, as: Int64.self) }
                    else { out.storeBytes(of: Int32(truncatingIfNeeded: total), toByteOffset: (j + 1) * 4, as: Int32.self) }
                }
            }
            let bytes = ByteStorage.filling(total) { out in
                var at = 0
                for pick in picks {
                    let (start, end) = bounds(pick)
                    (out + at).copyMemory(from: data[pick.source] + start, byteCount: end - start)
                    at += end - start
                }
            }
            buffers.append(ByteView(storage: offsets))
            buffers.append(ByteView(storage: bytes))
        case .list:
            var offsets: [Int32] = [0]
            var childPicks: [(source: Int, index: Int)] = []
            for pick in picks {
                for i in sources[pick.source].range(pick.index) { childPicks.append((pick.source, i)) }
                offsets.append(Int32(childPicks.count))
            }
            buffers.append(offsets.withUnsafeBytes { ByteView(storage: ByteStorage(copying: $0)) })
            children = [gather(from: sources.map { $0.children[0] }, childPicks)]
        case .fixedSizeList(let item, let size):
            // Items are fixed-width: copy each element's items as one block.
            if let width = item.type.byteWidth, sources.allSatisfy({ $0.children[0].nullCount == 0 }) {
                var data = [UInt8](repeating: 0, count: n * size * width)
                let block = size * width
                data.withUnsafeMutableBytes { out in
                    for (j, pick) in picks.enumerated() {
                        out.baseAddress!.advanced(by: j * block)
                            .copyMemory(from: sources[pick.source].children[0].buffers[1].pointer + pick.index * block, byteCount: block)
                    }
                }
                children = [ArrowArray(type: item.type, length: n * size, nullCount: 0, buffers: [.empty, ByteView(copying: data)])]
            } else {
                var childPicks: [(source: Int, index: Int)] = []
                childPicks.reserveCapacity(n * size)
                for pick in picks { for i in (pick.index * size)..<((pick.index + 1) * size) { childPicks.append((pick.source, i)) } }
                children = [gather(from: sources.map { $0.children[0] }, childPicks)]
            }
        case .structType(let fields):
            children = fields.indices.map { f in gather(from: sources.map { $0.children[f] }, picks) }
        default:
            let width = type.byteWidth ?? 0
            let data = ByteStorage.filling(n * width) { base in
                func copy<T>(_: T.Type) {
                    for (j, pick) in picks.enumerated() {
                        base.storeBytes(of: values[pick.source].loadUnaligned(fromByteOffset: pick.index * width, as: T.self), toByteOffset: j * width, as: T.self)
                    }
                }
                switch width {
                case 1: copy(UInt8.self)
                case 2: copy(UInt16.self)
                case 4: copy(UInt32.self)
                case 8: copy(UInt64.self)
                default:
                    for (j, pick) in picks.enumerated() { (base + j * width).copyMemory(from: values[pick.source] + pick.index * width, byteCount: width) }
                }
            }
            buffers.append(ByteView(storage: data))
        }
        return ArrowArray(type: type, length: n, nullCount: nulls, buffers: buffers, children: children)
    }
}
