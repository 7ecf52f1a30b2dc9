/// Builds a FlatBuffers buffer back to front, the way the FlatBuffers
/// specification lays it out: children first, the root table last.
///
/// ```swift
/// var b = FlatBufferBuilder()
/// let name = b.createString("id")
/// b.startTable()
/// b.addOffset(slot: 0, name)
/// b.add(slot: 1, true)
/// let root = b.endTable()
/// let bytes = b.finish(root)
/// ```
///
/// Bytes are kept in reverse order so that prepending is an append; offsets
/// are measured from the end of the buffer, as in the reference builder.
public struct FlatBufferBuilder {
    /// An object's position, counted from the end of the finished buffer.
    public struct Offset: Sendable, Equatable { public let value: Int }

    private var reversed: [UInt8] = []
    private var minAlign = 1
    private var tableFields: [(slot: Int, offset: Int)] = []
    private var tableStart = 0

    public init(capacity: Int = 1024) { reversed.reserveCapacity(capacity) }

    private var size: Int { reversed.count }

    /// Pads so that after `additional` more bytes the size is a multiple of `alignment`.
    private mutating func prep(_ alignment: Int, _ additional: Int) {
        minAlign = max(minAlign, alignment)
        let pad = (~(size + additional) &+ 1) & (alignment - 1)
        if pad > 0 { reversed.append(contentsOf: repeatElement(0, count: pad)) }
    }

    private mutating func prependRaw<T: FixedWidthInteger>(_ value: T) {
        let le = value.littleEndian
        withUnsafeBytes(of: le) { raw in
            for i in stride(from: raw.count - 1, through: 0, by: -1) { reversed.append(raw[i]) }
        }
    }

    private mutating func prepend<T: FixedWidthInteger>(_ value: T) {
        prep(MemoryLayout<T>.size, 0)
        prependRaw(value)
    }

    private mutating func prependOffset(_ target: Offset) {
        prep(4, 0)
        prependRaw(UInt32(size + 4 - target.value))
    }

    public mutating func createString(_ string: String) -> Offset {
        let bytes = Array(string.utf8)
        prep(4, bytes.count + 1)
        reversed.append(0)
        for byte in bytes.reversed() { reversed.append(byte) }
        prependRaw(UInt32(bytes.count))
        return Offset(value: size)
    }

    public mutating func createVector(offsets: [Offset]) -> Offset {
        prep(4, 4 * offsets.count)
        for offset in offsets.reversed() { prependOffset(offset) }
        prependRaw(UInt32(offsets.count))
        return Offset(value: size)
    }

    public mutating func createVector<T: FixedWidthInteger>(scalars: [T]) -> Offset {
        prep(max(4, MemoryLayout<T>.size), MemoryLayout<T>.size * scalars.count)
        for value in scalars.reversed() { prependRaw(value) }
        prep(4, 0)
        prependRaw(UInt32(scalars.count))
        return Offset(value: size)
    }

    /// A vector of structs whose fields are all 64-bit, or 64-bit with one
    /// 32-bit field padded (Arrow's Block): each struct is given as its
    /// little-endian field values and their widths, in declaration order.
    public mutating func createStructVector(_ structs: [[(value: Int64, width: Int)]], structSize: Int) -> Offset {
        prep(8, structSize * structs.count)
        for fields in structs.reversed() {
            var written = 0
            var bytes: [UInt8] = []
            for field in fields {
                let pad = (field.width - written % field.width) % field.width
                bytes.append(contentsOf: repeatElement(0, count: pad))
                withUnsafeBytes(of: field.value.littleEndian) { bytes.append(contentsOf: $0.prefix(field.width)) }
                written = bytes.count
            }
            bytes.append(contentsOf: repeatElement(0, count: structSize - bytes.count))
            for byte in bytes.reversed() { reversed.append(byte) }
        }
        prep(4, 0)
        prependRaw(UInt32(structs.count))
        return Offset(value: size)
    }

    public mutating func startTable() {
        tableFields.removeAll(keepingCapacity: true)
        tableStart = size
    }

    public mutating func add<T: FixedWidthInteger>(slot: Int, _ value: T) {
        prepend(value)
        tableFields.append((slot, size))
    }

    public mutating func add(slot: Int, _ value: Bool) {
        add(slot: slot, UInt8(value ? 1 : 0))
    }

    public mutating func addOffset(slot: Int, _ offset: Offset) {
        prependOffset(offset)
        tableFields.append((slot, size))
    }

    public mutating func endTable() -> Offset {
        prepend(Int32(0))  // placeholder for the vtable's soffset
        let tableOffset = size
        let slotCount = (tableFields.map(\.slot).max() ?? -1) + 1
        var entries = [UInt16](repeating: 0, count: slotCount)
        for field in tableFields { entries[field.slot] = UInt16(tableOffset - field.offset) }
        for entry in entries.reversed() { prependRaw(entry) }
        prependRaw(UInt16(tableOffset - tableStart))
        prependRaw(UInt16(4 + 2 * slotCount))
        let vtableOffset = size
        patchInt32(fromEnd: tableOffset, Int32(vtableOffset - tableOffset))
        return Offset(value: tableOffset)
    }

    private mutating func patchInt32(fromEnd position: Int, _ value: Int32) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for i in 0..<4 { reversed[position - 1 - i] = raw[i] }
        }
    }

    /// Finishes the buffer with `root` as its root table and returns its bytes.
    public mutating func finish(_ root: Offset) -> [UInt8] {
        prep(max(minAlign, 8), 4)
        prependOffset(root)
        return reversed.reversed()
    }
}
