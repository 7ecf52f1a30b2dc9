import Foundation

/// Finds personal data in one value, scanning its UTF-8 bytes once per detector with cheap byte tests first
/// (no regular expressions): emails around `@`; number-like runs classified as card (Luhn), SSN, IPv4, date
/// (of birth, by context), phone; IBANs by country length and mod-97; IPv6 by `inet_pton`; names by the shipped lists.
public struct PIIDetector: Sendable {
    /// What the column's name says about its values.
    public struct Column: Sendable {
        public let holdsNames: Bool
        public let holdsBirthDates: Bool
        public let holdsPhones: Bool
        public let holdsSSNs: Bool

        public init(name: String) {
            let c = name.lowercased()
            holdsNames = Names.isNameColumn(c)
            holdsBirthDates = Names.isBirthColumn(c)
            holdsPhones = c.contains("phone") || c.contains("mobile") || c == "tel" || c.hasPrefix("tel_") || c.contains("fax")
            holdsSSNs = c == "ssn" || c.contains("social_security")
        }

        public static let plain = Column(name: "")
    }

    public init() {}

    /// The kinds found in a text (a convenience over `findings`).
    public static func kinds(in text: String, column: Column = .plain) -> Set<PIIKind> {
        var t = text
        return t.withUTF8 { Set(findings(in: UnsafeRawBufferPointer($0), column: column).map(\.kind)) }
    }

    public static func findings(in b: UnsafeRawBufferPointer, column: Column = .plain) -> [PIIFinding] {
        var out: [PIIFinding] = []
        let n = b.count
        guard n > 0 else { return out }
        var hasAt = false, hasDigit = false, hasColon = false, hasUpper = false
        for c in b {
            if c == 0x40 { hasAt = true } else if c >= 0x30 && c <= 0x39 { hasDigit = true } else if c == 0x3A { hasColon = true }
            else if (c >= 0x41 && c <= 0x5A) || c >= 0xC0 { hasUpper = true }
        }
        var taken = [Bool](repeating: false, count: hasAt || hasDigit ? n : 0)
        func mark(_ kind: PIIKind, _ s: Int, _ e: Int) {
            out.append(PIIFinding(kind: kind, start: s, end: e))
            if !taken.isEmpty { for k in s..<e { taken[k] = true } }
        }
        if hasAt { emails(b, mark) }
        if hasDigit {
            ibans(b, taken: taken, mark)
            if hasColon { ipv6(b, taken: taken, mark) }
            numbers(b, column: column, taken: taken, mark)
        }
        if hasUpper || column.holdsNames { names(b, column: column, mark) }
        return out
    }

