import LoamFormat

/// Turns one text cell (CSV) into a value appended to a column builder.
/// Throws a message that the caller places at a line and column.
enum CellParser {
    struct Failure: Error { let message: String }

    @inline(__always) static func isValidUTF8(_ b: UnsafeRawBufferPointer) -> Bool {
        // ASCII fast path, eight bytes at a time.
        var i = 0
        let n = b.count
        if let p = b.baseAddress {
            while i + 8 <= n {
                if p.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
        }
        while i < n { if b[i] >= 0x80 { return String(validating: b, as: UTF8.self) != nil }; i += 1 }
        return true
    }

    /// What a column's cells parse as: a flat enum, decided once per column,
    /// so the per-cell switch does not touch the (indirect) `ArrowType`.
    enum Kind {
        case int64, int32, otherInteger, uint64, float64, float32, string, binary, bool, date32
        case timestamp(TimeUnit)
        case json

        init(_ type: ArrowType) {
            switch type {
            case .int64: self = .int64
            case .int32: self = .int32
            case .int8, .int16, .uint8, .uint16, .uint32: self = .otherInteger
            case .uint64: self = .uint64
            case .float64: self = .float64
            case .float32: self = .float32
            case .utf8, .largeUtf8: self = .string
            case .binary, .largeBinary: self = .binary
            case .bool: self = .bool
            case .date32: self = .date32
            case .timestamp(let unit, _): self = .timestamp(unit)
            case .list, .fixedSizeList, .structType: self = .json
            }
        }
    }

    static func append(_ b: UnsafeRawBufferPointer, to builder: ArrayBuilder) throws {
        try append(b, kind: Kind(builder.type), to: builder)
    }

    @inline(__always)
    static func append(_ b: UnsafeRawBufferPointer, kind: Kind, to builder: ArrayBuilder) throws {
        switch kind {
        case .int64:
            guard let v = NumberParsing.int64(b) else { throw invalid(b, builder.type) }
            builder.appendInt64(v)
        case .int32:
            guard let v = NumberParsing.int64(b), let n = Int32(exactly: v) else { throw invalid(b, builder.type) }
            builder.appendInt32(n)
        case .otherInteger:
            guard let v = NumberParsing.int64(b) else { throw invalid(b, builder.type) }
            do { try builder.append(.int(v)) } catch { throw invalid(b, builder.type) }
        case .uint64:
            guard let v = UInt64(String(decoding: b, as: UTF8.self)) else { throw invalid(b, builder.type) }
            builder.appendInt64(Int64(bitPattern: v))
        case .float64:
            guard let v = NumberParsing.double(b) else { throw invalid(b, builder.type) }
            builder.appendDouble(v)
        case .float32:
            guard let v = NumberParsing.double(b) else { throw invalid(b, builder.type) }
            builder.appendFloat(Float(v))
        case .string:
            guard isValidUTF8(b) else { throw Failure(message: "invalid UTF-8 text; re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)") }
            builder.appendBytes(b)
        case .binary:
            builder.appendBytes(b)
        case .bool:
            guard let v = parseBool(b) else { throw invalid(b, builder.type) }
            builder.appendBool(v)
        case .date32:
            guard let days = CalendarMath.parseDate(b) else { throw invalid(b, builder.type, hint: "dates are written YYYY-MM-DD") }
            builder.appendInt32(Int32(days))
        case .timestamp(let unit):
            if let ticks = CalendarMath.parseTimestamp(b, perSecond: unit.perSecond) ?? NumberParsing.int64(b) {
                builder.appendInt64(ticks)
            } else {
                throw invalid(b, builder.type, hint: "timestamps are written YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM] or as integer \(unit.name) since 1970")
            }
        case .json:
            let type = builder.type
            let json: JSONValue
            do { json = try JSONParser.parse(b) } catch {
                throw Failure(message: "'\(preview(b))' is not JSON (\(error)); \(type.name) cells are written as JSON, e.g. \"[1, 2, 3]\"")
            }
            do { try builder.append(try JSONConversion.value(json, as: type)) } catch {
                throw Failure(message: "\(error)")
            }
        }
    }

    static func parseBool(_ b: UnsafeRawBufferPointer) -> Bool? {
        switch String(decoding: b, as: UTF8.self).lowercased() {
        case "true", "t", "yes", "y", "1": return true
        case "false", "f", "no", "n", "0": return false
        default: return nil
        }
    }

    static func preview(_ b: UnsafeRawBufferPointer) -> String {
        let s = String(decoding: b.prefix(40), as: UTF8.self)
        return b.count > 40 ? s + "…" : s
    }

    static func invalid(_ b: UnsafeRawBufferPointer, _ type: ArrowType, hint: String? = nil) -> Failure {
        Failure(message: "'\(preview(b))' is not a valid \(type.name)" + (hint.map { " (\($0))" } ?? ""))
    }
}

/// Infers a CSV column's type from sample cells: the narrowest of int64,
/// float64, bool, date32, timestamp[us] and string that every cell fits.
struct CSVColumnInference {
    private var couldBeInt = true, couldBeFloat = true, couldBeBool = true, couldBeDate = true, couldBeTimestamp = true
    private var sawValue = false

    mutating func observe(_ b: UnsafeRawBufferPointer) {
        sawValue = true
        if couldBeInt, NumberParsing.int64(b) == nil { couldBeInt = false }
        if couldBeFloat, !couldBeInt, NumberParsing.double(b) == nil { couldBeFloat = false }
        if couldBeBool, CellParser.parseBool(b) == nil || b.count == 1 && (b[0] == 0x30 || b[0] == 0x31) { couldBeBool = false }
        if couldBeDate, CalendarMath.parseDate(b) == nil { couldBeDate = false }
        if couldBeTimestamp, CalendarMath.parseTimestamp(b, perSecond: 1_000_000) == nil { couldBeTimestamp = false }
    }

    var type: ArrowType {
        guard sawValue else { return .utf8 }
        if couldBeInt { return .int64 }
        if couldBeFloat { return .float64 }
        if couldBeBool { return .bool }
        if couldBeDate { return .date32 }
        if couldBeTimestamp { return .timestamp(.microsecond, timeZone: nil) }
        return .utf8
    }
}
