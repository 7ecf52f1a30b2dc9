/// Dates and timestamps to and from text, without Foundation's formatters
/// (proleptic Gregorian calendar, UTC).
public enum CalendarMath {
    /// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func digits(_ b: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int? {
        guard at + count <= b.count else { return nil }
        var v = 0
        for k in at..<(at + count) {
            let d = Int(b[k]) - 48
            guard d >= 0 && d <= 9 else { return nil }
            v = v * 10 + d
        }
        return v
    }

    /// `YYYY-MM-DD` → days since the epoch.
    public static func parseDate(_ b: UnsafeRawBufferPointer) -> Int? {
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let y = digits(b, 0, 4), let m = digits(b, 5, 2), let d = digits(b, 8, 2),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        return days(year: y, month: m, day: d)
    }

    /// `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH:MM]` → ticks of `unit` since the epoch, UTC.
    public static func parseTimestamp(_ b: UnsafeRawBufferPointer, perSecond: Int64) -> Int64? {
        guard b.count >= 16, let date = parseDate(UnsafeRawBufferPointer(rebasing: b[0..<10])),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "),
              let hh = digits(b, 11, 2), b[13] == UInt8(ascii: ":"), let mm = digits(b, 14, 2), hh < 24, mm < 60 else { return nil }
        var i = 16
        var ss = 0
        var fraction: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ":") {
            guard let s = digits(b, i + 1, 2), s < 61 else { return nil }
            ss = s
            i += 3
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                var scale = perSecond
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    scale /= 10
                    fraction += Int64(b[i] - 48) * scale
                    i += 1
                }
            }
        }
        var offsetSeconds = 0
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                guard let oh = digits(b, i + 1, 2) else { return nil }
                var om = 0
                var end = i + 3
                if end < b.count, b[end] == UInt8(ascii: ":") { end += 1 }
                if let m = digits(b, end, 2) { om = m; end += 2 }
                offsetSeconds = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
                i = end
            }
        }
        guard i == b.count else { return nil }
        let seconds = Int64(date) * 86400 + Int64(hh * 3600 + mm * 60 + ss - offsetSeconds)
        let (ticks, overflow) = seconds.multipliedReportingOverflow(by: perSecond)
        return overflow ? nil : ticks + fraction
    }

    static func formatDate(days: Int) -> String {
        let (y, m, d) = civil(days: days)
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    static func formatTimestamp(_ ticks: Int64, perSecond: Int64) -> String {
        var seconds = ticks / perSecond
        var fraction = ticks % perSecond
        if fraction < 0 { fraction += perSecond; seconds -= 1 }
        var dayCount = seconds / 86400
        var rest = seconds % 86400
        if rest < 0 { rest += 86400; dayCount -= 1 }
        var text = formatDate(days: Int(dayCount)) + "T" + pad(Int(rest / 3600), 2) + ":" + pad(Int(rest / 60 % 60), 2) + ":" + pad(Int(rest % 60), 2)
        if perSecond > 1 && fraction != 0 {
            let width = String(perSecond).count - 1
            text += "." + pad(Int(fraction), width)
        }
        return text
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(abs(v))
        return (v < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - s.count)) + s
    }
}

import LoamFormat

extension TimeUnit {
    /// Ticks per second.
    public var perSecond: Int64 {
        switch self {
        case .second: return 1
        case .millisecond: return 1_000
        case .microsecond: return 1_000_000
        case .nanosecond: return 1_000_000_000
        }
    }
}
