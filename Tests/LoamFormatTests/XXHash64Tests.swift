import LoamFormat
import Testing

@Suite struct XXHash64Tests {
    /// Known answers from the reference implementation (the `xxhash` package 4.1.0 on PyPI, which wraps
    /// Yann Collet's C library): short inputs, every tail length, and the 32-byte stripes with a seed.
    @Test func matchesTheReferenceImplementation() {
        #expect(XXHash64.text(XXHash64.hash([])) == "ef46db3751d8e999")
        #expect(XXHash64.text(XXHash64.hash(Array("a".utf8))) == "d24ec4f1a98c6e5b")
        #expect(XXHash64.text(XXHash64.hash(Array("abc".utf8))) == "44bc2cf5ad770999")
        let bytes = (0..<3).flatMap { _ in (0..<256).map { UInt8($0) } }
        #expect(XXHash64.text(XXHash64.hash(bytes, seed: 7)) == "b1e10f6c5294cd6b")
        let mixed = (0..<45).map { UInt8($0 * 31 % 251) }
        #expect(XXHash64.text(XXHash64.hash(mixed)) == "0e6c000e0b7fb490")
    }

    @Test func aColumnChecksumCoversEveryBufferAndChild() {
        let list = ArrayBuilder(type: .list(Field(name: "item", type: .int64)))
        try? list.append(.list([.int(1), .int(2)]))
        try? list.append(.null)
        let a = list.finish()
        let b = ArrayBuilder(type: .list(Field(name: "item", type: .int64)))
        try? b.append(.list([.int(1), .int(3)]))  // differs only in the child's values
        try? b.append(.null)
        #expect(a.checksum() != b.finish().checksum())
        #expect(a.checksum() == a.checksum())
    }
}
