import Crypto
import Foundation
import Loam
import LoamFormat

/// Evaluates bound expressions on one row (its scanned cells and, after
/// grouping, its aggregate results) with SQL semantics: NULL propagates,
/// AND/OR are three-valued, integer overflow and division by zero are errors.
struct Evaluator: Sendable {
    let sql: String

    func error(_ message: String, at: Int) -> SQLError { SQLError(sql: sql, position: at, message: message) }

    func evaluate(_ e: BoundExpression, _ row: [Value], _ aggregates: [Value] = []) throws -> Value {
        switch e {
        case .column(let slot): return row[slot]
        case .literal(let v): return v
        case .aggregate(let slot): return aggregates[slot]
        case .negate(let inner):
            switch try evaluate(inner, row, aggregates) {
            case .int(let v): return v == .min ? .null : .int(-v)
            case .uint(let v): return v <= UInt64(Int64.max) ? .int(-Int64(v)) : .float(-Double(v))
            case .float(let d): return .float(-d)
            default: return .null
            }
        case .not(let inner):
            guard case .bool(let b) = try evaluate(inner, row, aggregates) else { return .null }
            return .bool(!b)
        case .and(let l, let r):
            let a = try evaluate(l, row, aggregates)
            if case .bool(false) = a { return .bool(false) }
            let b = try evaluate(r, row, aggregates)
            if case .bool(false) = b { return .bool(false) }
            if a.isNull || b.isNull { return .null }
            return .bool(true)
        case .or(let l, let r):
            let a = try evaluate(l, row, aggregates)
            if case .bool(true) = a { return .bool(true) }
            let b = try evaluate(r, row, aggregates)
            if case .bool(true) = b { return .bool(true) }
            if a.isNull || b.isNull { return .null }
            return .bool(false)
        case .compare(let op, let l, let r):
            let a = try evaluate(l, row, aggregates), b = try evaluate(r, row, aggregates)
            if a.isNull || b.isNull { return .null }
            let x = Self.comparable(a), y = Self.comparable(b)
            switch op {
            case "=": return .bool(!(x < y) && !(y < x))
            case "!=": return .bool(x < y || y < x)
            case "<": return .bool(x < y)
            case "<=": return .bool(!(y < x))
            case ">": return .bool(y < x)
            default: return .bool(!(x < y))
            }
        case .arithmetic(let op, let l, let r, let unsigned, let at):
            return try arithmetic(op, try evaluate(l, row, aggregates), try evaluate(r, row, aggregates), unsigned: unsigned, at: at)
        case .concat(let l, let r):
            let a = try evaluate(l, row, aggregates), b = try evaluate(r, row, aggregates)
            if a.isNull || b.isNull { return .null }
            return .string(Self.text(a) + Self.text(b))
        case .isNull(let inner, let negated):
            return .bool(try evaluate(inner, row, aggregates).isNull != negated)
        case .inList(let inner, let items, let negated):
            let v = try evaluate(inner, row, aggregates)
            if v.isNull { return .null }
            var sawNull = false
            for item in items {
                let candidate = try evaluate(item, row, aggregates)
                if candidate.isNull { sawNull = true; continue }
                let x = Self.comparable(v), y = Self.comparable(candidate)
                if !(x < y) && !(y < x) { return .bool(!negated) }
            }
            return sawNull ? .null : .bool(negated)
        case .like(let inner, let pattern, let insensitive, let negated):
            let v = try evaluate(inner, row, aggregates), p = try evaluate(pattern, row, aggregates)
            guard case .string(var text) = v, case .string(var glob) = p else { return .null }
            if insensitive { text = text.lowercased(); glob = glob.lowercased() }
            return .bool(Self.like(Array(text.unicodeScalars), Array(glob.unicodeScalars)) != negated)
        case .caseWhen(let branches, let otherwise):
            for (condition, result) in branches {
                if case .bool(true) = try evaluate(condition, row, aggregates) { return try evaluate(result, row, aggregates) }
            }
            return try otherwise.map { try evaluate($0, row, aggregates) } ?? .null
        case .cast(let inner, let type, let at):
            return try cast(try evaluate(inner, row, aggregates), to: type, at: at)
        case .function("coalesce", let arguments, _):  // lazy: later arguments run only when needed
            for argument in arguments {
                let value = try evaluate(argument, row, aggregates)
                if !value.isNull { return value }
            }
            return .null
        case .function(let name, let arguments, let at):
            let values = try arguments.map { try evaluate($0, row, aggregates) }
            return try function(name, values, at: at)
        case .list(let items):
            return .list(try items.map { try evaluate($0, row, aggregates) })
        case .lookup(let table, let keys):
            return table.answers[try keys.map { Self.hashKey(try evaluate($0, row, aggregates)) }] ?? table.missing
        case .element(let list, let index):
            guard case .list(let items) = try evaluate(list, row, aggregates), case .int(let i) = try evaluate(index, row, aggregates),
                  i >= 1, i <= items.count else { return .null }
            return items[Int(i) - 1]
        }
    }

