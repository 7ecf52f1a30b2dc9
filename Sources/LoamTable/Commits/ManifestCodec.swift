import LoamFormat
import LoamStorage

/// Manifests to and from canonical JSON (keys sorted, no white space) by
/// hand: every commit reads and writes one per changed dataset, and
/// Foundation's coder (~24 MB/s) would make commit time grow with the
/// number of fragments. The layout is the one FORMAT.md gives.
enum ManifestCodec {
    // MARK: Encoding

    static func encode(_ manifest: Manifest) -> [UInt8] {
        var out = JSONWriter()
        out.object {
            $0.field("format") { $0.int(manifest.format) }
            $0.field("fragments") { w in w.array(manifest.fragments) { w, f in fragment(&w, f) } }
            $0.field("kind") { $0.string(manifest.kind) }
            $0.field("schema") { w in schema(&w, manifest.schema) }
        }
        return out.bytes
    }

    private static func fragment(_ w: inout JSONWriter, _ f: FragmentEntry) {
        w.object {
            $0.field("bytes") { $0.int(f.bytes) }
            if !f.checksums.isEmpty {
                $0.field("checksums") { w in
                    w.object { for key in f.checksums.keys.sorted() { $0.field(key) { $0.string(XXHash64.text(f.checksums[key]!)) } } }
                }
            }
            $0.field("columnIDs") { w in w.array(f.columnIDs) { w, id in w.int(id) } }
            $0.field("deletedRows") { $0.int(f.deletedRows) }
            if let d = f.deletions { $0.field("deletions") { $0.string(d.hex) } }
            if let layout = f.layout { $0.field("layout") { w in w.array(layout) { w, offset in w.int(offset) } } }
            $0.field("maxRowID") { $0.uint(f.maxRowID) }
            $0.field("minRowID") { $0.uint(f.minRowID) }
            $0.field("object") { $0.string(f.object.hex) }
            $0.field("rows") { $0.int(f.rows) }
            $0.field("statistics") { w in
                w.object {
                    for key in f.statistics.keys.sorted() {
                        let stats = f.statistics[key]!
                        $0.field(key) { w in
                            w.object {
                                if let max = stats.max { $0.field("max") { w in stat(&w, max) } }
                                if let min = stats.min { $0.field("min") { w in stat(&w, min) } }
                                $0.field("nullCount") { $0.int(stats.nullCount) }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func stat(_ w: inout JSONWriter, _ v: StatValue) {
        switch v {
        case .bool(let b): w.raw(b ? "true" : "false")
        case .int(let i): w.raw(String(i))
        case .uint(let u): w.uint(u)
        case .float(let d): w.raw(String(d))
        case .string(let s): w.string(s)
        }
    }

    private static func schema(_ w: inout JSONWriter, _ s: TableSchema) {
        w.object {
            $0.field("columns") { w in w.array(s.columns) { w, c in column(&w, c) } }
            if let metadata = s.metadata { $0.field("metadata") { w in strings(&w, metadata) } }
            $0.field("nextColumnID") { $0.int(s.nextColumnID) }
        }
    }

    private static func column(_ w: inout JSONWriter, _ c: ColumnSpec) {
        w.object {
            if let children = c.children { $0.field("children") { w in w.array(children) { w, child in column(&w, child) } } }
            if let id = c.id { $0.field("id") { $0.int(id) } }
            if let metadata = c.metadata { $0.field("metadata") { w in strings(&w, metadata) } }
            $0.field("name") { $0.string(c.name) }
            $0.field("nullable") { $0.raw(c.nullable ? "true" : "false") }
            if let size = c.size { $0.field("size") { $0.int(size) } }
            if let timezone = c.timezone { $0.field("timezone") { $0.string(timezone) } }
            $0.field("type") { $0.string(c.type) }
            if let unit = c.unit { $0.field("unit") { $0.string(unit) } }
        }
    }

    private static func strings(_ w: inout JSONWriter, _ map: [String: String]) {
        w.object { for key in map.keys.sorted() { $0.field(key) { $0.string(map[key]!) } } }
    }

    // MARK: Decoding

    static func decode(_ bytes: UnsafeRawBufferPointer, what: String) throws -> Manifest {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw TableError.corrupt("\(what) is not valid JSON: \(error)") }
        func fail(_ detail: String) -> TableError { TableError.corrupt("\(what): \(detail)") }
        guard json["kind"]?.stringValue == "manifest" else { throw fail("not a manifest") }
        guard let schemaJSON = json["schema"], let columnsJSON = schemaJSON["columns"]?.arrayValue,
              let next = schemaJSON["nextColumnID"]?.intValue else { throw fail("no schema") }
        var schema = TableSchema(fields: [])
        schema.columns = try columnsJSON.map { try column($0, fail) }
        schema.nextColumnID = next
        schema.metadata = try schemaJSON["metadata"].map { try strings($0, fail) }
        var manifest = Manifest(schema: schema)
        manifest.format = json["format"]?.intValue ?? 1
        for f in json["fragments"]?.arrayValue ?? [] {
            guard let object = f["object"]?.stringValue, let rows = f["rows"]?.intValue,
                  let columnIDs = f["columnIDs"]?.arrayValue?.compactMap(\.intValue),
                  let minRowID = unsigned(f["minRowID"]), let maxRowID = unsigned(f["maxRowID"]) else {
                throw fail("a fragment entry lacks object, rows, columnIDs or row-id bounds")
            }
            var statistics: [String: ColumnStatistics] = [:]
            for (key, s) in f["statistics"]?.objectValue ?? [] {
                statistics[key] = ColumnStatistics(min: try s["min"].map { try stat($0, fail) }, max: try s["max"].map { try stat($0, fail) },
                                                   nullCount: s["nullCount"]?.intValue ?? 0)
            }
            var checksums: [String: UInt64] = [:]
            for (key, value) in f["checksums"]?.objectValue ?? [] {
                guard let text = value.stringValue, text.count == 16, let sum = UInt64(text, radix: 16) else {
                    throw fail("checksum '\(key)' of fragment \(object.prefix(12)) is not 16 hex digits")
                }
                checksums[key] = sum
            }
            var layout: [Int]?
            if let offsets = f["layout"]?.arrayValue {
                layout = offsets.compactMap(\.intValue)
                guard layout!.count == offsets.count, layout!.count == columnIDs.count + 2, zip(layout!, layout!.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                    throw fail("the layout of fragment \(object.prefix(12)) is not \(columnIDs.count + 2) rising offsets")
                }
            }
            manifest.fragments.append(FragmentEntry(
                object: try ObjectID(hex: object), rows: rows, columnIDs: columnIDs,
                deletions: try f["deletions"]?.stringValue.map { try ObjectID(hex: $0) }, deletedRows: f["deletedRows"]?.intValue ?? 0,
                minRowID: minRowID, maxRowID: maxRowID, statistics: statistics, bytes: f["bytes"]?.intValue ?? 0, checksums: checksums, layout: layout))
        }
        return manifest
    }

    private static func unsigned(_ v: JSONValue?) -> UInt64? {
        switch v {
        case .int(let i)?: return UInt64(exactly: i)
        case .uint(let u)?: return u
        default: return nil
        }
    }

    private static func stat(_ v: JSONValue, _ fail: (String) -> TableError) throws -> StatValue {
        switch v {
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .uint(u)
        case .double(let d): return .float(d)
        case .string(let s): return .string(s)
        default: throw fail("a statistic is not a number, string or bool")
        }
    }

    private static func strings(_ v: JSONValue, _ fail: (String) -> TableError) throws -> [String: String] {
        guard let members = v.objectValue else { throw fail("metadata is not an object") }
        var out: [String: String] = [:]
        for (key, value) in members { out[key] = value.stringValue ?? "" }
        return out
    }

    private static func column(_ v: JSONValue, _ fail: (String) -> TableError) throws -> ColumnSpec {
        guard let name = v["name"]?.stringValue, let type = v["type"]?.stringValue else { throw fail("a column lacks name or type") }
        var spec = ColumnSpec(field: Field(name: name, type: .utf8))
        spec.type = type
        spec.id = v["id"]?.intValue
        spec.nullable = v["nullable"]?.boolValue ?? true
        spec.unit = v["unit"]?.stringValue
        spec.timezone = v["timezone"]?.stringValue
        spec.size = v["size"]?.intValue
        spec.children = try v["children"]?.arrayValue.map { try $0.map { try column($0, fail) } }
        spec.metadata = try v["metadata"].map { try strings($0, fail) }
        return spec
    }
}

/// Appends compact JSON to a byte buffer.
struct JSONWriter {
    var bytes: [UInt8] = []
    private var needsComma = [false]

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }
    mutating func int(_ v: Int) { raw(String(v)) }
    mutating func uint(_ v: UInt64) { raw(String(v)) }
    mutating func string(_ s: String) { raw(JSONText.quote(s)) }

    private mutating func separate() {
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
        body(&self)
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func field(_ key: String, _ value: (inout JSONWriter) -> Void) {
        separate()
        string(key)
        bytes.append(UInt8(ascii: ":"))
        needsComma.append(false)
        value(&self)
        needsComma.removeLast()
    }

    mutating func array<T>(_ items: [T], _ each: (inout JSONWriter, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            needsComma.append(false)
            each(&self, item)
            needsComma.removeLast()
        }
        bytes.append(UInt8(ascii: "]"))
    }
}
