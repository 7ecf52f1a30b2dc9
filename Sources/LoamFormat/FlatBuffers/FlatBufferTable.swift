/// A bounds-checked view of one FlatBuffers table inside a buffer.
///
/// Every read checks that the bytes it touches lie inside the buffer, so a
/// corrupt or hostile file yields `FormatError.malformed`, never a crash.
///
/// ```swift
/// let root = try FlatBufferTable.root(of: bytes)
/// let name = try root.string(slot: 0)
/// ```
public struct FlatBufferTable {
    public let buffer: UnsafeRawBufferPointer
    public let position: Int
    private let vtable: Int
    private let vtableSize: Int

    public static func root(of buffer: UnsafeRawBufferPointer) throws -> FlatBufferTable {
        let rootOffset = try readUInt32(buffer, 0)
        return try FlatBufferTable(buffer: buffer, position: Int(rootOffset))
    }

    init(buffer: UnsafeRawBufferPointer, position: Int) throws {
        self.buffer = buffer
        self.position = position
        let soffset = Int(try Self.read(buffer, position, as: Int32.self))
        vtable = position - soffset
        vtableSize = Int(try Self.read(buffer, vtable, as: UInt16.self))
        guard vtableSize >= 4, vtable + vtableSize <= buffer.count else {
            throw FormatError.malformed("FlatBuffers vtable at byte \(vtable) lies outside the buffer")
        }
    }

    static func read<T: FixedWidthInteger>(_ buffer: UnsafeRawBufferPointer, _ at: Int, as: T.Type) throws -> T {
        guard at >= 0, at + MemoryLayout<T>.size <= buffer.count else {
            throw FormatError.malformed("FlatBuffers read of \(MemoryLayout<T>.size) bytes at \(at) is outside a \(buffer.count)-byte buffer")
        }
        return T(littleEndian: buffer.loadUnaligned(fromByteOffset: at, as: T.self))
    }

    static func readUInt32(_ buffer: UnsafeRawBufferPointer, _ at: Int) throws -> UInt32 {
        try read(buffer, at, as: UInt32.self)
    }

    /// The absolute position of a field, or nil when the field is absent.
    public func fieldPosition(_ slot: Int) throws -> Int? {
        let entry = 4 + 2 * slot
        guard entry + 2 <= vtableSize else { return nil }
        let relative = Int(try Self.read(buffer, vtable + entry, as: UInt16.self))
        return relative == 0 ? nil : position + relative
    }

    public func scalar<T: FixedWidthInteger>(slot: Int, default value: T) throws -> T {
        guard let at = try fieldPosition(slot) else { return value }
        return try Self.read(buffer, at, as: T.self)
    }

    public func bool(slot: Int, default value: Bool = false) throws -> Bool {
        try scalar(slot: slot, default: UInt8(value ? 1 : 0)) != 0
    }

    private func indirect(_ at: Int) throws -> Int {
        at + Int(try Self.readUInt32(buffer, at))
    }

    public func table(slot: Int) throws -> FlatBufferTable? {
        guard let at = try fieldPosition(slot) else { return nil }
        return try FlatBufferTable(buffer: buffer, position: try indirect(at))
    }

    public func string(slot: Int) throws -> String? {
        guard let at = try fieldPosition(slot) else { return nil }
        let start = try indirect(at)
        let length = Int(try Self.readUInt32(buffer, start))
        guard start + 4 + length <= buffer.count else {
            throw FormatError.malformed("FlatBuffers string at byte \(start) runs past the buffer")
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[(start + 4)..<(start + 4 + length)]), as: UTF8.self)
    }

    /// A vector's first element position and its count, checked against the buffer.
    public func vector(slot: Int, elementSize: Int) throws -> (start: Int, count: Int)? {
        guard let at = try fieldPosition(slot) else { return nil }
        let start = try indirect(at)
        let count = Int(try Self.readUInt32(buffer, start))
        guard count >= 0, count <= (buffer.count - start - 4) / max(elementSize, 1) else {
            throw FormatError.malformed("FlatBuffers vector at byte \(start) claims \(count) elements, more than the buffer holds")
        }
        return (start + 4, count)
    }

    public func tables(slot: Int) throws -> [FlatBufferTable] {
        guard let (start, count) = try vector(slot: slot, elementSize: 4) else { return [] }
        return try (0..<count).map { try FlatBufferTable(buffer: buffer, position: try indirect(start + 4 * $0)) }
    }

    public func int64(at: Int) throws -> Int64 { try Self.read(buffer, at, as: Int64.self) }
    public func int32(at: Int) throws -> Int32 { try Self.read(buffer, at, as: Int32.self) }
}