    /// Booleans compare as 0/1 so they order with numbers.
    static func comparable(_ v: Value) -> Value { if case .bool(let b) = v { return .int(b ? 1 : 0) } else { return v } }

    /// A value as a hash key: equal under `=` means equal keys, so 2, 2.0 and true-as-1 hash alike.
    static func hashKey(_ v: Value) -> Value {
        switch comparable(v) {
        case .float(let d) where d.rounded() == d && abs(d) < 9.2e18: return .int(Int64(d))
        case .uint(let u) where u <= UInt64(Int64.max): return .int(Int64(u))
        case let other: return other
        }
    }

    static func text(_ v: Value) -> String {
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .float(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        default: return v.displayText
        }
    }

    /// Integers stay integers: int64 and uint64 operands are combined exactly (in 128 bits) and the
    /// result must fit the expression's type (uint64 when `unsigned`, else int64), or it is an error.
    /// Division truncates toward zero and the remainder takes the dividend's sign, as in DuckDB and PostgreSQL.
    private func arithmetic(_ op: String, _ a: Value, _ b: Value, unsigned: Bool, at: Int) throws -> Value {
        if a.isNull || b.isNull { return .null }
        if let x = Self.wide(a), let y = Self.wide(b) {
            let (result, overflow): (Int128, Bool)
            switch op {
            case "+": (result, overflow) = x.addingReportingOverflow(y)
            case "-": (result, overflow) = x.subtractingReportingOverflow(y)
            case "*": (result, overflow) = x.multipliedReportingOverflow(by: y)
            case "/":
                guard y != 0 else { throw error("division by zero", at: at) }
                (result, overflow) = x.dividedReportingOverflow(by: y)
            default:
                guard y != 0 else { throw error("division by zero", at: at) }
                (result, overflow) = x.remainderReportingOverflow(dividingBy: y)
            }
            if !overflow, unsigned, let u = UInt64(exactly: result) { return .uint(u) }
            if !overflow, !unsigned, let i = Int64(exactly: result) { return .int(i) }
            throw error("integer overflow: \(a.displayText) \(op) \(b.displayText) is outside \(unsigned ? "uint64" : "int64"); CAST an operand AS float64 for larger values", at: at)
        }
        guard let x = a.asDouble, let y = b.asDouble else { return .null }
        switch op {
        case "+": return .float(x + y)
        case "-": return .float(x - y)
        case "*": return .float(x * y)
        case "/":
            guard y != 0 else { throw error("division by zero", at: at) }
            return .float(x / y)
        default:
            guard y != 0 else { throw error("division by zero", at: at) }
            return .float(x.truncatingRemainder(dividingBy: y))
        }
    }

