/// Arrow types Loam does not store, converted as a record batch is read (`Wire`): each reads its
/// buffers as the file lays them out, checks them against the body, and builds the stored type.
extension BatchDecoder {
    mutating func converted(_ field: Field, _ how: Wire.Conversion, validate: Bool) throws -> ArrowArray {
        let (length, nullCount) = try node(field)
        let placeholder = ArrowArray(type: field.type, length: length, nullCount: 0, buffers: [])
        func need(_ view: ByteView, _ bytes: Int, _ what: String) throws {
            guard view.count >= bytes else { throw FormatError.malformed("column '\(field.name)': \(what) buffer has \(view.count) bytes, needs \(bytes)") }
        }
        func validity(_ view: ByteView) throws -> ByteView {
            if nullCount > 0 { try need(view, (length + 7) / 8, "validity") }
            return nullCount > 0 ? view : .empty
        }
        @inline(__always) func isNull(_ bits: ByteView, _ i: Int) -> Bool { nullCount > 0 && !bits.bit(i) }

        switch how {
        case .same:
            preconditionFailure("read by stored()")
        case .null:
            return validate ? ArrowArray.nulls(type: field.type, count: length) : placeholder
        case .float16:
            let bits = try validity(try nextBuffer(field.name)), values = native(try nextBuffer(field.name), width: 2)
            try need(values, length * 2, "value")
            guard validate else { return placeholder }
            let out = ByteStorage.filling(length * 4) { raw in
                for i in 0..<length { raw.storeBytes(of: ParquetReader.half(values.load(i, as: UInt16.self)), toByteOffset: i * 4, as: Float.self) }
            }
            return ArrowArray(type: .float32, length: length, nullCount: nullCount, buffers: [bits, ByteView(storage: out)])
        case .decimal(let bytes, let scale, let text):
            let bits = try validity(try nextBuffer(field.name)), values = try nextBuffer(field.name)
            try need(values, length * bytes, "value")
            guard validate else { return placeholder }
            let builder = ArrayBuilder(type: field.type)
            var bigEndian = [UInt8](repeating: 0, count: bytes)
            for i in 0..<length {
                if isNull(bits, i) { builder.appendNull(); continue }
                for b in 0..<bytes {  // to big-endian order (a big-endian file already has it)
                    bigEndian[self.bigEndian ? b : bytes - 1 - b] = values.pointer.load(fromByteOffset: i * bytes + b, as: UInt8.self)
                }
                let digits = bigEndian.withUnsafeBytes { Decimal.digits(bigEndian: $0) }
                if text {
                    var s = Decimal.text(digits, scale: scale)
                    s.withUTF8 { builder.appendBytes(UnsafeRawBufferPointer($0)) }
                } else {
                    builder.appendDouble(Decimal.double(digits, scale: scale))
                }
            }
            return builder.finish()
        case .fixedBinary(let width):
            let bits = try validity(try nextBuffer(field.name)), values = try nextBuffer(field.name)
            let (total, overflow) = length.multipliedReportingOverflow(by: width)
            guard !overflow, total <= Int(Int32.max) else {
                throw FormatError.unsupported("column '\(field.name)' holds \(total) bytes of fixed_size_binary in one batch, more than a binary column's 2 GiB")
            }
            try need(values, total, "value")
            guard validate else { return placeholder }
            let offsets = ByteStorage.filling((length + 1) * 4) { raw in
                for i in 0...length { raw.storeBytes(of: Int32(i * width), toByteOffset: i * 4, as: Int32.self) }
            }
            return ArrowArray(type: .binary, length: length, nullCount: nullCount, buffers: [bits, ByteView(storage: offsets), values.slice(0, total)])
        case .largeList(let itemWire):
            let bits = try validity(try nextBuffer(field.name)), offsets = native(try nextBuffer(field.name), width: 8)
            try need(offsets, length == 0 ? 0 : (length + 1) * 8, "offset")
            guard case .list(let item) = field.type else { preconditionFailure("large_list is stored as a list") }
            let child = try array(item, wire: itemWire, validate: validate)
            guard validate else { return placeholder }
            let first = length == 0 ? 0 : Int(offsets.load(0, as: Int64.self))
            var previous = first
            var ends: [Int32] = [0]
            ends.reserveCapacity(length + 1)
            for i in 0..<(length == 0 ? 0 : length + 1) where i > 0 {
                let value = Int(offsets.load(i, as: Int64.self))
                guard value >= previous else { throw FormatError.malformed("column '\(field.name)' has decreasing offsets at row \(i)") }
                guard value - first <= Int(Int32.max) else {
                    throw FormatError.unsupported("large_list column '\(field.name)' holds more than 2^31 items in one batch; split the batch")
                }
                ends.append(Int32(value - first))
                previous = value
            }
            guard child.length >= previous else { throw FormatError.malformed("list column '\(field.name)' points past its \(child.length) items") }
            let items = first == 0 ? child : child.take(Array(first..<previous))
            return ArrowArray(type: field.type, length: length, nullCount: nullCount, buffers: [bits, ByteView(copying: ends.withUnsafeBytes { Array($0) })],
                              children: [items])
        case .listView(let large, let itemWire):
            let width = large ? 8 : 4
            let bits = try validity(try nextBuffer(field.name))
            let offsets = native(try nextBuffer(field.name), width: width), sizes = native(try nextBuffer(field.name), width: width)
            try need(offsets, length * width, "offset")
            try need(sizes, length * width, "size")
            guard case .list(let item) = field.type else { preconditionFailure("list_view is stored as a list") }
            let child = try array(item, wire: itemWire, validate: validate)
            guard validate else { return placeholder }
            var picks: [Int] = [], ends: [Int32] = [0]
            for i in 0..<length {
                if !isNull(bits, i) {
                    let start = large ? Int(offsets.load(i, as: Int64.self)) : Int(offsets.load(i, as: Int32.self))
                    let size = large ? Int(sizes.load(i, as: Int64.self)) : Int(sizes.load(i, as: Int32.self))
                    guard start >= 0, size >= 0, start <= child.length, size <= child.length - start else {
                        throw FormatError.malformed("list_view column '\(field.name)' row \(i) points outside its \(child.length) items")
                    }
                    // Views may share items; stored lists cannot, so sharing is bounded (8 times the items, or 1 Mi; 128 Mi in all).
                    guard picks.count + size <= min(max(8 * child.length, 1 << 20), 1 << 27) else {
                        throw FormatError.unsupported("list_view column '\(field.name)' names its \(child.length) items more than 8 times over by row \(i); "
                            + "Loam stores each list's items separately (cast it to a list in smaller batches)")
                    }
                    picks.append(contentsOf: start..<(start + size))
                }
                ends.append(Int32(picks.count))
            }
            return ArrowArray(type: field.type, length: length, nullCount: nullCount, buffers: [bits, ByteView(copying: ends.withUnsafeBytes { Array($0) })],
                              children: [try expand(child, picks, field, "list_view")])
        case .view:
            let bits = try validity(try nextBuffer(field.name)), views = try nextBuffer(field.name)
            try need(views, length * 16, "view")
            guard variadicIndex < variadicCounts.count else { throw FormatError.malformed("view column '\(field.name)' has no variadic buffer count") }
            let count = variadicCounts[variadicIndex]
            variadicIndex += 1
            guard count >= 0, count <= buffers.count else { throw FormatError.malformed("view column '\(field.name)' declares \(count) data buffers") }
            var data: [ByteView] = []
            for _ in 0..<count { data.append(try nextBuffer(field.name)) }
            guard validate else { return placeholder }
            let builder = ArrayBuilder(type: field.type)
            for i in 0..<length {
                if isNull(bits, i) { builder.appendNull(); continue }
                func int32(_ at: Int) -> Int {
                    let raw = views.pointer.loadUnaligned(fromByteOffset: i * 16 + at, as: Int32.self)
                    return Int(bigEndian ? raw.byteSwapped : raw)
                }
                let size = int32(0)
                guard size >= 0 else { throw FormatError.malformed("view column '\(field.name)' row \(i) has length \(size)") }
                if size <= 12 {
                    builder.appendBytes(UnsafeRawBufferPointer(start: views.pointer + i * 16 + 4, count: size))
                } else {
                    let which = int32(8), offset = int32(12)
                    guard which >= 0, which < data.count, offset >= 0, offset <= data[which].count, size <= data[which].count - offset else {
                        throw FormatError.malformed("view column '\(field.name)' row \(i) points outside its data buffers")
                    }
                    builder.appendBytes(UnsafeRawBufferPointer(start: data[which].pointer + offset, count: size))
                }
            }
            return builder.finish()  // (imports check every string column's UTF-8 afterwards)
        case .interval(let widths):
            let bits = try validity(try nextBuffer(field.name)), values = try nextBuffer(field.name)  // each part swapped below
            let record = widths.reduce(0, +)
            try need(values, length * record, "value")
            guard validate, case .structType(let fields) = field.type else { return placeholder }
            var start = 0
            var children: [ArrowArray] = []
            for (f, width) in zip(fields, widths) {
                let part = ByteStorage.filling(length * width) { out in
                    for i in 0..<length { out.advanced(by: i * width).copyMemory(from: values.pointer + i * record + start, byteCount: width) }
                }
                children.append(ArrowArray(type: f.type, length: length, nullCount: 0, buffers: [.empty, native(ByteView(storage: part), width: width)]))
                start += width
            }
            return ArrowArray(type: field.type, length: length, nullCount: nullCount, buffers: [bits], children: children)
        case .runEnds(let runField, let valuesField, let valuesWire):  // no buffers of its own
            let ends = try array(runField, validate: validate)
            let values = try array(valuesField, wire: valuesWire, validate: validate)
            guard validate else { return placeholder }
            guard ends.length == values.length, ends.nullCount == 0 else {
                throw FormatError.malformed("run-end encoded column '\(field.name)' has \(ends.length) run ends (with nulls: \(ends.nullCount > 0)) for \(values.length) values")
            }
            func end(_ run: Int) -> Int {
                switch runField.type {
                case .int16: return Int(ends.buffers[1].load(run, as: Int16.self))
                case .int32: return Int(ends.buffers[1].load(run, as: Int32.self))
                default: return Int(ends.buffers[1].load(run, as: Int64.self))
                }
            }
            var picks: [Int] = []
            picks.reserveCapacity(length)
            var run = 0
            for i in 0..<length {
                while run < ends.length, end(run) <= i { run += 1 }
                guard run < ends.length else { throw FormatError.malformed("run-end encoded column '\(field.name)' ends its runs before row \(i)") }
                picks.append(run)
            }
            return try expand(values, picks, field, "run-end encoded")
        }
    }
}

