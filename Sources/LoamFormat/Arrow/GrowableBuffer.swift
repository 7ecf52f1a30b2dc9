#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A malloc'd byte buffer that grows by doubling and hands its memory to a
/// `ByteView` without copying. Used by `ArrayBuilder`, whose appends are the
/// innermost loop of every import.
struct GrowableBuffer {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var count = 0
    private var capacity = 0
    /// The size the last finished buffer reached, to allocate the next one at once.
    private var lastCapacity = 0

    @inline(__always) mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private mutating func grow(_ needed: Int) {
        var newCapacity = max(capacity * 2, lastCapacity, 256)
        while newCapacity < needed { newCapacity *= 2 }
        guard let memory = realloc(base, newCapacity) else { fatalError("out of memory growing an Arrow buffer to \(newCapacity) bytes") }
        base = memory
        capacity = newCapacity
    }

    @inline(__always) mutating func append<T: FixedWidthInteger>(_ value: T) {
        reserve(MemoryLayout<T>.size)
        base.unsafelyUnwrapped.storeBytes(of: value.littleEndian, toByteOffset: count, as: T.self)
        count += MemoryLayout<T>.size
    }

    @inline(__always) mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base.unsafelyUnwrapped + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func appendZeros(_ n: Int) {
        guard n > 0 else { return }
        reserve(n)
        (base.unsafelyUnwrapped + count).initializeMemory(as: UInt8.self, repeating: 0, count: n)
        count += n
    }

    /// Sets bit `index` (bytes must already cover it).
    @inline(__always) mutating func setBit(_ index: Int) {
        let p = base.unsafelyUnwrapped + (index >> 3)
        p.storeBytes(of: p.load(as: UInt8.self) | UInt8(1 << (index & 7)), as: UInt8.self)
    }

    @inline(__always) func load<T: FixedWidthInteger>(_ index: Int, as: T.Type) -> T {
        base.unsafelyUnwrapped.load(fromByteOffset: index * MemoryLayout<T>.size, as: T.self)
    }

    /// Hands the bytes to a `ByteView` (no copy) and starts empty.
    mutating func finish() -> ByteView {
        defer {
            lastCapacity = max(capacity, lastCapacity)
            base = nil
            count = 0
            capacity = 0
        }
        guard let base, count > 0 else {
            if let base { free(base) }
            return ByteView.empty
        }
        return ByteView(storage: ByteStorage(base: UnsafeRawPointer(base), count: count) { pointer, _ in
            free(UnsafeMutableRawPointer(mutating: pointer))
        })
    }

    /// Frees the memory (for a builder going away unfinished).
    mutating func release() {
        if let base { free(base) }
        base = nil
        count = 0
        capacity = 0
    }
}