    /// An integer operand, widened so that int64 and uint64 combine without loss.
    private static func wide(_ v: Value) -> Int128? {
        switch v {
        case .int(let i): return Int128(i)
        case .uint(let u): return Int128(u)
        default: return nil
        }
    }

    /// `split_bucket(_rowid, seed, f1, f2, …)`: the split of a row from its id and the seed alone, so a row
    /// keeps its split when rows are appended or deleted (docs/SPLITS.md gives the function bit for bit:
    /// the Python loaders compute the same). NULL for a NULL id, and past the fractions' sum.
    static func splitBucket(_ a: [Value], at: Int, evaluator: Evaluator) throws -> Value {
        let fractions = try a.dropFirst(2).map { value -> Double in
            guard let f = value.asDouble, f >= 0, f <= 1 else { throw evaluator.error("split_bucket() takes fractions between 0 and 1", at: at) }
            return f
        }
        guard fractions.reduce(0, +) <= 1 + 1e-9 else { throw evaluator.error("split_bucket()'s fractions add up to more than 1", at: at) }
        guard let id = bits(a[0]) else { return .null }
        guard let seed = bits(a[1]) else { throw evaluator.error("split_bucket() takes a whole-number seed", at: at) }
        return SplitBucket.bucket(id: id, seed: seed, fractions: fractions).map { .string(SplitBucket.name($0, of: fractions.count)) } ?? .null
    }

    /// An integer's 64 bits (two's complement for negatives), for hashing.
    static func bits(_ v: Value) -> UInt64? {
        switch v {
        case .int(let i): return UInt64(bitPattern: i)
        case .uint(let u): return u
        default: return nil
        }
    }

    /// SQL LIKE: % any run, _ any one character.
    static func like(_ text: [Unicode.Scalar], _ pattern: [Unicode.Scalar]) -> Bool {
        var t = 0, p = 0, star = -1, mark = 0
        while t < text.count {
            if p < pattern.count && pattern[p] == "%" { star = p; mark = t; p += 1 }
            else if p < pattern.count && (pattern[p] == "_" || pattern[p] == text[t]) { t += 1; p += 1 }
            else if star >= 0 { p = star + 1; mark += 1; t = mark }
            else { return false }
        }
        while p < pattern.count && pattern[p] == "%" { p += 1 }
        return p == pattern.count
    }

    /// A value made to fit a column of `type` (as CAST would) for the scalar
    /// types; lists, structs and binary are taken as they are.
    func coerce(_ v: Value, to type: ArrowType, at: Int) throws -> Value {
        switch type {
        case .bool, .date32, .timestamp, .utf8, .largeUtf8: return try cast(v, to: type, at: at)
        case _ where type.isInteger || type.isFloatingPoint: return try cast(v, to: type, at: at)
        default: return v
        }
    }

    /// array_length, dot, cosine_distance, l2_distance over lists of numbers.
    private func vectorFunction(_ name: String, _ a: [Value], at: Int) throws -> Value? {
        func numbers(_ v: Value) throws -> [Double] {
            guard case .list(let items) = v else { throw error("\(name)() needs lists of numbers", at: at) }
            return try items.map { guard let d = $0.asDouble else { throw error("\(name)() needs lists of numbers, found \($0.displayText)", at: at) }; return d }
        }
        switch name {
        case "array_length":
            guard case .list(let items) = a[0] else { throw error("array_length() needs a list", at: at) }
            return .int(Int64(items.count))
        case "dot", "cosine_distance", "l2_distance":
            let x = try numbers(a[0]), y = try numbers(a[1])
            guard x.count == y.count else { throw error("\(name)() needs lists of equal length, got \(x.count) and \(y.count)", at: at) }
            var dot = 0.0, nx = 0.0, ny = 0.0, l2 = 0.0
            for i in 0..<x.count { dot += x[i] * y[i]; nx += x[i] * x[i]; ny += y[i] * y[i]; l2 += (x[i] - y[i]) * (x[i] - y[i]) }
            switch name {
            case "dot": return .float(dot)
            case "l2_distance": return .float(l2.squareRoot())
            default: return nx == 0 || ny == 0 ? .null : .float(1 - dot / (nx.squareRoot() * ny.squareRoot()))
            }
        default: return nil
        }
    }