extension BatchDecoder {
    /// `values.take(picks)`, refused before it starts when the result would not fit the stored type: text or bytes
    /// past 2 GiB in one batch (a small dictionary or run can name one large value millions of times).
    func expand(_ values: ArrowArray, _ picks: [Int], _ field: Field, _ what: String) throws -> ArrowArray {
        if values.type == .utf8 || values.type == .binary {
            var total = 0
            for p in picks where !values.isNull(p) {
                total += values.range(p).count
                guard total <= Int(Int32.max) else {
                    throw FormatError.unsupported("decoding \(what) column '\(field.name)' would put more than 2 GiB of \(values.type.name) in one batch; "
                        + "write the file with smaller batches")
                }
            }
        }
        return values.take(picks)
    }

    /// A dictionary-encoded column: its indices looked up in dictionary `id`, decoded to the values' type.
    mutating func dictionaryColumn(_ field: Field, id: Int64, indexBytes: Int, signed: Bool, validate: Bool) throws -> ArrowArray {
        let (length, nullCount) = try node(field)
        let bits = try nextBuffer(field.name), indices = native(try nextBuffer(field.name), width: indexBytes)
        if nullCount > 0 {
            guard bits.count >= (length + 7) / 8 else { throw FormatError.malformed("column '\(field.name)': validity buffer is too short") }
        }
        guard indices.count >= length * indexBytes else {
            throw FormatError.malformed("column '\(field.name)': index buffer has \(indices.count) bytes, needs \(length * indexBytes)")
        }
        guard validate else { return ArrowArray(type: field.type, length: length, nullCount: 0, buffers: []) }
        guard let dictionary = dictionaries[id] else {
            throw FormatError.malformed("column '\(field.name)' uses dictionary \(id), which the data does not define before this batch")
        }
        var picks = [Int](repeating: 0, count: length)
        var valid = [UInt8](repeating: 0, count: (length + 7) / 8)
        var nulls = 0
        for i in 0..<length {
            if nullCount > 0, !bits.bit(i) { nulls += 1; continue }
            let index: Int
            switch (indexBytes, signed) {
            case (1, true): index = Int(indices.load(i, as: Int8.self))
            case (1, false): index = Int(indices.load(i, as: UInt8.self))
            case (2, true): index = Int(indices.load(i, as: Int16.self))
            case (2, false): index = Int(indices.load(i, as: UInt16.self))
            case (4, true): index = Int(indices.load(i, as: Int32.self))
            case (4, false): index = Int(indices.load(i, as: UInt32.self))
            case (8, false): index = Int(truncatingIfNeeded: indices.load(i, as: UInt64.self))
            default: index = Int(indices.load(i, as: Int64.self))
            }
            guard index >= 0, index < dictionary.length else {
                throw FormatError.malformed("column '\(field.name)' row \(i) has dictionary index \(index), outside its \(dictionary.length) values")
            }
            picks[i] = index
            if dictionary.isNull(index) { nulls += 1 } else { valid[i >> 3] |= UInt8(1 << (i & 7)) }
        }
        if dictionary.length == 0 { return ArrowArray.nulls(type: field.type, count: length) }
        var out = try expand(dictionary, picks, field, "dictionary")
        out.buffers[0] = nulls > 0 ? ByteView(copying: valid) : .empty
        out.nullCount = nulls
        return out
    }
}
