/// Accumulates values of one Arrow type into IPC-layout buffers.
///
/// ```swift
/// let b = ArrayBuilder(type: .utf8)
/// try b.append(.string("cat"))
/// b.appendNull()
/// let array = b.finish()      // length 2, nullCount 1; the builder is empty again
/// ```
///
/// Ingest calls the typed fast paths (`appendInt64`, `appendDouble`,
/// `appendBytes`); everything else goes through `append(_ value:)`.
public final class ArrayBuilder {
    public let type: ArrowType
    public private(set) var count = 0
    private var nullCount = 0
    private var validity = GrowableBuffer()
    private var values = GrowableBuffer()
    /// Offsets in the type's own width (int32, or int64 for large types); starts with 0.
    private var offsets = GrowableBuffer()
    private let wideOffsets: Bool
    private var children: [ArrayBuilder]

    public init(type: ArrowType) {
        self.type = type
        wideOffsets = type == .largeUtf8 || type == .largeBinary
        children = type.children.map { ArrayBuilder(type: $0.type) }
        startOffsets()
    }

    deinit {
        validity.release()
        values.release()
        offsets.release()
    }

    private var hasOffsets: Bool {
        switch type {
        case .utf8, .largeUtf8, .binary, .largeBinary, .list: return true
        default: return false
        }
    }

    private func startOffsets() {
        guard hasOffsets else { return }
        if wideOffsets { offsets.append(Int64(0)) } else { offsets.append(Int32(0)) }
    }

    @inline(__always) private func appendOffset(_ value: Int) {
        if wideOffsets { offsets.append(Int64(value)) } else { offsets.append(Int32(truncatingIfNeeded: value)) }
    }

    /// Bytes held so far, to bound the memory of a fragment being built.
    public var byteCount: Int {
        validity.count + values.count + offsets.count + children.reduce(0) { $0 + $1.byteCount }
    }

    @inline(__always) private func appendValidity(_ valid: Bool) {
        if count & 7 == 0 { validity.append(UInt8(0)) }
        if valid { validity.setBit(count) } else { nullCount += 1 }
    }

    @inline(__always) private func appendBoolBit(_ on: Bool) {
        if count & 7 == 0 { values.append(UInt8(0)) }
        if on { values.setBit(count) }
    }

    public func appendNull() {
        appendValidity(false)
        switch type {
        case .bool: appendBoolBit(false)
        case .utf8, .largeUtf8, .binary, .largeBinary: appendOffset(values.count)
        case .list: appendOffset(children[0].count)
        case .fixedSizeList(_, let size): for _ in 0..<size { children[0].appendNull() }
        case .structType: for child in children { child.appendNull() }
        default: values.appendZeros(type.byteWidth ?? 0)
        }
        count += 1
    }

    public func appendInt64(_ v: Int64) {
        appendValidity(true)
        values.append(v)
        count += 1
    }

    public func appendInt32(_ v: Int32) {
        appendValidity(true)
        values.append(v)
        count += 1
    }

    /// Appends a fixed-width value given as its bits (any integer, float or date width).
    @inline(__always) func appendRaw<T: FixedWidthInteger>(_ v: T) {
        appendValidity(true)
        values.append(v)
        count += 1
    }

    public func appendDouble(_ v: Double) {
        appendValidity(true)
        values.append(v.bitPattern)
        count += 1
    }

    public func appendFloat(_ v: Float) {
        appendValidity(true)
        values.append(v.bitPattern)
        count += 1
    }

    public func appendBool(_ v: Bool) {
        appendValidity(true)
        appendBoolBit(v)
        count += 1
    }

