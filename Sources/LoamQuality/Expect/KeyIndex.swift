import Foundation
import Loam
import LoamFormat
import LoamStorage
import LoamTable

/// The key index of `unique` gates: for each fragment (as its live rows stand) and each set of key columns,
/// the sorted 64-bit hashes of its rows' key tuples (rows with a NULL key left out), built once from the key
/// columns and kept in the `QualityStore`. A gate on an append hashes the new rows' keys and looks them up
/// in the parent's fragments' indexes: no hit means no new key is an old one, so the append keeps the key
/// unique without reading the old rows. A hit (a duplicate, or rarely two keys sharing a hash) sends the
/// check to SQL, which counts exactly.
///
/// Values that SQL holds equal hash equal: integers by value, floats as doubles with −0 as 0 and every NaN
/// as one, strings and binaries by their bytes. So a duplicate is never missed; at worst a shared hash
/// costs an exact check.
struct KeyIndex {
    let repository: Repository
    let store: any QualityStore

    /// The fragments whose rows may share a key over `columns` with a row of `added` (fragments of `manifest`):
    /// `added` themselves, and each other fragment whose index holds one of their keys' hashes. Empty when every
    /// new key's hash is new, and among the new rows only once: the key stays unique. Nil when a key column's type
    /// has no key hash (lists, vectors, structs), for SQL to decide over every row.
    func mayRepeat(_ columns: [String], in manifest: Manifest, added: Set<ObjectID>) async throws -> [FragmentEntry]? {
        let schema = manifest.schema
        guard let ids = try Self.keyIDs(columns, schema) else { return nil }
        let entries = manifest.fragments.filter { $0.liveRows > 0 }
        let new = entries.filter { added.contains($0.object) }
        var fresh: [UInt64] = []
        for entry in new { fresh += try await hashes(of: entry, ids, schema).values }
        fresh.sort()
        let old = entries.filter { !added.contains($0.object) }
        var hits: [FragmentEntry] = [], next = 0
        let probes = fresh
        try await concurrentlyInOrder(old.count, produce: { [self] i in
            try await hashes(of: old[i], ids, schema).intersects(probes)
        }, consume: { found in  // in order: the `next`th old fragment's answer
            if found { hits.append(old[next]) }
            next += 1
            return true
        })
        let repeatedAmongNew = zip(fresh, fresh.dropFirst()).contains { $0 == $1 }
        return hits.isEmpty && !repeatedAmongNew ? [] : new + hits
    }

    /// The fragments whose rows may share a key over `columns` with another row of the dataset: those holding a
    /// key hash that occurs twice across every fragment's index (one merge of the sorted indexes). Empty when no
    /// hash repeats: the key is unique without a row read. Nil when a key column's type has no key hash.
    func repeats(_ columns: [String], in manifest: Manifest) async throws -> [FragmentEntry]? {
        let schema = manifest.schema
        guard let ids = try Self.keyIDs(columns, schema) else { return nil }
        let entries = manifest.fragments.filter { $0.liveRows > 0 }
        var indexes: [KeyHashes] = []
        try await concurrentlyInOrder(entries.count, produce: { [self] i in try await hashes(of: entries[i], ids, schema) },
                                      consume: { indexes.append($0); return true })
        return KeyHashes.repeated(indexes).sorted().map { entries[$0] }
    }

    /// A fragment's key hashes: kept, or computed from its key columns and kept.
    func hashes(of entry: FragmentEntry, _ ids: [Int], _ schema: TableSchema) async throws -> KeyHashes {
        let key = "keys/" + ids.map(String.init).joined(separator: ",") + "/" + entry.profileKey
        if let kept = try await store.keyHashes(key) { return kept }
        let values: [UInt64]
        if ids.allSatisfy({ entry.columnIDs.contains($0) }) {
            // Hashed from the stored values: a masking policy is for what is shown, not for equality.
            let data = try await ReadPolicy.$role.withValue(nil) {
                try await FragmentReader(objects: repository.objects).read(entry, schema: schema, columnIDs: ids)
            }
            values = Self.hashes(data.columns, rows: data.live).sorted()
        } else {
            values = []  // a key column the fragment predates: NULL in every row, so no key
        }
        let made = KeyHashes(values)
        try await store.saveKeyHashes(made, key: key)
        return made
    }

    /// The key columns' ids, or nil when one's type has no key hash (lists, vectors, structs) or is not there.
    static func keyIDs(_ columns: [String], _ schema: TableSchema) throws -> [Int]? {
        var ids: [Int] = []
        for name in columns {
            guard let column = schema.columns.first(where: { $0.name == name }), let id = column.id else { return nil }
            switch try column.field().type {
            case .fixedSizeList, .list, .structType: return nil
            default: ids.append(id)
            }
        }
        return ids
    }

    /// The hash of each row's key tuple at the offsets `rows` (all when nil), rows with a NULL key left out.
    static func hashes(_ arrays: [ArrowArray], rows live: [Int]?) -> [UInt64] {
        let rows = live ?? Array(0..<(arrays.first?.length ?? 0))
        var out: [UInt64] = []
        out.reserveCapacity(rows.count)
        var parts = [UInt64](repeating: 0, count: arrays.count)
        rows: for i in rows {
            for (k, array) in arrays.enumerated() {
                guard !array.isNull(i) else { continue rows }
                parts[k] = hash(array, i)
            }
            out.append(parts.count == 1 ? parts[0] : parts.withUnsafeBytes { XXHash64.hash($0, seed: 7) })
        }
        return out
    }

