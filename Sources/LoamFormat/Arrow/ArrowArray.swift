/// An Arrow array in its IPC buffer layout: `buffers[0]` is the validity
/// bitmap (empty when there are no nulls), then the type's own buffers;
/// `children` hold list elements and struct fields.
///
/// Buffers may point into a memory-mapped file, so reading a fragment copies
/// nothing.
///
/// ```swift
/// let ids = ArrowArray.fromValues([.int(1), .null, .int(3)], type: .int64)
/// ids.value(at: 2)   // .int(3)
/// ```
public struct ArrowArray: Sendable {
    public var type: ArrowType
    public var length: Int
    public var nullCount: Int
    public var buffers: [ByteView]
    public var children: [ArrowArray]

    public init(type: ArrowType, length: Int, nullCount: Int, buffers: [ByteView], children: [ArrowArray] = []) {
        self.type = type
        self.length = length
        self.nullCount = nullCount
        self.buffers = buffers
        self.children = children
    }

    public var validity: ByteView { buffers[0] }

    @inlinable @inline(__always) public func isNull(_ index: Int) -> Bool {
        nullCount > 0 && !buffers[0].isEmpty && !buffers[0].bit(index)
    }

    /// The start and end offsets of variable-length element `index`.
    @inlinable @inline(__always) public func range(_ index: Int) -> Range<Int> {
        switch type {
        case .largeUtf8, .largeBinary:
            return Int(buffers[1].load(index, as: Int64.self))..<Int(buffers[1].load(index + 1, as: Int64.self))
        default:
            return Int(buffers[1].load(index, as: Int32.self))..<Int(buffers[1].load(index + 1, as: Int32.self))
        }
    }

    /// The raw bytes of string or binary element `index`.
    public func bytes(at index: Int) -> UnsafeRawBufferPointer {
        let r = range(index)
        return UnsafeRawBufferPointer(rebasing: buffers[2].buffer[r])
    }

    public func string(at index: Int) -> String {
        String(decoding: bytes(at: index), as: UTF8.self)
    }

    /// The cell at `index` as a `Value` (slow path).
    public func value(at index: Int) -> Value {
        if isNull(index) { return .null }
        let data = buffers.count > 1 ? buffers[1] : ByteView.empty
        switch type {
        case .bool: return .bool(data.bit(index))
        case .int8: return .int(Int64(data.load(index, as: Int8.self)))
        case .int16: return .int(Int64(data.load(index, as: Int16.self)))
        case .int32, .date32: return .int(Int64(data.load(index, as: Int32.self)))
        case .int64, .timestamp: return .int(data.load(index, as: Int64.self))
        case .uint8: return .uint(UInt64(data.load(index, as: UInt8.self)))
        case .uint16: return .uint(UInt64(data.load(index, as: UInt16.self)))
        case .uint32: return .uint(UInt64(data.load(index, as: UInt32.self)))
        case .uint64: return .uint(data.load(index, as: UInt64.self))
        case .float32: return .float(Double(data.loadFloat(index)))
        case .float64: return .float(data.loadDouble(index))
        case .utf8, .largeUtf8: return .string(string(at: index))
        case .binary, .largeBinary: return .binary(Array(bytes(at: index)))
        case .fixedSizeList(_, let size):
            return .list((index * size..<(index + 1) * size).map { children[0].value(at: $0) })
        case .list:
            return .list(range(index).map { children[0].value(at: $0) })
        case .structType:
            return .structValue(children.map { $0.value(at: index) })
        }
    }

    public var values: [Value] { (0..<length).map(value(at:)) }

    /// Builds an array from values; throws when a value does not fit `type`.
    public static func fromValues(_ values: [Value], type: ArrowType) throws -> ArrowArray {
        let builder = ArrayBuilder(type: type)
        for value in values { try builder.append(value) }
        return builder.finish()
    }

    /// An all-null array, used for columns a fragment predates.
    public static func nulls(type: ArrowType, count: Int) -> ArrowArray {
        let builder = ArrayBuilder(type: type)
        for _ in 0..<count { builder.appendNull() }
        return builder.finish()
    }
}

/// A record batch: equal-length columns under a schema.
public struct RecordBatch: Sendable {
    public var schema: Schema
    public var columns: [ArrowArray]
    public var length: Int

    public init(schema: Schema, columns: [ArrowArray]) {
        self.schema = schema
        self.columns = columns
        self.length = columns.first?.length ?? 0
    }

    public init(schema: Schema, columns: [ArrowArray], length: Int) {
        self.schema = schema
        self.columns = columns
        self.length = length
    }

    public func column(_ name: String) -> ArrowArray? {
        schema.index(of: name).map { columns[$0] }
    }

    /// The row at `index` as values, in schema order (slow path).
    public func row(_ index: Int) -> [Value] { columns.map { $0.value(at: index) } }
}
