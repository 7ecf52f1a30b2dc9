import Crypto
import Foundation
import Loam
import LoamFormat
import LoamStorage
import LoamTable

/// How a column's values are anonymized.
public enum Anonymization: Sendable, Equatable {
    /// Each piece of personal data found in a text becomes `*`s, keeping an email's first letter and domain and
    /// the last 4 digits of cards, phones, IBANs and SSNs; with `whole`, every value becomes `*`s.
    case mask(whole: Bool)
    /// Each piece found becomes its kind in brackets (`[EMAIL]`); with `whole`, every value becomes NULL.
    case redact(whole: Bool)
    /// Each value becomes the first 32 hex digits of HMAC-SHA256 under the key: equal values stay equal, so joins still work.
    case hash(key: [UInt8])
    /// Numbers to the lower bound of their `bucket`; dates to the first day of their month or year; texts to their first `prefix` characters and `*`.
    case generalize(bucket: Double?, datePart: DatePart?, prefix: Int?)
    /// Each value becomes a made-up one of its kind (name, email, phone), the same for the same value under the key.
    case fake(kind: PIIKind, key: [UInt8])

    public enum DatePart: String, Sendable { case month, year }
}

/// Anonymizes one column of a dataset as one commit: every live row is rewritten (rows keep their `_rowid`),
/// so the current branch no longer holds the originals. Older commits still do; erasing them from history is
/// `loam erase` (coming with the rest of the governance issue).
public struct Anonymizer: Sendable {
    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    @discardableResult
    public func anonymize(_ dataset: String, column: String, with method: Anonymization, message: String? = nil) async throws -> (commit: ObjectID, rows: Int) {
        let ds = try await repository.dataset(dataset)
        guard let index = ds.schema.fields.firstIndex(where: { $0.name == column }) else {
            throw LoamError.invalidArgument("no column '\(column)' in '\(dataset)' (columns: \(ds.schema.fields.map(\.name).joined(separator: ", ")))")
        }
        let type = ds.schema.fields[index].type
        let isText = type == .utf8 || type == .largeUtf8
        switch method {
        case .mask, .redact, .hash, .fake:
            guard isText else { throw LoamError.invalidArgument("'\(column)' is \(type.name); mask, redact, hash and fake apply to text columns (generalize numbers and dates)") }
        case .generalize(let bucket, let part, let prefix):
            switch type {
            case .utf8, .largeUtf8: guard prefix != nil else { throw LoamError.invalidArgument("generalize a text column with --prefix N") }
            case .date32, .timestamp: guard part != nil else { throw LoamError.invalidArgument("generalize a date column with --to month or --to year") }
            default:
                guard type.isInteger || type == .float64 || type == .float32, let bucket, bucket > 0 else {
                    throw LoamError.invalidArgument("generalize a number column with --bucket N (N > 0)")
                }
            }
        }
        let detector = PIIDetector.Column(name: column)
        let what: String
        switch method {
        case .mask: what = "mask"
        case .redact: what = "redact"
        case .hash: what = "hash (keyed)"
        case .generalize: what = "generalize"
        case .fake: what = "fake"
        }
        return try await repository.update(dataset, message: message ?? "Anonymize \(dataset).\(column): \(what)", matching: { entry, _ in
            let data = try await FragmentReader(objects: repository.objects).read(entry, schema: ds.manifest.schema, columnIDs: [])
            return (0..<data.liveCount).map { data.physical($0) }
        }, computing: { data, rows in
            let array = data.columns[index]
            let builder = ArrayBuilder(type: array.type)
            for r in rows {
                if array.isNull(r) { builder.appendNull(); continue }
                switch method {
                case .generalize(let bucket, let part, let prefix):
                    try Self.generalize(array, r, bucket: bucket, part: part, prefix: prefix, into: builder)
                default:
                    if let text = Self.apply(method, to: array.bytes(at: r), column: detector) {
                        var t = text
                        t.withUTF8 { builder.appendBytes(UnsafeRawBufferPointer($0)) }
                    } else {
                        builder.appendNull()
                    }
                }
            }
            return [index: builder.finish()]
        })
    }