    /// One value's hash: equal for values SQL compares equal.
    @inline(__always) static func hash(_ array: ArrowArray, _ i: Int) -> UInt64 {
        let data = array.buffers.count > 1 ? array.buffers[1] : ByteView.empty
        switch array.type {
        case .int8: return ColumnProfile.hash(UInt64(bitPattern: Int64(data.load(i, as: Int8.self))))
        case .int16: return ColumnProfile.hash(UInt64(bitPattern: Int64(data.load(i, as: Int16.self))))
        case .int32, .date32: return ColumnProfile.hash(UInt64(bitPattern: Int64(data.load(i, as: Int32.self))))
        case .int64, .timestamp: return ColumnProfile.hash(UInt64(bitPattern: data.load(i, as: Int64.self)))
        case .uint8: return ColumnProfile.hash(UInt64(data.load(i, as: UInt8.self)))
        case .uint16: return ColumnProfile.hash(UInt64(data.load(i, as: UInt16.self)))
        case .uint32: return ColumnProfile.hash(UInt64(data.load(i, as: UInt32.self)))
        case .uint64: return ColumnProfile.hash(data.load(i, as: UInt64.self))
        case .float32, .float64:
            let v = array.type == .float64 ? data.loadDouble(i) : Double(data.loadFloat(i))
            return ColumnProfile.hash(v.isNaN ? Double.nan.bitPattern : (v == 0 ? 0 : v.bitPattern))
        case .bool: return ColumnProfile.hash(data.bit(i) ? 1 : 0)
        case .utf8, .largeUtf8, .binary, .largeBinary: return XXHash64.hash(array.bytes(at: i))
        case .fixedSizeList, .list, .structType: return 0  // no key hash: `keyIDs` keeps these out
        }
    }
}

/// One fragment's sorted key hashes, as kept: "LKEY", a little-endian u32 format (1), a u64 count, then the
/// hashes as little-endian u64s in ascending order (duplicates kept). Read in place (memory-mapped locally).
public struct KeyHashes: Sendable {
    static let magic: [UInt8] = Array("LKEY".utf8)
    static let format: UInt32 = 1
    static let header = 16

    public let bytes: ByteView
    public var count: Int { (bytes.count - Self.header) / 8 }

    public init(_ sorted: [UInt64]) {
        var out = Self.magic
        withUnsafeBytes(of: Self.format.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(sorted.count).littleEndian) { out.append(contentsOf: $0) }
        sorted.map(\.littleEndian).withUnsafeBytes { out.append(contentsOf: $0) }
        bytes = ByteView(copying: out)
    }

    /// The kept bytes, or nil when they are not a key index of this format (computed again then).
    public init?(kept: ByteView) {
        guard kept.count >= Self.header, Array(kept.slice(0, 4).buffer) == Self.magic, kept.load(1, as: UInt32.self) == Self.format,
              kept.load(1, as: UInt64.self) == UInt64((kept.count - Self.header) / 8), (kept.count - Self.header) % 8 == 0 else { return nil }
        bytes = kept
    }

    @inline(__always) func value(_ i: Int) -> UInt64 { bytes.load(2 + i, as: UInt64.self) }  // past the 16-byte header

    var values: [UInt64] { (0..<count).map(value) }

    /// The positions in `lists` of those holding a hash that occurs twice (in one list or across two): a k-way
    /// merge through a min-heap of each list's next hash.
    static func repeated(_ lists: [KeyHashes]) -> Set<Int> {
        var heap: [(value: UInt64, list: Int, at: Int)] = []
        func less(_ a: Int, _ b: Int) -> Bool { heap[a].value < heap[b].value }
        func up(_ i: Int) {
            var i = i
            while i > 0, less(i, (i - 1) / 2) { heap.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
        }
        func down(_ i: Int) {
            var i = i
            while true {
                let (l, r) = (2 * i + 1, 2 * i + 2)
                var m = i
                if l < heap.count, less(l, m) { m = l }
                if r < heap.count, less(r, m) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for (n, list) in lists.enumerated() where list.count > 0 {
            heap.append((list.value(0), n, 0))
            up(heap.count - 1)
        }
        var found = Set<Int>()
        var last: (value: UInt64, list: Int)?
        while let top = heap.first {
            if let last, last.value == top.value { found.insert(last.list); found.insert(top.list) }
            last = (top.value, top.list)
            let next = top.at + 1
            if next < lists[top.list].count {
                heap[0] = (lists[top.list].value(next), top.list, next)
            } else {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { down(0) }
        }
        return found
    }

    /// Whether any of `probes` (ascending) is here: a binary search per probe, each starting where the last ended.
    func intersects(_ probes: [UInt64]) -> Bool {
        var low = 0
        for probe in probes {
            var high = count
            while low < high {
                let mid = (low + high) / 2
                if value(mid) < probe { low = mid + 1 } else { high = mid }
            }
            if low == count { return false }
            if value(low) == probe { return true }
        }
        return false
    }
}