    // MARK: bytes

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    @inline(__always) static func isUpper(_ c: UInt8) -> Bool { c >= 0x41 && c <= 0x5A }
    @inline(__always) static func isLower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
    @inline(__always) static func isAlpha(_ c: UInt8) -> Bool { isUpper(c) || isLower(c) }
    @inline(__always) static func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || isDigit(c) }

    // MARK: email

    static func emails(_ b: UnsafeRawBufferPointer, _ mark: (PIIKind, Int, Int) -> Void) {
        func local(_ c: UInt8) -> Bool { isAlnum(c) || c == 0x2E || c == 0x5F || c == 0x25 || c == 0x2B || c == 0x2D }
        func domain(_ c: UInt8) -> Bool { isAlnum(c) || c == 0x2E || c == 0x2D }
        var i = 0
        while i < b.count {
            guard b[i] == 0x40 else { i += 1; continue }
            var s = i
            while s > 0 && local(b[s - 1]) { s -= 1 }
            while s < i && b[s] == 0x2E { s += 1 }
            var e = i + 1
            while e < b.count && domain(b[e]) { e += 1 }
            while e > i + 1 && (b[e - 1] == 0x2E || b[e - 1] == 0x2D) { e -= 1 }
            // The domain's last label is 2+ letters, after at least one dot, with no empty label.
            var lastDot = -1, doubleDot = false
            for k in (i + 1)..<max(i + 1, e) where b[k] == 0x2E { if lastDot == k - 1 || k == i + 1 { doubleDot = true }; lastDot = k }
            if s < i, lastDot > i + 1, !doubleDot, e - lastDot - 1 >= 2, (lastDot + 1..<e).allSatisfy({ isAlpha(b[$0]) }) {
                mark(.email, s, e)
            }
            i = max(e, i + 1)
        }
    }

    // MARK: numbers: card, SSN, IPv4, dates, phones

    static func numbers(_ b: UnsafeRawBufferPointer, column: Column, taken: [Bool], _ mark: (PIIKind, Int, Int) -> Void) {
        let n = b.count
        func separator(_ c: UInt8) -> Bool { c == 0x20 || c == 0x2D || c == 0x2E || c == 0x2F || c == 0x28 || c == 0x29 }
        var i = 0
        while i < n {
            let c = b[i]
            let opens = isDigit(c) || ((c == 0x2B || c == 0x28) && i + 1 < n && isDigit(b[i + 1]))
            // A run starts at a digit (or `+`, `(` before one) that does not continue a word or another number.
            guard opens, !taken[i], i == 0 || !(isAlnum(b[i - 1]) || b[i - 1] == 0x2E || b[i - 1] == 0x2D || b[i - 1] == 0x2F || b[i - 1] == 0x3A || b[i - 1] >= 0x80) else {
                i += 1
                continue
            }
            var j = i, lastDigit = -1
            var groups: [Int] = [], group = 0, seps: [UInt8] = []
            if c == 0x2B || c == 0x28 { j += 1 }
            while j < n {
                let x = b[j]
                if isDigit(x) { group += 1; lastDigit = j; j += 1; continue }
                // One separator (or ") " / ")-") between digit groups.
                if separator(x) && lastDigit == j - 1 || (x == 0x29 && lastDigit == j - 1) {
                    var k = j + 1
                    if x == 0x29 && k < n && (b[k] == 0x20 || b[k] == 0x2D) { k += 1 }
                    if k < n && (isDigit(b[k]) || (b[k] == 0x28 && k + 1 < n && isDigit(b[k + 1]))) && !taken[k] {
                        groups.append(group); group = 0; seps.append(x)
                        j = b[k] == 0x28 ? k + 1 : k
                        continue
                    }
                }
                break
            }
            groups.append(group)
            let end = lastDigit + 1
            defer { i = max(end, i + 1) }
            guard lastDigit >= 0, end >= n || !(isAlpha(b[end]) || b[end] >= 0x80) else { continue }
            let digits = groups.reduce(0, +)
            let plus = c == 0x2B
            let sepSet = Set(seps)
            // IPv4: four groups of 1–3 digits, dots only, each at most 255.
            if !plus && groups.count == 4 && sepSet == [0x2E] && groups.allSatisfy({ $0 >= 1 && $0 <= 3 }) {
                if octets(b, i, end).allSatisfy({ $0 <= 255 }) { mark(.ipv4, i, end) }
                continue
            }
            // Dates: y-m-d, d/m/y, m/d/y, d.m.y — a date of birth by the column or the words before it.
            if !plus && groups.count == 3 && sepSet.count == 1 && [0x2D, 0x2F, 0x2E].contains(seps[0]), isDate(b, i, end, groups) {
                if column.holdsBirthDates || birthWordBefore(b, i) { mark(.dateOfBirth, i, end) }
                continue
            }
            // SSN: 3-2-4 with dashes (or 9 digits in an SSN column).
            if !plus && ((groups == [3, 2, 4] && sepSet == [0x2D]) || (column.holdsSSNs && digits == 9 && groups.count == 1)) {
                if validSSN(digitsOf(b, i, end)) { mark(.ssn, i, end) }
                continue
            }
            // Cards: 13–19 digits, spaces or dashes only, a network's prefix, Luhn.
            if !plus && digits >= 13 && digits <= 19 && sepSet.isSubset(of: [0x20, 0x2D]) {
                let d = digitsOf(b, i, end)
                if luhn(d) && cardPrefix(d) { mark(.creditCard, i, end); continue }
            }
            // Phones: "+" and 8–15 digits; national numbers of 10–12 digits written in groups (or bare in a phone column).
            if plus && digits >= 8 && digits <= 15 {
                mark(.phone, i, end)
            } else if digits >= 10 && digits <= 12 && (groups.count >= 2 || c == 0x28) && !sepSet.contains(0x2F) {
                let d = digitsOf(b, i, end)
                let national = d.first == 0 || c == 0x28 || (d.count == 11 && d.first == 1) || groups == [3, 3, 4] || groups == [1, 3, 3, 4]
                // Dotted numbers are versions and builds unless grouped as phones are (415.555.2671, 06.12.34.56.78).
                let dotted = sepSet == [0x2E]
                if national && (!dotted || groups == [3, 3, 4] || groups == [1, 3, 3, 4] || groups == [2, 2, 2, 2, 2]) { mark(.phone, i, end) }
            } else if column.holdsPhones && digits >= 7 && digits <= 15 {
                mark(.phone, i, end)
            }
        }
    }

    static func digitsOf(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> [Int] {
        var d: [Int] = []
        d.reserveCapacity(e - s)
        for k in s..<e where isDigit(b[k]) { d.append(Int(b[k] - 0x30)) }
        return d
    }

    static func octets(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> [Int] {
        var out: [Int] = [], v = 0
        for k in s..<e { if isDigit(b[k]) { v = v * 10 + Int(b[k] - 0x30) } else { out.append(v); v = 0 } }
        out.append(v)
        return out
    }

    static func isDate(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int, _ groups: [Int]) -> Bool {
        let parts = octets(b, s, e)
        func ok(_ y: Int, _ m: Int, _ d: Int) -> Bool { y >= 1900 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 && d <= 31 }
        if groups == [4, 2, 2] || groups == [4, 1, 1] || groups == [4, 1, 2] || groups == [4, 2, 1] { return ok(parts[0], parts[1], parts[2]) }
        if groups[2] == 4 && groups[0] <= 2 && groups[1] <= 2 { return ok(parts[2], parts[1], parts[0]) || ok(parts[2], parts[0], parts[1]) }
        return false
    }

    /// "born", "birth", "DOB", "geboren", "né(e)" within the 32 bytes before a date.
    static func birthWordBefore(_ b: UnsafeRawBufferPointer, _ s: Int) -> Bool {
        let from = max(0, s - 32)
        guard from < s else { return false }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[from..<s]), as: UTF8.self).lowercased()
        return text.contains("born") || text.contains("birth") || text.contains("dob") || text.contains("geboren") || text.contains("né ") || text.contains("née ")
    }

    static func validSSN(_ d: [Int]) -> Bool {
        guard d.count == 9 else { return false }
        let area = d[0] * 100 + d[1] * 10 + d[2], group = d[3] * 10 + d[4], serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8]
        return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
    }

    static func luhn(_ d: [Int]) -> Bool {
        var sum = 0
        for (k, digit) in d.reversed().enumerated() {
            if k % 2 == 1 { let x = digit * 2; sum += x > 9 ? x - 9 : x } else { sum += digit }
        }
        return sum % 10 == 0
    }

    /// Visa 4; Mastercard 51–55, 2221–2720; Amex 34, 37; Discover 6011, 65, 644–649; Diners 36, 300–305; JCB 3528–3589; UnionPay 62.
    static func cardPrefix(_ d: [Int]) -> Bool {
        let p2 = d[0] * 10 + d[1], p3 = p2 * 10 + d[2], p4 = p3 * 10 + d[3]
        switch d[0] {
        case 4: return true
        case 5: return p2 >= 51 && p2 <= 55
        case 2: return p4 >= 2221 && p4 <= 2720
        case 3: return p2 == 34 || p2 == 37 || p2 == 36 || (p3 >= 300 && p3 <= 305) || (p4 >= 3528 && p4 <= 3589)
        case 6: return p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || p2 == 62
        default: return false
        }
    }

    // MARK: IBAN

    /// IBAN lengths by country (SWIFT's registry, the countries most data holds).
    static let ibanLengths: [String: Int] = [
        "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18,
        "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
        "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
        "AE": 23, "SA": 24, "IL": 23, "BR": 29, "MU": 30, "UA": 29, "QA": 29, "KW": 30, "JO": 30, "EG": 29,
    ]

    static func ibans(_ b: UnsafeRawBufferPointer, taken: [Bool], _ mark: (PIIKind, Int, Int) -> Void) {
        let n = b.count
        var i = 0
        while i + 4 <= n {
            guard isUpper(b[i]), isUpper(b[i + 1]), isDigit(b[i + 2]), isDigit(b[i + 3]), i == 0 || !isAlnum(b[i - 1]), !taken[i],
                  let length = ibanLengths[String(decoding: [b[i], b[i + 1]], as: UTF8.self)] else { i += 1; continue }
            var chars: [UInt8] = [], j = i, end = i
            while j < n && chars.count < length {
                if isDigit(b[j]) || isUpper(b[j]) { chars.append(b[j]); j += 1; end = j; continue }
                if b[j] == 0x20 && j + 1 < n && (isDigit(b[j + 1]) || isUpper(b[j + 1])) { j += 1; continue }
                break
            }
            if chars.count == length, end >= n || !isAlnum(b[end]), mod97(chars) == 1 {
                mark(.iban, i, end)
                i = end
            } else {
                i += 1
            }
        }
    }

    /// The IBAN check: the first four characters moved to the end, letters as 10…35, the number mod 97.
    static func mod97(_ chars: [UInt8]) -> Int {
        var r = 0
        for c in chars[4...] + chars[..<4] {
            if isDigit(c) { r = (r * 10 + Int(c - 0x30)) % 97 } else { r = (r * 100 + Int(c - 0x41 + 10)) % 97 }
        }
        return r
    }

    // MARK: IPv6

    static func ipv6(_ b: UnsafeRawBufferPointer, taken: [Bool], _ mark: (PIIKind, Int, Int) -> Void) {
        let n = b.count
        func part(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c == 0x3A || c == 0x2E }
        var i = 0
        while i < n {
            guard part(b[i]), i == 0 || !(isAlnum(b[i - 1]) || b[i - 1] == 0x3A) else { i += 1; continue }
            var j = i, colons = 0
            while j < n && part(b[j]) { if b[j] == 0x3A { colons += 1 }; j += 1 }
            while j > i && b[j - 1] == 0x2E { j -= 1 }
            if colons >= 2, j - i >= 3, j - i <= 45, j >= n || !isAlnum(b[j]) {
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[i..<j]), as: UTF8.self)
                var address = in6_addr()
                if inet_pton(AF_INET6, text, &address) == 1 { mark(.ipv6, i, j) }
            }
            i = max(j, i + 1)
        }
    }

    // MARK: names

    static func names(_ b: UnsafeRawBufferPointer, column: Column, _ mark: (PIIKind, Int, Int) -> Void) {
        let n = b.count
        // Words: runs of letters (UTF-8 bytes above 0x7F count as letters), with their places.
        var words: [(start: Int, end: Int)] = []
        var i = 0
        while i < n {
            guard isAlpha(b[i]) || b[i] >= 0x80 else { i += 1; continue }
            var j = i
            while j < n && (isAlpha(b[j]) || b[j] >= 0x80 || (b[j] == 0x27 && j + 1 < n && isAlpha(b[j + 1]))) { j += 1 }
            words.append((i, j))
            i = j
        }
        func lower(_ w: (start: Int, end: Int)) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: b[w.start..<w.end]), as: UTF8.self).lowercased()
        }
        func capitalized(_ w: (start: Int, end: Int)) -> Bool { isUpper(b[w.start]) || b[w.start] >= 0xC3 }
        if column.holdsNames {
            for w in words where w.end - w.start >= 2 {
                let name = lower(w)
                if Names.given.contains(name) || Names.surnames.contains(name) { mark(.personName, w.start, w.end); return }
            }
            return
        }
        var k = 0
        while k + 1 < words.count {
            let first = words[k], second = words[k + 1]
            // Adjacent words: one space (or a hyphen-free gap of one byte) apart, both capitalized.
            guard capitalized(first), first.end - first.start >= 2, first.end - first.start <= 15, second.start == first.end + 1,
                  b[first.end] == 0x20, capitalized(second), second.end - second.start >= 2 else { k += 1; continue }
            let given = lower(first)
            guard Names.given.contains(given) else { k += 1; continue }
            let surname = lower(second)
            if Names.surnames.contains(surname) || (!Names.ambiguousGiven.contains(given) && !Names.given.contains(surname)) {
                mark(.personName, first.start, second.end)
                k += 2
            } else {
                k += 1
            }
        }
    }
}
