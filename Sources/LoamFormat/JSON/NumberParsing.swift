#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses numbers straight from bytes, without building a String.
public enum NumberParsing {
    public static func int64(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        let n = bytes.count
        guard n > 0 else { return nil }
        var negative = false
        if bytes[0] == UInt8(ascii: "-") { negative = true; i = 1 } else if bytes[0] == UInt8(ascii: "+") { i = 1 }
        guard i < n, n - i <= 19 else { return n - i > 19 ? wide(bytes) : nil }
        var value: Int64 = 0
        while i < n {
            let d = bytes[i] &- 48
            guard d < 10 else { return nil }
            value = value &* 10 &+ Int64(d)
            i += 1
        }
        if value < 0 { return negative && value == Int64.min ? value : wide(bytes) }
        return negative ? -value : value
    }

    /// Digits that may overflow: checked arithmetic.
    private static func wide(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        var negative = false
        if bytes.first == UInt8(ascii: "-") { negative = true; i = 1 }
        guard i < bytes.count else { return nil }
        var value: Int64 = 0
        while i < bytes.count {
            let d = bytes[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        return value
    }

    public static func double(_ bytes: UnsafeRawBufferPointer) -> Double? {
        if let fast = fastDouble(bytes) { return fast }
        return slowDouble(bytes)
    }

    #if arch(x86_64)
    /// 10^0 … 10^27, each exact in Float80 (5^27 < 2^63).
    private static let powersOfTen: [Float80] = {
        var p: [Float80] = [1]
        for _ in 1...27 { p.append(p[p.count - 1] * 10) }
        return p
    }()
    #endif

    /// Decimal text with at most 19 significant digits and a small exponent,
    /// computed exactly rounded: w and 10^k are exact in Float80, one Float80
    /// operation rounds once, and rounding that to Double can only go wrong
    /// when the Float80 result lands exactly on a Double midpoint — then this
    /// declines and strtod decides.
    @inline(__always)
    public static func fastDouble(_ b: UnsafeRawBufferPointer) -> Double? {
        #if arch(x86_64)
        let n = b.count
        var i = 0
        var negative = false
        if i < n, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { negative = b[i] == UInt8(ascii: "-"); i += 1 }
        var w: UInt64 = 0
        var significant = 0, digits = 0, exponent = 0
        while i < n, b[i] &- 48 < 10 {
            let d = UInt64(b[i] &- 48)
            if significant > 0 || d != 0 { significant += 1 }
            w = w &* 10 &+ d
            digits += 1
            i += 1
        }
        if i < n, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, b[i] &- 48 < 10 {
                let d = UInt64(b[i] &- 48)
                if significant > 0 || d != 0 { significant += 1 }
                w = w &* 10 &+ d
                digits += 1
                exponent -= 1
                i += 1
            }
        }
        guard digits > 0, significant <= 19 else { return nil }
        if i < n, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var expNegative = false
            if i < n, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { expNegative = b[i] == UInt8(ascii: "-"); i += 1 }
            var e = 0, expDigits = 0
            while i < n, b[i] &- 48 < 10, expDigits < 4 { e = e * 10 + Int(b[i] &- 48); expDigits += 1; i += 1 }
            guard expDigits > 0 else { return nil }
            exponent += expNegative ? -e : e
        }
        guard i == n, exponent >= -27, exponent <= 27 else { return nil }
        if w == 0 { return negative ? -0.0 : 0.0 }
        let x = Float80(w)
        let y = exponent < 0 ? x / powersOfTen[-exponent] : x * powersOfTen[exponent]
        // Bits 0…10 of the 64-bit significand are what Double drops; 0x400 is its midpoint.
        if y.significandBitPattern & 0x7FF == 0x400 { return nil }
        let d = Double(y)
        return negative ? -d : d
        #else
        return nil
        #endif
    }

    public static func slowDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
        let n = bytes.count
        guard n > 0, n < 400 else { return nil }
        // strtod accepts things JSON and CSV do not ("0x1p3", " 1", "infinity"): allow digits, sign, '.', 'e' only,
        // plus the words nan/inf which CSV producers emit.
        for byte in bytes {
            switch byte {
            case 48...57, UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): continue
            default:
                let word = String(decoding: bytes, as: UTF8.self).lowercased()
                switch word {
                case "nan": return .nan
                case "inf", "+inf", "infinity": return .infinity
                case "-inf", "-infinity": return -.infinity
                default: return nil
                }
            }
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buffer -> Double? in
            for k in 0..<n { buffer[k] = CChar(bitPattern: bytes[k]) }
            buffer[n] = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(buffer.baseAddress!, &end)
            guard let end, end - buffer.baseAddress! == n else { return nil }
            return value
        }
    }
}