    /// One text value anonymized (nil: NULL).
    public static func apply(_ method: Anonymization, to bytes: UnsafeRawBufferPointer, column: PIIDetector.Column = .plain) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        switch method {
        case .mask(let whole):
            if whole { return String(repeating: "*", count: text.count) }
            return replaced(bytes, column: column) { kind, piece in mask(piece, kind) }
        case .redact(let whole):
            if whole { return nil }
            return replaced(bytes, column: column) { kind, _ in "[" + kind.rawValue.uppercased() + "]" }
        case .hash(let key):
            return hmac(key, text)
        case .fake(let kind, let key):
            return fake(kind, seed: hmac(key, text))
        case .generalize:
            return text
        }
    }

    /// The text with each piece of personal data replaced, right to left so byte offsets stay valid.
    static func replaced(_ bytes: UnsafeRawBufferPointer, column: PIIDetector.Column, _ with: (PIIKind, String) -> String) -> String {
        var out = Array(bytes)
        var findings = PIIDetector.findings(in: bytes, column: column).sorted { $0.start > $1.start }
        // Overlapping findings (a name inside an email): keep the outer, earlier-listed one.
        var kept: [PIIFinding] = []
        for f in findings where !kept.contains(where: { f.start < $0.end && $0.start < f.end }) { kept.append(f) }
        findings = kept.sorted { $0.start > $1.start }
        for f in findings {
            let piece = String(decoding: out[f.start..<f.end], as: UTF8.self)
            out.replaceSubrange(f.start..<f.end, with: Array(with(f.kind, piece).utf8))
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func mask(_ piece: String, _ kind: PIIKind) -> String {
        switch kind {
        case .email:
            guard let at = piece.firstIndex(of: "@") else { return String(repeating: "*", count: piece.count) }
            let local = piece[..<at]
            return String(local.prefix(1)) + String(repeating: "*", count: max(0, local.count - 1)) + piece[at...]
        case .creditCard, .phone, .iban, .ssn:
            // Keep the last four letters and digits, and the separators, so the shape stays readable.
            var keep = 4
            return String(piece.reversed().map { c -> Character in
                guard c.isLetter || c.isNumber else { return c }
                if keep > 0 { keep -= 1; return c }
                return "*"
            }.reversed())
        default:
            return String(piece.map { $0.isLetter || $0.isNumber ? "*" : $0 })
        }
    }

    static func hmac(_ key: [UInt8], _ text: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key))
        return code.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    static func fake(_ kind: PIIKind, seed hex: String) -> String {
        let n = Int(hex.prefix(12), radix: 16) ?? 0
        let given = Names.given.sorted(), surnames = Names.surnames.sorted()
        func cap(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
        switch kind {
        case .personName: return cap(given[n % given.count]) + " " + cap(surnames[(n / given.count) % surnames.count])
        case .email: return "\(given[n % given.count]).\(surnames[(n / given.count) % surnames.count])@example.invalid"
        case .phone: return String(format: "+1 555 01%02d %04d", n % 100, (n / 100) % 10_000)  // 555-01xx: reserved for fiction
        default: return "anon-" + hex.prefix(12)
        }
    }

    static func generalize(_ array: ArrowArray, _ r: Int, bucket: Double?, part: Anonymization.DatePart?, prefix: Int?, into builder: ArrayBuilder) throws {
        switch array.value(at: r) {
        case .string(let s):
            let keep = s.prefix(prefix ?? 0)
            try builder.append(.string(keep + String(repeating: "*", count: max(0, s.count - keep.count))))
        case .int(let i):
            if case .date32 = array.type {
                try builder.append(.int(Int64(CalendarDays.start(of: part ?? .month, days: Int(i)))))
            } else if case .timestamp(let unit, _) = array.type {
                let perDay: Int64 = [TimeUnit.second: 86_400, .millisecond: 86_400_000, .microsecond: 86_400_000_000, .nanosecond: 86_400_000_000_000][unit]!
                let day = Int(i >= 0 ? i / perDay : (i - perDay + 1) / perDay)
                try builder.append(.int(Int64(CalendarDays.start(of: part ?? .month, days: day)) * perDay))
            } else {
                let b = Int64(bucket ?? 1)
                try builder.append(.int(i >= 0 ? i / b * b : (i - b + 1) / b * b))
            }
        case .uint(let u):
            let b = UInt64(bucket ?? 1)
            try builder.append(.uint(u / b * b))
        case .float(let d):
            let b = bucket ?? 1
            try builder.append(.float((d / b).rounded(.down) * b))
        default:
            try builder.append(array.value(at: r))
        }
    }
}

/// Days since 1970-01-01 to the first day of their month or year (proleptic Gregorian, UTC).
enum CalendarDays {
    static func start(of part: Anonymization.DatePart, days: Int) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: Double(days) * 86_400)
        var parts = calendar.dateComponents([.year, .month], from: date)
        if part == .year { parts.month = 1 }
        parts.day = 1
        return Int((calendar.date(from: parts)!.timeIntervalSince1970 / 86_400).rounded())
    }
}
