/// One Parquet column (a leaf of the schema) with its level bounds.
struct Leaf {
    let element: SchemaElement
    let path: String
    let maxDef: Int
    let maxRep: Int

    /// Bytes per value in `PhysicalValues`; 0 for byte arrays.
    var physicalWidth: Int {
        switch element.type! {
        case .boolean: return 1
        case .int32, .float: return 4
        case .int64, .double: return 8
        case .int96: return 12
        case .byteArray: return 0
        case .fixedLenByteArray: return element.typeLength
        }
    }
}

/// How a Parquet value becomes an Arrow value.
enum Conversion {
    /// The physical bytes are the Arrow bytes (int32, int64, float, double, date, timestamp).
    case copy
    case bool
    /// An INT32 narrowed to an 8- or 16-bit Arrow integer.
    case narrow(bits: Int, signed: Bool)
    /// INT96 (Impala/Spark timestamps): nanoseconds of the day, then the Julian day.
    case int96
    /// A decimal as float64 (precision ≤ 15, so its text is kept exactly) or as its exact text.
    case decimal(scale: Int, text: Bool)
    case float16
    case bytes
}

/// The Arrow shape of a Parquet subtree: where its nulls and list boundaries come from.
final class Shape {
    enum Kind {
        case leaf(column: Int, Conversion)
        case structure([Shape])
        case list(element: Shape, elementDef: Int, rep: Int)
    }

    let kind: Kind
    let type: ArrowType
    /// The definition level at which this node is not null.
    let def: Int
    /// The leaf columns below this node, in file order.
    let columns: [Int]
    /// A list read back as a fixed-size list of this many items (from the stored Arrow schema).
    var fixedSize: Int?

    init(_ kind: Kind, type: ArrowType, def: Int) {
        self.kind = kind
        self.type = type
        self.def = def
        switch kind {
        case .leaf(let column, _): columns = [column]
        case .structure(let children): columns = children.flatMap(\.columns)
        case .list(let element, _, _): columns = element.columns
        }
    }
}

/// Standard base64 (RFC 4648), as pyarrow stores the Arrow schema in Parquet metadata.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - 65
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - 71
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c + 4
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="), UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
            default: return nil
            }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }
}

/// Turns the footer's flat, depth-first schema list into a tree, numbers its leaves, and maps each node to Arrow.
struct SchemaBuilder {
    final class Node {
        let element: SchemaElement
        var children: [Node] = []
        let def: Int
        let rep: Int
        let path: [String]
        var column = -1

        init(_ element: SchemaElement, def: Int, rep: Int, path: [String]) {
            self.element = element
            self.def = def
            self.rep = rep
            self.path = path
        }
    }

    let root: Node
    private(set) var leaves: [Leaf] = []
    private static let maxDepth = 64

    init(_ elements: [SchemaElement]) throws {
        guard let first = elements.first else { throw FormatError.malformedParquet("the footer has an empty schema") }
        root = Node(first, def: 0, rep: 0, path: [])
        var index = 1
        var leaves: [Leaf] = []
        func children(of node: Node, count: Int, depth: Int) throws {
            guard depth <= Self.maxDepth else { throw FormatError.malformedParquet("the schema nests over \(Self.maxDepth) levels") }
            for _ in 0..<count {
                guard index < elements.count else {
                    throw FormatError.malformedParquet("the schema declares more children than its \(elements.count) elements")
                }
                let e = elements[index]
                index += 1
                let def = node.def + (e.repetition == .required ? 0 : 1)
                let rep = node.rep + (e.repetition == .repeated ? 1 : 0)
                let child = Node(e, def: def, rep: rep, path: node.path + [e.name])
                node.children.append(child)
                if e.numChildren > 0 || e.type == nil {
                    guard e.type == nil else { throw FormatError.malformedParquet("schema element '\(e.name)' has both a type and children") }
                    try children(of: child, count: e.numChildren, depth: depth + 1)
                } else {
                    if e.type == .fixedLenByteArray && (e.typeLength <= 0 || e.typeLength > 1 << 20) {
                        throw FormatError.malformedParquet("FIXED_LEN_BYTE_ARRAY column '\(e.name)' has length \(e.typeLength)")
                    }
                    child.column = leaves.count
                    leaves.append(Leaf(element: e, path: child.path.joined(separator: "."), maxDef: def, maxRep: rep))
                }
            }
        }
        try children(of: root, count: first.numChildren, depth: 1)
        guard index == elements.count else { throw FormatError.malformedParquet("the schema has \(elements.count - index) elements outside its tree") }
        self.leaves = leaves
    }