    /// date_trunc('year'|'month'|'day'|'hour'|'minute'|'second', d) and date_part(part, d) for dates (days) and
    /// timestamps of any unit (the binder appends the ticks per second, 0 for dates).
    private func datePart(_ name: String, _ a: [Value], at: Int) throws -> Value {
        guard case .string(let rawPart) = a[0], case .int(let raw) = a[1], case .int(let perSecond) = a[2] else {
            throw error("\(name)('part', date or timestamp)", at: at)
        }
        let part = rawPart.lowercased()
        let isDate = perSecond == 0  // the binder passes ticks per second; 0 means days
        var seconds = isDate ? raw * 86_400 : raw / perSecond
        if !isDate && raw < 0 && raw % perSecond != 0 { seconds -= 1 }
        var days = seconds / 86_400
        if seconds < 0 && seconds % 86_400 != 0 { days -= 1 }
        let secondOfDay = seconds - days * 86_400
        let (y, m, d) = CalendarMath.civil(days: Int(days))
        if name == "date_part" {
            switch part {
            case "year": return .int(Int64(y))
            case "month": return .int(Int64(m))
            case "day": return .int(Int64(d))
            case "hour": return .int(secondOfDay / 3600)
            case "minute": return .int(secondOfDay / 60 % 60)
            case "second": return .int(secondOfDay % 60)
            case "dow": return .int((days % 7 + 11) % 7)  // 1970-01-01 was a Thursday; Sunday = 0
            case "doy": return .int(days - Int64(CalendarMath.days(year: y, month: 1, day: 1)) + 1)
            case "epoch": return .int(seconds)
            default: throw error("unknown date part '\(rawPart)' (year, month, day, hour, minute, second, dow, doy, epoch)", at: at)
            }
        }
        let truncatedDays: Int64
        var keepSeconds: Int64 = 0
        switch part {
        case "year": truncatedDays = Int64(CalendarMath.days(year: y, month: 1, day: 1))
        case "month": truncatedDays = Int64(CalendarMath.days(year: y, month: m, day: 1))
        case "day": truncatedDays = days
        case "hour": truncatedDays = days; keepSeconds = secondOfDay / 3600 * 3600
        case "minute": truncatedDays = days; keepSeconds = secondOfDay / 60 * 60
        case "second": truncatedDays = days; keepSeconds = secondOfDay
        default: throw error("unknown date_trunc unit '\(rawPart)' (year, month, day, hour, minute, second)", at: at)
        }
        if isDate {
            guard let day = Int32(exactly: truncatedDays) else { throw error("date_trunc('\(rawPart)') of this date is before the first date a date32 holds", at: at) }
            return .int(Int64(day))
        }
        guard let ticks = Int64(exactly: (Int128(truncatedDays) * 86_400 + Int128(keepSeconds)) * Int128(perSecond)) else {
            throw error("date_trunc('\(rawPart)') of this timestamp is before the first one its unit holds", at: at)
        }
        return .int(ticks)
    }

    /// The matches of `regex` in `s` (the first only, when `first`), stopping the statement when
    /// one value makes the pattern backtrack for more than a quarter of a second (a pattern like
    /// `(x+x+)+y` is exponential in the length of the text) or the statement's deadline passes.
    private func boundedMatches(_ regex: NSRegularExpression, _ s: String, pattern: String, first: Bool, at: Int) throws -> [NSTextCheckingResult] {
        let started = ContinuousClock.now
        var found: [NSTextCheckingResult] = []
        var failure: Error?
        regex.enumerateMatches(in: s, options: [.reportProgress], range: NSRange(s.startIndex..., in: s)) { match, _, stop in
            if let match {
                found.append(match)
                if first { stop.pointee = true; return }
            }
            do {
                try StatementLimit.check()
                if ContinuousClock.now - started > .milliseconds(250) {
                    throw error("regular expression '\(pattern)' backtracked for more than 0.25 s on one value of \(s.utf8.count) bytes; "
                                + "rewrite it without nested repetition such as (x+)+", at: at)
                }
            } catch {
                failure = error
                stop.pointee = true
            }
        }
        if let failure { throw failure }
        return found
    }

