extension ArrowArray {
    /// A new array holding the elements at `indices`, in that order
    /// (used to drop deleted rows and to copy rows into new fragments).
    public func take(_ indices: [Int]) -> ArrowArray {
        let n = indices.count
        var validity = [UInt8](repeating: 0, count: (n + 7) / 8)
        var nulls = 0
        for (j, i) in indices.enumerated() {
            if isNull(i) { nulls += 1 } else { validity[j >> 3] |= UInt8(1 << (j & 7)) }
        }
        let validityView = nulls > 0 ? ByteView(copying: validity) : ByteView.empty
        var buffers = [validityView]
        var newChildren: [ArrowArray] = []
        switch type {
        case .bool:
            var bits = [UInt8](repeating: 0, count: (n + 7) / 8)
            for (j, i) in indices.enumerated() where buffers1.bit(i) { bits[j >> 3] |= UInt8(1 << (j & 7)) }
            buffers.append(ByteView(copying: bits))
        case .utf8, .binary, .largeUtf8, .largeBinary:
            let wide = type == .largeUtf8 || type == .largeBinary
            var offsets: [Int64] = [0]
            offsets.reserveCapacity(n + 1)
            var data: [UInt8] = []
            for i in indices {
                data.append(contentsOf: bytes(at: i))
                offsets.append(Int64(data.count))
            }
            if wide {
                buffers.append(offsets.withUnsafeBytes { ByteView(storage: ByteStorage(copying: $0)) })
            } else {
                let narrow = offsets.map { Int32(truncatingIfNeeded: $0) }
                buffers.append(narrow.withUnsafeBytes { ByteView(storage: ByteStorage(copying: $0)) })
            }
            buffers.append(ByteView(copying: data))
        case .list:
            var offsets: [Int32] = [0]
            var childIndices: [Int] = []
            for i in indices {
                childIndices.append(contentsOf: range(i))
                offsets.append(Int32(childIndices.count))
            }
            buffers.append(offsets.withUnsafeBytes { ByteView(storage: ByteStorage(copying: $0)) })
            newChildren = [children[0].take(childIndices)]
        case .fixedSizeList(_, let size):
            var childIndices: [Int] = []
            childIndices.reserveCapacity(n * size)
            for i in indices { childIndices.append(contentsOf: (i * size)..<((i + 1) * size)) }
            newChildren = [children[0].take(childIndices)]
        case .structType:
            newChildren = children.map { $0.take(indices) }
        default:
            let width = type.byteWidth ?? 0
            var data = [UInt8](repeating: 0, count: n * width)
            let source = buffers1
            data.withUnsafeMutableBytes { out in
                for (j, i) in indices.enumerated() {
                    out.baseAddress!.advanced(by: j * width).copyMemory(from: source.pointer + i * width, byteCount: width)
                }
            }
            buffers.append(ByteView(copying: data))
        }
        return ArrowArray(type: type, length: n, nullCount: nulls, buffers: buffers, children: newChildren)
    }

    private var buffers1: ByteView { buffers.count > 1 ? buffers[1] : ByteView.empty }
}