    /// The Arrow field and shape of `node`. `asElement`: a repeated node standing for one element of its list.
    func shape(_ node: Node, asElement: Bool = false) throws -> (Field, Shape) {
        let e = node.element
        if e.repetition == .repeated && !asElement {
            // A repeated field with no LIST around it: a required list of required elements.
            let (item, element) = try shape(node, asElement: true)
            let type = ArrowType.list(item)
            return (Field(name: e.name, type: type, nullable: false),
                    Shape(.list(element: element, elementDef: node.def, rep: node.rep), type: type, def: node.def - 1))
        }
        let nullable = e.repetition == .optional
        let name = asElement ? "item" : e.name
        if e.type == nil {
            let annotation = e.annotation
            if annotation == .list || annotation == .map, node.children.count == 1, node.children[0].element.repetition == .repeated {
                let repeated = node.children[0]
                let elementNode: Node
                if annotation == .map || repeated.element.type != nil || repeated.children.count != 1
                    || repeated.element.name == "array" || repeated.element.name == e.name + "_tuple" {
                    elementNode = repeated
                } else {
                    elementNode = repeated.children[0]
                }
                var (item, element) = try shape(elementNode, asElement: elementNode === repeated)
                item.name = annotation == .map ? "entries" : "item"
                if elementNode === repeated { item.nullable = false }
                let type = ArrowType.list(item)
                return (Field(name: name, type: type, nullable: nullable),
                        Shape(.list(element: element, elementDef: repeated.def, rep: repeated.rep), type: type, def: node.def))
            }
            guard !node.children.isEmpty else { throw FormatError.unsupportedParquet("column '\(node.path.joined(separator: "."))' is a group with no fields") }
            var fields: [Field] = []
            var shapes: [Shape] = []
            for child in node.children {
                let (f, s) = try shape(child)
                fields.append(f)
                shapes.append(s)
            }
            let type = ArrowType.structType(fields)
            return (Field(name: name, type: type, nullable: nullable && !asElement), Shape(.structure(shapes), type: type, def: node.def))
        }
        let (type, conversion, metadata) = try Self.arrowType(of: e, path: node.path.joined(separator: "."))
        return (Field(name: name, type: type, nullable: nullable && !asElement, metadata: metadata),
                Shape(.leaf(column: node.column, conversion), type: type, def: node.def))
    }

    /// The Arrow type a physical type and its annotation read as.
    static func arrowType(of e: SchemaElement, path: String) throws -> (ArrowType, Conversion, [String: String]) {
        let physical = e.type!
        let annotation = e.annotation
        func note(_ text: String) -> [String: String] { ["parquet.logical_type": text] }
        if case .decimal(let precision, let scale) = annotation {
            guard precision > 0, scale >= 0, scale <= precision else {
                throw FormatError.malformedParquet("column '\(path)' is DECIMAL(\(precision), \(scale))")
            }
            guard physical == .int32 || physical == .int64 || physical == .byteArray || physical == .fixedLenByteArray else {
                throw FormatError.malformedParquet("column '\(path)' is DECIMAL stored as \(physical.name)")
            }
            let text = precision > 15
            return (text ? .utf8 : .float64, .decimal(scale: scale, text: text), note("DECIMAL(\(precision), \(scale))"))
        }
        switch physical {
        case .boolean: return (.bool, .bool, [:])
        case .int32:
            switch annotation {
            case .date: return (.date32, .copy, [:])
            case .integer(let bits, let signed) where bits == 8 || bits == 16: return (signed ? (bits == 8 ? .int8 : .int16) : (bits == 8 ? .uint8 : .uint16), .narrow(bits: bits, signed: signed), [:])
            case .integer(32, false): return (.uint32, .copy, [:])
            case .time(let unit, _): return (.int32, .copy, note("TIME(\(unit.name))"))
            default: return (.int32, .copy, [:])
            }
        case .int64:
            switch annotation {
            case .integer(64, false): return (.uint64, .copy, [:])
            case .timestamp(let unit, let utc): return (.timestamp(unit, timeZone: utc ? "UTC" : nil), .copy, [:])
            case .time(let unit, _): return (.int64, .copy, note("TIME(\(unit.name))"))
            default: return (.int64, .copy, [:])
            }
        case .int96: return (.timestamp(.nanosecond, timeZone: nil), .int96, note("INT96"))
        case .float: return (.float32, .copy, [:])
        case .double: return (.float64, .copy, [:])
        case .byteArray:
            switch annotation {
            case .string, .enumeration, .json: return (.utf8, .bytes, annotation == .string ? [:] : note(annotation == .json ? "JSON" : "ENUM"))
            case .bson: return (.binary, .bytes, note("BSON"))
            default: return (.binary, .bytes, [:])
            }
        case .fixedLenByteArray:
            switch annotation {
            case .float16 where e.typeLength == 2: return (.float32, .float16, note("FLOAT16"))
            case .uuid: return (.binary, .bytes, note("UUID"))
            default: return (.binary, .bytes, note("FIXED_LEN_BYTE_ARRAY(\(e.typeLength))"))
            }
        }
    }
}
