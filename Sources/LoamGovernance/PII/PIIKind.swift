/// The kinds of personal data `PIIDetector` finds.
public enum PIIKind: String, Sendable, CaseIterable, Codable, Comparable {
    case email
    /// International (`+44 20 7946 0958`) and common national formats (`(415) 555-2671`, `020 7946 0958`, `06 12 34 56 78`).
    case phone
    /// 13–19 digits with a card network's prefix that pass the Luhn check.
    case creditCard = "credit_card"
    /// An IBAN of its country's length whose check digits pass mod-97.
    case iban
    /// A US Social Security number (`123-45-6789`, never area 000, 666 or 9xx, group 00 or serial 0000).
    case ssn
    case ipv4
    case ipv6
    /// A date in a column about birth, or after "born", "DOB", "date of birth" in text.
    case dateOfBirth = "date_of_birth"
    /// A given name from the shipped list followed by a capitalized word, or a listed name in a name column.
    case personName = "person_name"

    public static func < (a: PIIKind, b: PIIKind) -> Bool { a.rawValue < b.rawValue }
}

/// One piece of personal data in a value: its kind and its place (UTF-8 byte offsets, end exclusive).
public struct PIIFinding: Sendable, Equatable {
    public let kind: PIIKind
    public let start: Int
    public let end: Int
}