    /// Appends one string or binary element from raw bytes.
    public func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        appendValidity(true)
        values.append(bytes)
        appendOffset(values.count)
        count += 1
    }

    /// The child builder of a list, fixed-size list or struct.
    public func child(_ index: Int) -> ArrayBuilder { children[index] }

    /// Closes a list element whose items were appended to `child(0)`.
    public func appendListEnd() {
        appendValidity(true)
        appendOffset(children[0].count)
        count += 1
    }

    /// Closes a struct or fixed-size-list element whose children were appended directly.
    public func appendValidParent() {
        appendValidity(true)
        count += 1
    }

    public func append(_ value: Value) throws {
        if case .null = value { appendNull(); return }
        switch (type, value) {
        case (.bool, .bool(let b)): appendBool(b)
        case (.int8, _): try appendInteger(value, Int8.self)
        case (.int16, _): try appendInteger(value, Int16.self)
        case (.int32, _), (.date32, _): try appendInteger(value, Int32.self)
        case (.int64, _), (.timestamp, _): try appendInteger(value, Int64.self)
        case (.uint8, _): try appendInteger(value, UInt8.self)
        case (.uint16, _): try appendInteger(value, UInt16.self)
        case (.uint32, _): try appendInteger(value, UInt32.self)
        case (.uint64, _): try appendInteger(value, UInt64.self)
        case (.float32, _):
            guard let d = value.asDouble, !(value.isBoolValue) else { throw mismatch(value) }
            appendFloat(Float(d))
        case (.float64, _):
            guard let d = value.asDouble, !(value.isBoolValue) else { throw mismatch(value) }
            appendDouble(d)
        case (.utf8, .string(let s)), (.largeUtf8, .string(let s)),
             (.binary, .string(let s)), (.largeBinary, .string(let s)):
            var s = s
            s.withUTF8 { appendBytes(UnsafeRawBufferPointer($0)) }
        case (.binary, .binary(let b)), (.largeBinary, .binary(let b)):
            b.withUnsafeBytes { appendBytes($0) }
        case (.list, .list(let items)):
            for item in items { try children[0].append(item) }
            appendListEnd()
        case (.fixedSizeList(_, let size), .list(let items)):
            guard items.count == size else {
                throw FormatError.typeMismatch("a list of \(items.count) values does not fit \(type.name), which holds exactly \(size)")
            }
            for item in items { try children[0].append(item) }
            appendValidParent()
        case (.structType, .structValue(let fields)):
            guard fields.count == children.count else { throw mismatch(value) }
            for (child, field) in zip(children, fields) { try child.append(field) }
            appendValidParent()
        default:
            throw mismatch(value)
        }
    }

    private func appendInteger<T: FixedWidthInteger>(_ value: Value, _: T.Type) throws {
        let converted: T?
        switch value {
        case .int(let v): converted = T(exactly: v)
        case .uint(let v): converted = T(exactly: v)
        case .float(let d): converted = d.rounded() == d && abs(d) < 9.2e18 ? T(exactly: Int64(d)) : nil
        default: throw mismatch(value)
        }
        guard let v = converted else {
            throw FormatError.typeMismatch("value \(value.displayText) is out of range for \(type.name)")
        }
        appendValidity(true)
        values.append(v)
        count += 1
    }

    private func mismatch(_ value: Value) -> FormatError {
        FormatError.typeMismatch("value \(value.displayText) does not fit type \(type.name)")
    }

    /// Returns the array built so far (its memory moves into the array, no
    /// copy) and empties the builder.
    public func finish() -> ArrowArray {
        let validityView = nullCount > 0 ? validity.finish() : { validity.release(); return ByteView.empty }()
        var buffers = [validityView]
        switch type {
        case .utf8, .binary, .largeUtf8, .largeBinary:
            buffers.append(offsets.finish())
            buffers.append(values.finish())
        case .list:
            buffers.append(offsets.finish())
        case .structType, .fixedSizeList:
            break
        default:
            buffers.append(values.finish())
        }
        let array = ArrowArray(type: type, length: count, nullCount: nullCount, buffers: buffers,
                               children: children.map { $0.finish() })
        count = 0
        nullCount = 0
        startOffsets()
        return array
    }
}

extension Value {
    var isBoolValue: Bool { if case .bool = self { return true } else { return false } }

    /// A short rendering for error messages.
    public var displayText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .float(let v): return String(v)
        case .string(let s): return "'" + (s.count > 40 ? String(s.prefix(40)) + "…" : s) + "'"
        case .binary(let b): return "<\(b.count) bytes>"
        case .list(let items): return "[" + items.prefix(8).map(\.displayText).joined(separator: ", ") + (items.count > 8 ? ", …" : "") + "]"
        case .structValue(let fields): return "{" + fields.map(\.displayText).joined(separator: ", ") + "}"
        }
    }
}
