#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory that one or more `ByteView`s point into: an owned allocation or a
/// read-only memory map. Freed when the last view goes away.
public final class ByteStorage: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let count: Int
    private let release: @Sendable (UnsafeRawPointer, Int) -> Void

    /// Takes ownership of `count` bytes at `base`; `release` frees them.
    public init(base: UnsafeRawPointer, count: Int, release: @escaping @Sendable (UnsafeRawPointer, Int) -> Void) {
        self.base = base
        self.count = count
        self.release = release
    }

    /// Copies `bytes` into a fresh 64-byte-aligned allocation.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        let size = max(bytes.count, 1)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        if let src = bytes.baseAddress, bytes.count > 0 { memory.copyMemory(from: src, byteCount: bytes.count) }
        self.init(base: UnsafeRawPointer(memory), count: bytes.count) { pointer, _ in
            UnsafeMutableRawPointer(mutating: pointer).deallocate()
        }
    }

    /// A fresh 64-byte-aligned allocation of `count` bytes, filled by `fill` (no second copy).
    public static func filling(_ count: Int, _ fill: (UnsafeMutableRawPointer) throws -> Void) rethrows -> ByteStorage {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        do { try fill(memory) } catch { memory.deallocate(); throw error }
        return ByteStorage(base: UnsafeRawPointer(memory), count: count) { pointer, _ in
            UnsafeMutableRawPointer(mutating: pointer).deallocate()
        }
    }

    /// Maps a whole file read-only. Empty files map to an empty storage.
    public static func map(path: String) throws -> ByteStorage {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FormatError.malformed("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FormatError.malformed("cannot stat \(path)") }
        let size = Int(info.st_size)
        if size == 0 { return ByteStorage(copying: UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw FormatError.malformed("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        return ByteStorage(base: UnsafeRawPointer(mapped), count: size) { pointer, length in
            munmap(UnsafeMutableRawPointer(mutating: pointer), length)
        }
    }

    deinit { release(base, count) }
}

/// A window of bytes inside a `ByteStorage`; copying a view copies no bytes.
public struct ByteView: @unchecked Sendable {
    public let storage: ByteStorage
    public let offset: Int
    public let count: Int

    public init(storage: ByteStorage, offset: Int = 0, count: Int? = nil) {
        self.storage = storage
        self.offset = offset
        self.count = count ?? (storage.count - offset)
    }

    public init(copying bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { ByteView(storage: ByteStorage(copying: $0)) }
    }

    public static let empty = ByteView(copying: [])

    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable public var pointer: UnsafeRawPointer { storage.base + offset }

    @inlinable public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: count == 0 ? nil : pointer, count: count) }

    public func slice(_ start: Int, _ length: Int) -> ByteView {
        ByteView(storage: storage, offset: offset + start, count: length)
    }

    @inlinable @inline(__always) public func load<T: FixedWidthInteger>(_ index: Int, as: T.Type) -> T {
        T(littleEndian: pointer.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
    }

    @inlinable @inline(__always) public func loadFloat(_ index: Int) -> Float {
        Float(bitPattern: load(index, as: UInt32.self))
    }

    @inlinable @inline(__always) public func loadDouble(_ index: Int) -> Double {
        Double(bitPattern: load(index, as: UInt64.self))
    }

    @inlinable @inline(__always) public func bit(_ index: Int) -> Bool {
        (pointer.load(fromByteOffset: index >> 3, as: UInt8.self) >> UInt8(index & 7)) & 1 == 1
    }

    public var bytes: [UInt8] { Array(buffer) }
}