    /// A date (days; ticks per second 0) or timestamp (ticks) in another of those units: exact,
    /// flooring toward the past when it drops precision, an error when the result leaves the type's range.
    private func retime(_ value: Int64, from: Value, to: Value, at: Int) throws -> Value {
        guard case .int(let a) = from, case .int(let b) = to else { throw error("internal: __retime needs two units", at: at) }
        let per = { (ticks: Int64) -> Int128 in ticks == 0 ? 1 : Int128(ticks) * 86_400 }  // units per day
        let source = per(a), target = per(b)
        var result = Int128(value) * target
        let (quotient, remainder) = result.quotientAndRemainder(dividingBy: source)
        result = quotient - (remainder < 0 ? 1 : 0)
        let limit: ClosedRange<Int128> = b == 0 ? Int128(Int32.min)...Int128(Int32.max) : Int128(Int64.min)...Int128(Int64.max)
        guard limit.contains(result) else {
            throw error("\(value) \(a == 0 ? "days" : "ticks") is out of range as a \(b == 0 ? "date" : "timestamp") (years ±5.8 million for dates, ±292,000 for microseconds)", at: at)
        }
        return .int(Int64(result))
    }

    func cast(_ v: Value, to type: ArrowType, at: Int) throws -> Value {
        if v.isNull { return .null }
        func fail() -> SQLError { error("cannot cast \(v.displayText) to \(type.name)", at: at) }
        if case .string(var text) = v {  // dates and timestamps from their ISO text
            if type == .date32 {
                guard let days = text.withUTF8({ CalendarMath.parseDate(UnsafeRawBufferPointer($0)) }) else { throw fail() }
                return .int(Int64(days))
            }
            if case .timestamp(let unit, _) = type {
                guard let ticks = text.withUTF8({ CalendarMath.parseTimestamp(UnsafeRawBufferPointer($0), perSecond: unit.perSecond) }) else { throw fail() }
                return .int(ticks)
            }
        }
        switch type {
        case _ where type.isInteger, .date32, .timestamp:
            switch v {
            case .int: return v
            case .uint(let u): guard let i = Int64(exactly: u) else { throw fail() }; return .int(i)
            case .float(let d):  // to the nearest, ties to even (as PostgreSQL and DuckDB)
                guard d.isFinite, abs(d) < 9.2e18 else { throw fail() }
                return .int(Int64(d.rounded(.toNearestOrEven)))
            case .bool(let b): return .int(b ? 1 : 0)
            case .string(let s):
                guard let i = Int64(s.trimmingCharacters(in: .whitespaces)) else { throw fail() }
                return .int(i)
            default: throw fail()
            }
        case .float32, .float64:
            switch v {
            case .string(let s): guard let d = Double(s.trimmingCharacters(in: .whitespaces)) else { throw fail() }; return .float(d)
            default: guard let d = v.asDouble else { throw fail() }; return .float(d)
            }
        case .bool:
            switch v {
            case .bool: return v
            case .int(let i): return .bool(i != 0)
            case .string(let s):
                switch s.lowercased() {
                case "true", "t", "yes", "1": return .bool(true)
                case "false", "f", "no", "0": return .bool(false)
                default: throw fail()
                }
            default: throw fail()
            }
        case .utf8, .largeUtf8: return .string(Self.text(v))
        default: throw error("CAST to \(type.name) is not supported yet", at: at)
        }
    }

    private func function(_ name: String, _ a: [Value], at: Int) throws -> Value {
        switch name {
        case "coalesce": return a.first { !$0.isNull } ?? .null
        case "nullif":
            let x = Self.comparable(a[0]), y = Self.comparable(a[1])
            return !a[0].isNull && !a[1].isNull && !(x < y) && !(y < x) ? .null : a[0]
        case "concat": return .string(a.filter { !$0.isNull }.map(Self.text).joined())
        case "now": return .int(Int64((Date().timeIntervalSince1970 * 1_000_000).rounded()))
        case "greatest", "least":  // NULLs are skipped, as in PostgreSQL
            let present = a.filter { !$0.isNull }.map(Self.comparable)
            return (name == "greatest" ? present.max() : present.min()) ?? .null
        case "struct_extract":
            guard case .structValue(let fields) = a[0], case .int(let i) = a[1], i >= 0, i < fields.count else { return .null }
            return fields[Int(i)]
        case "unnest":  // the executor turns the list into rows
            return a[0]
        case "random":  // (row id, seed): SplitMix64 as split_bucket, in its own stream so the two never line up
            guard let id = Self.bits(a[0]), let seed = Self.bits(a[1]) else { return .null }
            return .float(SplitBucket.unit(id: id, seed: seed ^ 0xD1B5_4A32_D192_ED03))
        case "split_bucket":
            return try Self.splitBucket(a, at: at, evaluator: self)
        case "hash":  // FNV-1a over the values' text: stable across runs and machines
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for value in a { for byte in Self.text(value).utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }; h = (h ^ 0xff) &* 0x100_0000_01b3 }
            return .uint(h)
        default: break
        }
        if a.contains(where: \.isNull) { return .null }
        if let vectorResult = try vectorFunction(name, a, at: at) { return vectorResult }
        switch (name, a[0]) {
        case ("exp", _), ("ln", _), ("pow", _), ("power", _):
            guard let x = a[0].asDouble else { throw error("\(name)() needs a number", at: at) }
            switch name {
            case "exp": return .float(Foundation.exp(x))
            case "ln": guard x > 0 || x.isNaN else { throw error("ln() of a number that is not positive", at: at) }; return .float(Foundation.log(x))
            default: guard let y = a[1].asDouble else { throw error("\(name)() needs numbers", at: at) }; return .float(Foundation.pow(x, y))
            }
        case ("split_part", .string(let s)):
            guard case .string(let delimiter) = a[1], case .int(let n) = a[2], n >= 1 else { throw error("split_part(text, delimiter, n ≥ 1)", at: at) }
            let parts = delimiter.isEmpty ? [s] : s.components(separatedBy: delimiter)
            return .string(Int(n) <= parts.count ? parts[Int(n) - 1] : "")
        case ("regexp_matches", .string(let s)), ("regexp_replace", .string(let s)):
            guard case .string(let pattern) = a[1] else { return .null }
            guard let compiled = CompiledPattern.named(pattern) else { throw self.error("invalid regular expression '\(pattern)'", at: at) }
            let regex = compiled.icu
            if name == "regexp_matches" {
                if let matched = compiled.automaton?.matches(s) { return .bool(matched) }
                return .bool(!(try boundedMatches(regex, s, pattern: pattern, first: true, at: at)).isEmpty)
            }
            guard case .string(let replacement) = a[2] else { return .null }
            var out = "", last = s.utf16.startIndex
            for match in try boundedMatches(regex, s, pattern: pattern, first: false, at: at) {
                let start = s.utf16.index(s.utf16.startIndex, offsetBy: match.range.location)
                out += String(s.utf16[last..<start])!
                out += regex.replacementString(for: match, in: s, offset: 0, template: replacement)
                last = s.utf16.index(start, offsetBy: match.range.length)
            }
            return .string(out + String(s.utf16[last...])!)
        case ("date_trunc", _), ("date_part", _):
            return try datePart(name, a, at: at)
        case ("__retime", .int(let value)):
            return try retime(value, from: a[1], to: a[2], at: at)
        case ("pii_kinds", .string(let s)), ("pii_mask", .string(let s)), ("pii_redact", .string(let s)), ("pii_hash", .string(let s)):
            guard let function = PIIFunctions.text[name] else {
                throw self.error("\(name)() comes with the governance module, which this program did not load (the loam CLI and server do)", at: at)
            }
            do { return try function(s).map(Value.string) ?? .null } catch { throw self.error("\(name)(): \(error)", at: at) }
        case ("md5", .string(let s)): return .string(Insecure.MD5.hash(data: Array(s.utf8)).map { String(format: "%02x", $0) }.joined())
        case ("sha256", .string(let s)): return .string(SHA256.hash(data: Array(s.utf8)).map { String(format: "%02x", $0) }.joined())
        case ("lower", .string(let s)): return .string(s.lowercased())
        case ("upper", .string(let s)): return .string(s.uppercased())
        case ("trim", .string(let s)): return .string(s.trimmingCharacters(in: .whitespaces))
        case ("length", .string(let s)): return .int(Int64(s.count))
        case ("length", .list(let items)): return .int(Int64(items.count))
        case ("substr", .string(let s)):
            guard case .int(let from) = a[1] else { throw error("substr() takes a whole-number start", at: at) }
            let chars = Array(s)
            // 1-based; a negative start counts from the end (-1 is the last character), as in DuckDB.
            let first = from < 0 ? Int64(chars.count) + from + 1 : from
            var last = Int64(chars.count) + 1  // one past, 1-based
            if a.count == 3 {
                guard case .int(let n) = a[2], n >= 0 else { throw error("substr() takes a non-negative length", at: at) }
                last = min(last, first.addingReportingOverflow(n).overflow ? last : first + n)
            }
            let start = Int(max(first, 1)) - 1, end = Int(last) - 1
            return .string(start < end ? String(chars[start..<end]) : "")
        case ("replace", .string(let s)):
            guard case .string(let old) = a[1], case .string(let new) = a[2] else { return .null }
            return .string(old.isEmpty ? s : s.replacingOccurrences(of: old, with: new))
        case ("abs", .int(let i)): return i == .min ? .null : .int(abs(i))
        case ("abs", .float(let d)): return .float(abs(d))
        case ("round", _), ("floor", _), ("ceil", _), ("sqrt", _):
            guard let d = a[0].asDouble else { throw error("\(name)() needs a number", at: at) }
            switch name {
            case "floor": if case .int = a[0] { return a[0] }; return .float(d.rounded(.down))
            case "ceil": if case .int = a[0] { return a[0] }; return .float(d.rounded(.up))
            case "sqrt": guard d >= 0 || d.isNaN else { throw error("sqrt() of a negative number", at: at) }; return .float(d.squareRoot())  // NaN in, NaN out
            default:
                // Digits beyond ±400 change nothing a double can hold (and must not trap converting).
                let places = a.count > 1 ? Int(max(-400, min(400, a[1].asDouble ?? 0))) : 0
                let scale = pow(10.0, Double(places))
                // More places than a double holds: nothing to round; fewer than any magnitude: 0.
                guard scale.isFinite, scale > 0 else { return .float(scale > 0 ? d : 0) }
                // Half away from zero, of the float's exact value: d·scale may round onto a tie (488.525·100 gives
                // 48852.5, yet 488.525 is stored as 488.52499…); the fused residual tells which side it was on.
                let product = d * scale
                var rounded = product.rounded(.toNearestOrAwayFromZero)
                let residual = fma(d, scale, -product)
                if abs(product - product.rounded(.towardZero)) == 0.5, residual != 0, (residual < 0) == (product > 0) {
                    rounded = product.rounded(.towardZero)
                }
                return .float(rounded / scale)
            }
        default:
            throw error("\(name)() does not take \(a[0].displayText)", at: at)
        }
    }
}
